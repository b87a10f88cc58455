"""API tokens as administrators see them (never their secret, which is shown once, at creation)."""

import datetime as dt
from enum import Enum
from typing import Self

import strawberry

from omniman_gql import models

from ..errors import UserError
from .node import Node


@strawberry.enum(description="What a token may do.")
class TokenRole(Enum):
    ADMIN = strawberry.enum_value("admin", description="Everything: channels, tokens, directives, prices, stock.")
    STAFF = strawberry.enum_value("staff", description="Every channel's sessions and orders, status transitions, "
                                                       "order events and fulfillments.")
    CLIENT = strawberry.enum_value("client", description="Open, modify, commit, resolve, abandon and import, and "
                                                         "read, on its channels only.")
    DISPLAY = strawberry.enum_value("display", description="Read and subscribe, on its channels only.")


@strawberry.type(description="An API token. Its secret was shown once, when it was created; only a hash is kept.")
class ApiToken(Node):
    row_id: strawberry.Private[int]
    name: str = strawberry.field(description="The name recorded as `actor` on the events the token causes.")
    role: TokenRole = strawberry.field(description="What it may do.")
    channels: list[str] = strawberry.field(description="The channels a client or display token may touch; empty "
                                                       "for admin and staff tokens, which see every channel.")
    prefix: str = strawberry.field(description="The secret's first characters, to tell tokens apart.")
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    revoked_at: dt.datetime | None = strawberry.field(description="When it was revoked; null while it works.")

    def node_key(self) -> tuple[str, ...]:
        return (str(self.row_id),)

    @classmethod
    def from_model(cls, row: models.ApiToken) -> Self:
        return cls(row_id=row.id, name=row.name, role=TokenRole(row.role), channels=list(row.channels),
                   prefix=row.prefix, created_at=row.created_at, revoked_at=row.revoked_at)


@strawberry.type(description="Result of createToken.")
class CreateTokenPayload:
    token: ApiToken | None = strawberry.field(default=None, description="The new token.")
    secret: str | None = strawberry.field(default=None, description="The token itself, shown this once only: send it "
                                                                    "as `Authorization: Bearer <secret>`.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Expected failures; empty on "
                                                                                 "success.")


@strawberry.type(description="Result of revokeToken.")
class TokenPayload:
    token: ApiToken | None = strawberry.field(default=None, description="The token, now revoked.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Expected failures; empty on "
                                                                                 "success.")
