"""Input of createToken."""

from typing import Any

import strawberry

from ..types.token import TokenRole


@strawberry.input(description="A new API token.")
class CreateTokenInput:
    name: str = strawberry.field(description="Who uses it (a till, a kitchen screen, a person); recorded as `actor` "
                                             "on the events it causes.")
    role: TokenRole = strawberry.field(description="What it may do.")
    channels: list[str] | None = strawberry.field(default=None, description="The channels it may touch: required "
                                                  "for CLIENT and DISPLAY, refused for ADMIN and STAFF.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "channels": list(self.channels or ())}
