"""The shipped validators: pure pass/fail gates for the draft, commit and import stages."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ErrorCode, OmnimanError
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
                         context={"line_id": line["line_id"], "sku": line["sku"]})
            for line in draft.items
            if line.get("unit_price_q") is None
        ]
