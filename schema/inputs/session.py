"""Inputs of session mutations, including the `@oneOf` op input."""

import decimal
from typing import Any

import strawberry

from ..scalars import JSON


@strawberry.input(description="Open a session, or get the open one of a handle (get-or-open).")
class OpenSessionInput:
    channel_code: str = strawberry.field(description="The channel.")
    session_key: str | None = strawberry.field(default=None, description="Your key; generated (`SESS-…`) if absent.")
    handle_type: str | None = strawberry.field(default=None, description="Business handle type, e.g. `table`.")
    handle_ref: str | None = strawberry.field(default=None, description="Business handle reference, e.g. `5`.")
    data: JSON | None = strawberry.field(default=None, description="Initial business data (customer, notes…).")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "session_key": self.session_key, "handle_type": self.handle_type,
                "handle_ref": self.handle_ref, "data": self.data}


@strawberry.input(description="Add a line.")
class AddLineInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    qty: decimal.Decimal = strawberry.field(description='Quantity > 0, at most 3 decimal places, e.g. "2".')
    unit_price_q: int | None = strawberry.field(
        default=None, description="Unit price in minor units; required in EXTERNAL channels, else priced by the hub.")
    name: str | None = strawberry.field(default=None, description="Line name.")
    meta: JSON | None = strawberry.field(default=None, description="Free-form line metadata (a JSON object).")


@strawberry.input(description="Name an existing line.")
class LineRefInput:
    line_id: str = strawberry.field(description="The line's id, `L-…`.")


@strawberry.input(description="Change a line's quantity.")
class SetQtyInput:
    line_id: str = strawberry.field(description="The line's id.")
    qty: decimal.Decimal = strawberry.field(description="New quantity > 0.")


@strawberry.input(description="Put another SKU on a line, keeping its quantity.")
class ReplaceSkuInput:
    line_id: str = strawberry.field(description="The line's id.")
    sku: str = strawberry.field(description="The new SKU.")
    unit_price_q: int | None = strawberry.field(default=None, description="Its unit price (required in EXTERNAL).")
    name: str | None = strawberry.field(default=None, description="Line name.")
    meta: JSON | None = strawberry.field(default=None, description="Replaces the line's metadata when given.")


@strawberry.input(description="Set (or clear, with a null value) business data at a dot path.")
class SetDataInput:
    path: str = strawberry.field(description="Dot path of at most 5 levels under an allowed root, e.g. "
                                             "`customer.name` (roots: customer delivery payment notes meta extra "
                                             "custom tags discounts fees tip coupon source operator table tab).")
    value: JSON | None = strawberry.field(default=None, description="The value; null removes the key.")


@strawberry.input(description="Fold one line into another of the same SKU (quantities add up).")
class MergeLinesInput:
    from_line_id: str = strawberry.field(description="The line that disappears.")
    into_line_id: str = strawberry.field(description="The line that receives the quantity.")


@strawberry.input(description="Name the session's customer (or clear it with a null code). On an internally priced "
                              "channel the lines the hub priced take the customer's price list.")
class SetCustomerInput:
    code: str | None = strawberry.field(default=None, description="Customer code; null clears the customer.")


OP_FIELDS = ("add_line", "remove_line", "set_qty", "replace_sku", "set_data", "merge_lines", "set_customer")


@strawberry.input(one_of=True, description="One op: exactly one field set.")
class SessionOpInput:
    add_line: AddLineInput | None = strawberry.field(default=strawberry.UNSET, description="Add a line.")
    remove_line: LineRefInput | None = strawberry.field(default=strawberry.UNSET, description="Remove a line.")
    set_qty: SetQtyInput | None = strawberry.field(default=strawberry.UNSET, description="Change a quantity.")
    replace_sku: ReplaceSkuInput | None = strawberry.field(default=strawberry.UNSET, description="Change a SKU.")
    set_data: SetDataInput | None = strawberry.field(default=strawberry.UNSET, description="Set business data.")
    merge_lines: MergeLinesInput | None = strawberry.field(default=strawberry.UNSET, description="Merge two lines.")
    set_customer: SetCustomerInput | None = strawberry.field(
        default=strawberry.UNSET, description="Name the customer (errors: customer_not_found, customer_inactive).")

    def to_op(self) -> dict[str, Any]:
        """{"op": "set_qty", "line_id": …, "qty": …}: the shape the core's op parser takes."""
        for name in OP_FIELDS:
            body = getattr(self, name)
            if body is not strawberry.UNSET and body is not None:
                return {"op": name, **vars(body)}
        return {}  # unreachable: @oneOf guarantees one field; the core answers `unsupported_op` anyway


@strawberry.input(description="Apply ops to a session, atomically.")
class ModifySessionInput:
    channel_code: str = strawberry.field(description="The channel.")
    session_key: str = strawberry.field(description="The session.")
    ops: list[SessionOpInput] = strawberry.field(description="The ops, applied in order: all or none.")
    expected_rev: int | None = strawberry.field(
        default=None, description="If given and the session is at another rev, nothing changes (`stale_rev`).")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "session_key": self.session_key,
                "ops": [op.to_op() for op in self.ops], "expected_rev": self.expected_rev}


@strawberry.input(description="Carry out one suggested action of an issue.")
class ResolveIssueInput:
    channel_code: str = strawberry.field(description="The channel.")
    session_key: str = strawberry.field(description="The session.")
    issue_id: str = strawberry.field(description="The issue, `ISS-…`.")
    action_id: str = strawberry.field(description="The action, `ACT-…`.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "session_key": self.session_key, "issue_id": self.issue_id,
                "action_id": self.action_id}


@strawberry.input(description="Seal a session into an order.")
class CommitSessionInput:
    channel_code: str = strawberry.field(description="The channel.")
    session_key: str = strawberry.field(description="The session.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Send one and retry with the same one: a key commits at most once (scoped per "
                                  "channel). Generated when absent, which gives up safe retries.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "session_key": self.session_key,
                "idempotency_key": self.idempotency_key}


@strawberry.input(description="Name a session.")
class SessionRefInput:
    channel_code: str = strawberry.field(description="The channel.")
    session_key: str = strawberry.field(description="The session.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "session_key": self.session_key}
