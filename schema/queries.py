"""Query: thin resolvers over the read services and the dataloaders."""

import datetime as dt
from typing import Annotated

import strawberry

from omniman_gql.domain.limits import MAX_INT_ROW_ID
from omniman_gql.errors import OmnimanError
from omniman_gql.services import auth, catalog, channels, customers, reads

from .context import Info
from .errors import ClientError
from .nodes import resolve_node
from .permissions import Action, authorize, sees, visible_channels
from .types.catalog import Price, StockLevel
from .types.channel import Channel
from .types.customer import Customer
from .types.directive import Directive, DirectiveStatus
from .types.node import Node
from .types.order import Order
from .types.pagination import Connection, check_first, decode_cursor
from .types.session import Session, SessionState
from .types.token import ApiToken

MAX_SKUS = catalog.MAX_BATCH
First = Annotated[int | None, strawberry.argument(description="Page size: 1 to the server's maximum (100 unless "
                                                         "configured); 25 when null.")]
After = Annotated[str | None, strawberry.argument(description="Continue after this cursor (`pageInfo.endCursor`).")]
ChannelCode = Annotated[str | None, strawberry.argument(description="Only this channel.")]
Skus = Annotated[list[str] | None, strawberry.argument(description="Only these SKUs (at most 1000); all when absent.")]


def _skus(skus: list[str] | None) -> list[str] | None:
    if skus is not None and len(skus) > MAX_SKUS:
        raise ClientError(f"At most {MAX_SKUS} SKUs per query.")
    return skus


@strawberry.type(description="Reads.")
class Query:
    @strawberry.field(description="The object with this global id (any type's `id`), with the rights of that "
                                  "type's own query; null if there is none or you may not see it. An id the hub "
                                  "could not have made is a BAD_USER_INPUT error.")
    async def node(self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(
            description="A global id, as the API returned it.")]) -> Node | None:
        return await resolve_node(info, str(id))

    @strawberry.field(description="Every channel you can see, by display order then code.")
    async def channels(self, info: Info) -> list[Channel]:
        authorize(info, Action.READ)
        rows = await channels.list_channels(info.context.hub)
        return [Channel.from_model(row) for row in rows if sees(info, row.code)]

    @strawberry.field(description="One channel; null if there is none (or you may not see it).")
    async def channel(self, info: Info, code: Annotated[str, strawberry.argument(description="Channel code.")]
                      ) -> Channel | None:
        authorize(info, Action.READ)
        row = await info.context.loaders.channel_by_code.load(code) if sees(info, code) else None
        return Channel.from_model(row) if row else None

    @strawberry.field(description="One session; null if there is none (or you may not see it).")
    async def session(self, info: Info,
                      channel_code: Annotated[str, strawberry.argument(description="The channel.")],
                      session_key: Annotated[str, strawberry.argument(description="The session key.")]
                      ) -> Session | None:
        authorize(info, Action.READ)
        if not sees(info, channel_code):
            return None
        row = await info.context.loaders.session_by_key.load((channel_code, session_key))
        return Session.from_model(row) if row else None

    @strawberry.field(description="Sessions, newest opened first.")
    async def sessions(self, info: Info, channel_code: ChannelCode = None,
                       state: Annotated[SessionState | None,
                                        strawberry.argument(description="Only this state.")] = None,
                       first: First = 25, after: After = None) -> Connection[Session]:
        authorize(info, Action.READ)
        page = await reads.session_page(
            info.context.hub, first=check_first(first, info.context.settings.max_page_size),
            after=decode_cursor(after, max_id=MAX_INT_ROW_ID), channel_codes=visible_channels(info, channel_code),
            state=state.value if state else None)
        return Connection.of(page, Session.from_model, lambda row: (row.opened_at, row.id))

    @strawberry.field(description="One order; null if there is none (or you may not see it).")
    async def order(self, info: Info, ref: Annotated[str, strawberry.argument(description="Order reference.")]
                    ) -> Order | None:
        authorize(info, Action.READ)
        row = await info.context.loaders.order_by_ref.load(ref)
        return Order.from_model(row) if row and sees(info, row.channel_code) else None

    @strawberry.field(description="Orders, newest first.")
    async def orders(self, info: Info, channel_code: ChannelCode = None,
                     status: Annotated[str | None, strawberry.argument(description="Only this status.")] = None,
                     created_after: Annotated[dt.datetime | None, strawberry.argument(
                         description="Only orders created at or after this time.")] = None,
                     created_before: Annotated[dt.datetime | None, strawberry.argument(
                         description="Only orders created before this time.")] = None,
                     customer_code: Annotated[str | None, strawberry.argument(
                         description="Only orders of this customer (named on the session at commit).")] = None,
                     first: First = 25, after: After = None) -> Connection[Order]:
        authorize(info, Action.READ)
        page = await reads.order_page(
            info.context.hub, first=check_first(first, info.context.settings.max_page_size),
            after=decode_cursor(after), channel_codes=visible_channels(info, channel_code), status=status,
            created_after=created_after, created_before=created_before, customer_code=customer_code)
        return Connection.of(page, Order.from_model, lambda row: (row.created_at, row.id))

    @strawberry.field(description="Directives (side effects), newest first. Admin only.")
    async def directives(self, info: Info,
                         topic: Annotated[str | None, strawberry.argument(description="Only this topic.")] = None,
                         status: Annotated[DirectiveStatus | None, strawberry.argument(
                             description="Only this status (e.g. FAILED, to find what needs a retry).")] = None,
                         first: First = 25, after: After = None) -> Connection[Directive]:
        authorize(info, Action.ADMIN)
        page = await reads.directive_page(
            info.context.hub, first=check_first(first, info.context.settings.max_page_size),
            after=decode_cursor(after), topic=topic, status=status.value if status else None)
        return Connection.of(page, Directive.from_model, lambda row: (None, row.id))

    @strawberry.field(description="API tokens, oldest first (admin). Their secrets are never shown again.")
    async def tokens(self, info: Info, include_revoked: Annotated[bool, strawberry.argument(
            description="Also list revoked tokens.")] = False) -> list[ApiToken]:
        authorize(info, Action.ADMIN)
        return [ApiToken.from_model(row) for row in await auth.list_tokens(info.context.hub,
                                                                           include_revoked=include_revoked)]

    @strawberry.field(description="Rows of the price table, by SKU, then channel and price list (rows for every "
                                  "channel and without a list first).")
    async def prices(self, info: Info, skus: Skus = None,
                     channel_code: Annotated[str | None, strawberry.argument(
                         description="Only the rows of this channel (\"\": the rows for every channel).")] = None,
                     price_list: Annotated[str | None, strawberry.argument(
                         description="Only the rows of this price list (\"\": the rows without a list).")] = None,
                     ) -> list[Price]:
        authorize(info, Action.READ_CATALOG)
        rows = await catalog.list_prices(info.context.hub, _skus(skus), channel_code=channel_code,
                                         price_list=price_list)
        return [Price.from_model(row) for row in rows]

    @strawberry.field(description="One customer; null if there is none. Staff and admin.")
    async def customer(self, info: Info, code: Annotated[str, strawberry.argument(description="Customer code.")]
                       ) -> Customer | None:
        authorize(info, Action.MANAGE_CUSTOMERS)
        found = await info.context.loaders.customer_by_code.load(code)
        return Customer.from_info(found) if found else None

    @strawberry.field(description="Customers, newest first, optionally matching `search`. Staff and admin.")
    async def customers(self, info: Info,
                        search: Annotated[str | None, strawberry.argument(
                            description="A fragment of the name (case and accents ignored), phone digits "
                                        "(formatting ignored: \"11 98765-4321\" finds \"(11) 98765 4321\"), an "
                                        "e-mail or a code.")] = None,
                        first: First = 25, after: After = None) -> Connection[Customer]:
        authorize(info, Action.MANAGE_CUSTOMERS)
        position = decode_cursor(after)
        try:
            rows, has_next = await customers.customer_page(
                info.context.hub, search=search, first=check_first(first, info.context.settings.max_page_size),
                after_id=position[1] if position else None)
        except OmnimanError as exc:
            raise ClientError(exc.message) from None
        return Connection.of(reads.Page(rows, has_next), Customer.from_info, lambda row: (None, row.id))

    @strawberry.field(description="Stock on hand, held and available, by SKU.")
    async def stock_levels(self, info: Info, skus: Skus = None) -> list[StockLevel]:
        authorize(info, Action.READ_CATALOG)
        return [StockLevel.from_row(row) for row in await catalog.stock_levels(info.context.hub, _skus(skus))]
