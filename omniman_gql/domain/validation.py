"""The shipped validators: pure pass/fail gates for the draft, commit and import stages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode, OmnimanError
from ..money import check_amount
from .draft import Draft


@dataclass(frozen=True, slots=True)
class LineCountValidator:
    """A session holds at most `max_lines` lines."""

    max_lines: int
    code: str = "line_count"
    stage: str = "draft"

    def validate(self, draft: Draft) -> list[OmnimanError]:
        if len(draft.items) <= self.max_lines:
            return []
        return [OmnimanError(ErrorCode.INVALID_INPUT, f"A session holds at most {self.max_lines} lines.",
                             field=("ops",), context={"max_lines": self.max_lines, "lines": len(draft.items)})]


@dataclass(frozen=True, slots=True)
class PricedLinesValidator:
    """Every line has a price, from the client or the price table: the hub never sells at an unknown price."""

    code: str = "priced_lines"
    stage: str = "draft"

    def validate(self, draft: Draft) -> list[OmnimanError]:
        return [
            OmnimanError(ErrorCode.MISSING_UNIT_PRICE_Q,
                         f"No price for SKU {line['sku']!r}: set it in the price table or send `unit_price_q`.",
                         field=draft.input_field(index, "unit_price_q"),
                         context={"line_id": line["line_id"], "sku": line["sku"]})
            for index, line in enumerate(draft.items)
            if line.get("unit_price_q") is None
        ]


@dataclass(frozen=True, slots=True)
class AmountBoundsValidator:
    """Line totals and the total fit MAX_QUANTUM (a GraphQL `Int`): amount_out_of_range against the op that made
    them, instead of an order no list can show."""

    code: str = "amount_bounds"
    stage: str = "draft"

    def validate(self, draft: Draft) -> list[OmnimanError]:
        return amount_errors(draft.items, (draft.pricing or {}).get("total_q"), line_field=draft.input_field,
                             total_field=draft.last_op_field())


def amount_errors(items: Sequence[Mapping[str, Any]], total_q: Any, *,
                  line_field: Callable[[int], tuple[str | int, ...]],
                  total_field: tuple[str | int, ...]) -> list[OmnimanError]:
    """One amount_out_of_range per line whose total is too large; else one for the total if that is."""
    errors = []
    for index, line in enumerate(items):
        try:
            check_amount(int(line.get("line_total_q") or 0), field=line_field(index),
                         what=f"The total of line {line['line_id']}",
                         context={"line_id": line["line_id"], "sku": line.get("sku")})
        except OmnimanError as exc:
            errors.append(exc)
    if not errors:
        try:
            check_amount(int(total_q or 0), field=total_field, what="The total")
        except OmnimanError as exc:
            errors.append(exc)
    return errors


PRICE_OVERRIDE_POLICIES = ("staff", "anyone", "never")
OVERRIDING_ROLES = frozenset({"staff", "admin", "system"})  # "system": the hub's own calls (CLI, demo, handlers)


@dataclass(frozen=True, slots=True)
class PriceOverrideValidator:
    """On an internally priced channel, a `unit_price_q` sent now that differs from the backend's price is allowed
    as the channel's `config.price_override` says: `staff` (default; staff, admin and the hub itself), `anyone`,
    `never`. Otherwise price_override_not_allowed."""

    code: str = "price_override"
    stage: str = "draft"

    def validate(self, draft: Draft) -> list[OmnimanError]:
        if draft.channel.external_pricing or not draft.priced:
            return []
        policy = draft.channel.config.get("price_override") or "staff"
        if policy == "anyone" or (policy == "staff" and draft.role in OVERRIDING_ROLES):
            return []
        errors = []
        for line in draft.items:
            origin = draft.priced.get(line["line_id"])
            quote = draft.prices.get(line["sku"])
            if origin is None or quote is None or quote.unit_price_q == line["unit_price_q"]:
                continue  # not priced now, nothing to override, or the backend's own price restated
            errors.append(OmnimanError(
                ErrorCode.PRICE_OVERRIDE_NOT_ALLOWED,
                f"The price of {line['sku']!r} on this channel is {quote.unit_price_q}; "
                + ("it allows no other." if policy == "never" else "only staff and admin tokens may set another."),
                field=("ops", *origin, "unit_price_q"),
                context={"line_id": line["line_id"], "sku": line["sku"], "given_q": line["unit_price_q"],
                         "backend_q": quote.unit_price_q, "policy": policy}))
        return errors
