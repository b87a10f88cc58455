"""Inputs of attachRef and detachRef."""

from typing import Any

import strawberry


@strawberry.input(description="A ref to attach: to an open session (`sessionKey`) or to an order (`orderRef`), "
                              "exactly one.")
class AttachRefInput:
    channel_code: str = strawberry.field(description="The channel.")
    type: str = strawberry.field(description="Ref type code, e.g. `TABLE`.")
    value: str = strawberry.field(description="The value (1 to 200 characters; trimmed and upper-cased).")
    session_key: str | None = strawberry.field(default=None, description="The open session to attach it to.")
    order_ref: str | None = strawberry.field(default=None, description="The order to attach it to.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "type_code": self.type, "value": self.value,
                "session_key": self.session_key, "order_ref": self.order_ref}


@strawberry.input(description="The active ref to detach, in the channel's current scope (today's business day for "
                              "a per-day type).")
class DetachRefInput:
    channel_code: str = strawberry.field(description="The channel.")
    type: str = strawberry.field(description="Ref type code.")
    value: str = strawberry.field(description="The value.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "type_code": self.type, "value": self.value}
