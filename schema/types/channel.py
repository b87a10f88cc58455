"""Channel: where orders come from, with its policies and status flow."""

from enum import Enum
from typing import Annotated, Self

import strawberry

from omniman_gql import models
from omniman_gql.errors import OmnimanError
from omniman_gql.services import console

from ..context import Info
from ..errors import ClientError
from ..permissions import Action, authorize
from ..scalars import JSON
from .console import ChannelRevision
from .node import Node


@strawberry.enum(description="Who prices the lines of a channel's sessions.")
class PricingPolicy(Enum):
    INTERNAL = strawberry.enum_value("internal", description="The hub prices lines the client sends without a price.")
    EXTERNAL = strawberry.enum_value("external", description="Every line carries its price; the hub never reprices.")


@strawberry.enum(description="Whether a channel's sessions can be changed with ops.")
class EditPolicy(Enum):
    OPEN = strawberry.enum_value("open", description="Sessions accept ops.")
    LOCKED = strawberry.enum_value("locked", description="Sessions reject every op (orders arrive whole, by import).")


@strawberry.type(description="Where orders come from (`pos`, `ecommerce`, `ifood`…), with its policies and flow.")
class Channel(Node):
    code: str = strawberry.field(description="Unique slug of the channel, e.g. `pos`.")
    name: str = strawberry.field(description="Display name.")
    pricing_policy: PricingPolicy = strawberry.field(description="Who prices lines.")
    edit_policy: EditPolicy = strawberry.field(description="Whether sessions accept ops.")
    currency: str = strawberry.field(description="ISO 4217 currency of the channel's orders, e.g. `BRL`.")
    display_order: int = strawberry.field(description="Sort key for operator screens (ascending).")
    is_active: bool = strawberry.field(description="Inactive channels accept no new sessions.")
    config: JSON = strawberry.field(
        description="Checks, post-commit directives, order flow, terminology… (snake_case keys, as stored).")

    @strawberry.field(description="Changes of its settings and config, newest first: who, when, before and after "
                                  "(through `upsertChannel` or `omniman channels apply`). Admin only.")
    async def history(self, info: Info, first: Annotated[int, strawberry.argument(
            description="How many, newest first: 1 to 100.")] = 25
                      ) -> list[ChannelRevision]:
        authorize(info, Action.ADMIN)
        try:
            rows = await console.channel_history(info.context.hub, channel_code=self.code, first=first)
        except OmnimanError as exc:
            raise ClientError(exc.message) from None
        return [ChannelRevision.from_model(row) for row in rows]

    def node_key(self) -> tuple[str, ...]:
        return (self.code,)

    @classmethod
    def from_model(cls, row: models.Channel) -> Self:
        return cls(code=row.code, name=row.name, pricing_policy=PricingPolicy(row.pricing_policy),
                   edit_policy=EditPolicy(row.edit_policy), currency=row.currency, display_order=row.display_order,
                   is_active=row.is_active, config=row.config or {})
