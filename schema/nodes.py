"""`node(id:)`: a global id back to its object, with exactly the rights of the typed query for that type."""

from collections.abc import Awaitable, Callable

from omniman_gql.domain.limits import MAX_INT_ROW_ID
from omniman_gql.services import auth, reads

from .context import Info
from .errors import ClientError
from .permissions import Action, authorize, sees
from .types.channel import Channel
from .types.customer import Customer
from .types.directive import Directive
from .types.fulfillment import Fulfillment
from .types.node import Node, parse_global_id
from .types.order import Order
from .types.session import Session
from .types.token import ApiToken

NOT_A_GLOBAL_ID = "Not a global id of this hub (take `id` from an object the API returned)."


def row_number(value: str, type_name: str) -> int | None:
    """The row id named by `value`: the type's global id or, as before global ids, the bare number; None if neither."""
    parsed = parse_global_id(value) if not value.isdigit() else (type_name, [value])
    if parsed is None or parsed[0] != type_name or len(parsed[1]) != 1:
        return None
    number = parsed[1][0]
    return int(number) if number.isdigit() and len(number) <= 18 and int(number) <= MAX_INT_ROW_ID else None


async def _channel(info: Info, code: str) -> Node | None:
    authorize(info, Action.READ)
    row = await info.context.loaders.channel_by_code.load(code) if sees(info, code) else None
    return Channel.from_model(row) if row else None


async def _session(info: Info, channel_code: str, session_key: str) -> Node | None:
    authorize(info, Action.READ)
    if not sees(info, channel_code):
        return None
    row = await info.context.loaders.session_by_key.load((channel_code, session_key))
    return Session.from_model(row) if row else None


async def _order(info: Info, ref: str) -> Node | None:
    authorize(info, Action.READ)
    row = await info.context.loaders.order_by_ref.load(ref)
    return Order.from_model(row) if row and sees(info, row.channel_code) else None


async def _fulfillment(info: Info, ref: str) -> Node | None:
    authorize(info, Action.READ)  # a fulfillment is read as part of its order: the order's rights
    found = await reads.fulfillment_by_ref(info.context.hub, ref)
    if found is None or not sees(info, found[0]):
        return None
    return Fulfillment.from_model(found[1], found[2])


async def _directive(info: Info, number: str) -> Node | None:
    authorize(info, Action.ADMIN)  # as `directives`
    row_id = row_number(number, "Directive")
    row = await reads.directive_by_id(info.context.hub, row_id) if row_id is not None else None
    return Directive.from_model(row) if row else None


async def _token(info: Info, number: str) -> Node | None:
    authorize(info, Action.ADMIN)  # as `tokens`
    row_id = row_number(number, "ApiToken")
    row = await auth.token_by_id(info.context.hub, row_id) if row_id is not None else None
    return ApiToken.from_model(row) if row else None


async def _customer(info: Info, code: str) -> Node | None:
    authorize(info, Action.MANAGE_CUSTOMERS)  # as `customer`
    found = await info.context.loaders.customer_by_code.load(code)
    return Customer.from_info(found) if found else None


# GraphQL type name -> (number of key parts, lookup)
RESOLVERS: dict[str, tuple[int, Callable[..., Awaitable[Node | None]]]] = {
    "Channel": (1, _channel), "Session": (2, _session), "Order": (1, _order), "Fulfillment": (1, _fulfillment),
    "Directive": (1, _directive), "ApiToken": (1, _token), "Customer": (1, _customer),
}


async def resolve_node(info: Info, value: str) -> Node | None:
    """The object `value` names, or None when there is none or the caller may not see it (as the typed queries
    answer); a value this hub could not have made is a top-level BAD_USER_INPUT error."""
    parsed = parse_global_id(value)
    spec = RESOLVERS.get(parsed[0]) if parsed else None
    if parsed is None or spec is None or len(parsed[1]) != spec[0]:
        authorize(info, Action.READ)  # who may not read learns nothing, not even that the id is malformed
        raise ClientError(NOT_A_GLOBAL_ID)
    return await spec[1](info, *parsed[1])
