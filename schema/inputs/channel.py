"""Inputs of channel mutations."""

from typing import Any

import strawberry

from ..scalars import JSON
from ..types.channel import EditPolicy, PricingPolicy


@strawberry.input(description="A channel to create, or the fields to change on an existing one (all but `code` "
                              "optional on update).")
class ChannelInput:
    code: str = strawberry.field(description="Unique slug: letters, digits, `-` and `_` (at most 64).")
    name: str | None = strawberry.field(default=None, description="Display name (defaults to the code).")
    pricing_policy: PricingPolicy | None = strawberry.field(default=None, description="Default INTERNAL.")
    edit_policy: EditPolicy | None = strawberry.field(default=None, description="Default OPEN.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217 code (default: the hub's).")
    display_order: int | None = strawberry.field(default=None, description="Sort key for operator screens.")
    is_active: bool | None = strawberry.field(default=None, description="Whether new sessions may be opened.")
    config: JSON | None = strawberry.field(
        default=None, description="A JSON merge patch (RFC 7396) of the stored config: keys given replace those "
                                  "keys, `null` removes one, keys not given stay. Known keys only: "
                                  "required_checks_on_commit, checks, post_commit_directives, order_flow, on_status, "
                                  "terminology, icon, notifications, price_override, restock_on_cancel, "
                                  "session_idle_ttl_minutes.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name,
                "pricing_policy": self.pricing_policy.value if self.pricing_policy else None,
                "edit_policy": self.edit_policy.value if self.edit_policy else None, "currency": self.currency,
                "display_order": self.display_order, "is_active": self.is_active, "config": self.config}
