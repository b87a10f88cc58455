"""The shipped validators: pure pass/fail gates for the draft, commit and import stages."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ErrorCode, OmnimanError
from ..money import MAX_QUANTUM
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
    """Line totals and the total fit MAX_QUANTUM: a clear error instead of an overflow in a client or the database."""

    code: str = "amount_bounds"
    stage: str = "draft"

    def validate(self, draft: Draft) -> list[OmnimanError]:
        errors = [
            OmnimanError(ErrorCode.INVALID_QTY,
                         f"Line {line['line_id']} totals {line['line_total_q']}, more than {MAX_QUANTUM}.",
                         field=draft.input_field(index, "qty"),
                         context={"line_id": line["line_id"], "line_total_q": line["line_total_q"],
                                  "max_q": MAX_QUANTUM})
            for index, line in enumerate(draft.items)
            if int(line.get("line_total_q") or 0) > MAX_QUANTUM
        ]
        total = int((draft.pricing or {}).get("total_q") or 0)
        if not errors and total > MAX_QUANTUM:
            errors.append(OmnimanError(ErrorCode.INVALID_QTY, f"The total {total} is more than {MAX_QUANTUM}.",
                                       field=("ops",), context={"total_q": total, "max_q": MAX_QUANTUM}))
        return errors
