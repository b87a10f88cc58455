"""Session: the mutable pre-commit state (cart, tab, draft), its lines, checks and issues."""

import datetime as dt
import decimal
from enum import Enum
from typing import Any, Self

import strawberry

from omniman_gql import models
from omniman_gql.domain.ops import CUSTOMER_KEY, WIRE_TO_FIELD, WIRE_TO_OP

from ..context import Info
from ..scalars import JSON
from .channel import Channel, EditPolicy, PricingPolicy
from .customer import Customer
from .node import Node
from .order import Order

OP_TO_WIRE = {op: wire for wire, op in WIRE_TO_OP.items()}
FIELD_TO_WIRE = {name: wire for wire, name in WIRE_TO_FIELD.items()}
SYSTEM_DATA_KEYS = ("checks", "issues")


def wire_op(op: Any) -> Any:
    """An op as `SessionOpInput` spells it: {"op": "set_qty", "line_id": …} → {"setQty": {"lineId": …}}."""
    if not isinstance(op, dict) or "op" not in op:
        return op
    fields = {FIELD_TO_WIRE.get(key, key): value for key, value in op.items() if key != "op"}
    return {OP_TO_WIRE.get(op["op"], op["op"]): fields}


@strawberry.enum(description="Where a session is: open, then committed or abandoned (never back).")
class SessionState(Enum):
    OPEN = strawberry.enum_value("open", description="Accepts ops and can be committed.")
    COMMITTED = strawberry.enum_value("committed", description="Sealed into an order.")
    ABANDONED = strawberry.enum_value("abandoned", description="Closed without an order.")


@strawberry.type(description="One line of a session.")
class SessionItem:
    line_id: str = strawberry.field(description="Line id, `L-…`, used by setQty, removeLine, replaceSku, mergeLines.")
    sku: str = strawberry.field(description="Stock keeping unit.")
    name: str = strawberry.field(description="Line name; may be empty.")
    qty: decimal.Decimal = strawberry.field(description="Quantity (> 0, at most 3 decimal places).")
    unit_price_q: int | None = strawberry.field(description="Unit price in minor units; null until priced.")
    line_total_q: int = strawberry.field(description="round_half_up(qty × unitPriceQ), in minor units.")
    meta: JSON = strawberry.field(description="Free-form metadata of the line.")

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> Self:
        return cls(line_id=line["line_id"], sku=line["sku"], name=line.get("name") or "",
                   qty=decimal.Decimal(str(line["qty"])), unit_price_q=line.get("unit_price_q"),
                   line_total_q=line.get("line_total_q") or 0, meta=line.get("meta") or {})


@strawberry.type(description="A suggested fix of an issue: ops to send back through `resolveIssue` (or modifySession).")
class IssueAction:
    id: str = strawberry.field(description="Action id, `ACT-…`.")
    label: str = strawberry.field(description="What it does, for humans (e.g. \"adjust to 2\").")
    rev: int | None = strawberry.field(description="The session rev it was made for; stale after any change.")
    ops: JSON = strawberry.field(description='Its ops in the `SessionOpInput` shape, e.g. [{"setQty": {…}}].')


@strawberry.type(description="A problem a check found in a session; blocking ones prevent commit.")
class Issue:
    id: str = strawberry.field(description="Issue id, `ISS-…`.")
    source: str = strawberry.field(description="The check that raised it (e.g. `stock`).")
    code: str = strawberry.field(description="What kind of problem (e.g. `stock.insufficient`).")
    blocking: bool = strawberry.field(description="Whether it prevents commit.")
    message: str = strawberry.field(description="For humans.")
    context: JSON = strawberry.field(description="Details (e.g. sku, requested, available), without the actions.")
    actions: list[IssueAction] = strawberry.field(description="Suggested fixes.")

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        context = dict(doc.get("context") or {})
        actions = context.pop("actions", None) or []
        return cls(id=str(doc.get("id", "")), source=str(doc.get("source", "")), code=str(doc.get("code", "")),
                   blocking=bool(doc.get("blocking")), message=str(doc.get("message", "")), context=context,
                   actions=[IssueAction(id=str(a.get("id", "")), label=str(a.get("label", "")), rev=a.get("rev"),
                                        ops=[wire_op(op) for op in a.get("ops") or []]) for a in actions])


@strawberry.type(description="A mutable pre-commit state (cart, table tab, draft), changed only through ops.")
class Session(Node):
    customer_code: strawberry.Private[str | None]
    session_key: str = strawberry.field(description="Unique key within the channel (`SESS-…` when generated).")
    channel_code: str = strawberry.field(description="Code of its channel.")
    handle_type: str | None = strawberry.field(description="Business handle type (e.g. `table`).")
    handle_ref: str | None = strawberry.field(description="Business handle reference (e.g. `5`).")
    state: SessionState = strawberry.field(description="open, committed or abandoned.")
    pricing_policy: PricingPolicy = strawberry.field(description="Copied from the channel when opened.")
    edit_policy: EditPolicy = strawberry.field(description="Copied from the channel when opened.")
    rev: int = strawberry.field(description="Revision: starts at 0, +1 on every modify (send it as `expectedRev`).")
    items: list[SessionItem] = strawberry.field(description="Its lines.")
    data: JSON = strawberry.field(description="Business data (customer, delivery, payment, notes…), without the "
                                              "system-managed `checks`, `issues` and customer (see `customer`).")
    checks: JSON = strawberry.field(description="Check results by code: {rev, at, result}.")
    issues: list[Issue] = strawberry.field(description="Problems found by checks.")
    total_q: int = strawberry.field(description="Sum of line totals, in minor units.")
    items_count: int = strawberry.field(description="Number of lines.")
    opened_at: dt.datetime = strawberry.field(description="When it was opened.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    committed_at: dt.datetime | None = strawberry.field(description="When it was committed.")

    def node_key(self) -> tuple[str, ...]:
        return (self.channel_code, self.session_key)

    @classmethod
    def from_model(cls, row: models.Session) -> Self:
        data = dict(row.data or {})
        checks = data.pop("checks", None) or {}
        issues = data.pop("issues", None) or []
        linked = data.pop(CUSTOMER_KEY, None)
        pricing = row.pricing or {}
        return cls(customer_code=linked.get("code") if isinstance(linked, dict) else None,
                   session_key=row.session_key, channel_code=row.channel_code, handle_type=row.handle_type,
                   handle_ref=row.handle_ref, state=SessionState(row.state),
                   pricing_policy=PricingPolicy(row.pricing_policy), edit_policy=EditPolicy(row.edit_policy),
                   rev=row.rev, items=[SessionItem.from_line(line) for line in row.items or []], data=data,
                   checks=checks, issues=[Issue.from_doc(issue) for issue in issues],
                   total_q=int(pricing.get("total_q") or 0), items_count=int(pricing.get("items_count") or 0),
                   opened_at=row.opened_at, updated_at=row.updated_at, committed_at=row.committed_at)

    @strawberry.field(description="Its channel.")
    async def channel(self, info: Info) -> Channel:
        row = await info.context.loaders.channel_by_code.load(self.channel_code)
        assert row is not None  # a foreign key guarantees it
        return Channel.from_model(row)

    @strawberry.field(description="The order it was committed into; null unless committed.")
    async def order(self, info: Info) -> Order | None:
        if self.state is not SessionState.COMMITTED:
            return None
        row = await info.context.loaders.order_by_session.load((self.channel_code, self.session_key))
        return Order.from_model(row) if row else None

    @strawberry.field(description="The customer `setCustomer` named; null when none.")
    async def customer(self, info: Info) -> Customer | None:
        if not self.customer_code:
            return None
        found = await info.context.loaders.customer_by_code.load(self.customer_code)
        return Customer.from_info(found) if found else None
