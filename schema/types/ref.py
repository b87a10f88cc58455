"""Ref and RefType: external locators (tables, tabs, pickup tickets, platform ids) and their hub-wide types."""

import datetime as dt
from typing import Any, Self

import strawberry

from omniman_gql.domain.refs import RefTypeSpec


@strawberry.type(description="A locator attached to a session or an order: unique within its channel and scope "
                             "while active.")
class Ref:
    type: str = strawberry.field(description="Ref type code, e.g. `TABLE`, `TAB`, `TICKET`, `EXTERNAL`.")
    value: str = strawberry.field(description="The value, trimmed and upper-cased (e.g. `5`, `ANA`, `007`).")
    scope: str = strawberry.field(description="Where the value is unique: `channel`, or the business day "
                                              "(`YYYY-MM-DD`) for a per-day type.")
    is_active: bool = strawberry.field(description="False once detached, or ended when its session closed.")
    created_at: dt.datetime = strawberry.field(description="When it was attached.")

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(type=row.ref_type, value=row.value, scope=row.scope_key or "channel", is_active=row.is_active,
                   created_at=row.created_at)


@strawberry.type(description="A hub-wide ref type: who holds it, where its values are unique, and what commit and "
                             "abandon do to it.")
class RefType:
    code: str = strawberry.field(description="Code, e.g. `TABLE`.")
    label: str = strawberry.field(description="Human label, e.g. `Table`.")
    target: str = strawberry.field(description="Who may hold it: `session`, `order` or `both`.")
    scope: str = strawberry.field(description="`channel` (unique per channel) or `business_day` (unique per channel "
                                              "and business day).")
    copy_to_order: bool = strawberry.field(description="A session's ref moves to its order at commit.")
    expires_on_close: bool = strawberry.field(description="Ends when its session commits or is abandoned.")

    @classmethod
    def from_spec(cls, spec: RefTypeSpec) -> Self:
        return cls(code=spec.code, label=spec.label, target=spec.target, scope=spec.scope,
                   copy_to_order=spec.copy_to_order, expires_on_close=spec.expires_on_close)
