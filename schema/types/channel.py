"""Channel: where orders come from, with its policies and status flow."""

from enum import Enum
from typing import Self

import strawberry

from omniman_gql import models

from ..scalars import JSON
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

    def node_key(self) -> tuple[str, ...]:
        return (self.code,)

    @classmethod
    def from_model(cls, row: models.Channel) -> Self:
        return cls(code=row.code, name=row.name, pricing_policy=PricingPolicy(row.pricing_policy),
                   edit_policy=EditPolicy(row.edit_policy), currency=row.currency, display_order=row.display_order,
                   is_active=row.is_active, config=row.config or {})
