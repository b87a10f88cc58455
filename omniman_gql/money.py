"""Money and quantity arithmetic: integer minor units, exact decimal quantities, half-up rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import ErrorCode, OmnimanError

QTY_PLACES = 3
QTY_DIGITS = 12
# Every amount (price, line total, total) is sent as a GraphQL `Int`, a signed 32-bit integer: a larger one stored
# would make every list that shows it unreadable, so none is ever computed, stored or accepted (amount_out_of_range).
MAX_QUANTUM = 2**31 - 1
MAX_QTY = Decimal(10) ** (QTY_DIGITS - QTY_PLACES) - Decimal("0.001")


def parse_qty(value: Any, *, field: tuple[str | int, ...] = ("qty",), allow_zero: bool = False) -> Decimal:
    """A quantity > 0 (or ≥ 0 with `allow_zero`, for stock levels) with at most 3 decimal places and 12 digits.

    Floats are refused: they are not exact, and 0.1 + 0.2 must never become 0.30000000000000004 of a kilo.
    """
    if isinstance(value, bool | float):
        raise OmnimanError(ErrorCode.INVALID_QTY, "Quantity must be a decimal string or an integer.", field=field,
                           context={"given_type": type(value).__name__})
    if value is None:
        raise OmnimanError(ErrorCode.INVALID_QTY, "Quantity is required.", field=field)
    if not isinstance(value, Decimal | int | str):
        raise OmnimanError(ErrorCode.INVALID_QTY, "Quantity must be a decimal string or an integer.", field=field,
                           context={"given_type": type(value).__name__})
    if isinstance(value, str) and len(value) > 64:
        raise OmnimanError(ErrorCode.INVALID_QTY, "Quantity is not a number.", field=field)
    try:
        qty = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise OmnimanError(ErrorCode.INVALID_QTY, f"Quantity {value!r} is not a number.", field=field) from None
    if not qty.is_finite():
        raise OmnimanError(ErrorCode.INVALID_QTY, "Quantity must be a finite number.", field=field)
    exponent = qty.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -QTY_PLACES and qty != qty.quantize(Decimal(1).scaleb(-QTY_PLACES)):
        raise OmnimanError(
            ErrorCode.INVALID_QTY, f"Quantity {value} has more than {QTY_PLACES} decimal places.", field=field
        )
    if qty < 0 or (qty == 0 and not allow_zero):
        raise OmnimanError(ErrorCode.INVALID_QTY, "Quantity must be greater than zero." if not allow_zero
                           else "Quantity may not be negative.", field=field, context={"given": str(value)[:64]})
    if qty > MAX_QTY:
        raise OmnimanError(ErrorCode.INVALID_QTY, f"Quantity must be at most {MAX_QTY}.", field=field)
    return normalize_qty(qty)


def normalize_qty(qty: Decimal) -> Decimal:
    """Canonical form: no exponent, no trailing zeros ("2.500" -> 2.5, "1E+1" -> 10, "-0" -> 0)."""
    normal = qty.quantize(Decimal(1).scaleb(-QTY_PLACES)).normalize()
    if normal == normal.to_integral_value():
        return normal.quantize(Decimal(1)) + 0  # `+ 0` turns -0 into 0
    return normal


def qty_str(qty: Decimal) -> str:
    """The string a quantity is stored and sent as."""
    return format(normalize_qty(qty), "f")


def parse_quantum(value: Any, *, field: tuple[str | int, ...] = ("unit_price_q",)) -> int:
    """A price in minor units: an integer between 0 and MAX_QUANTUM (above it: amount_out_of_range)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OmnimanError(ErrorCode.INVALID_PRICE, "A price must be an integer in minor units.", field=field)
    if value < 0:
        raise OmnimanError(ErrorCode.INVALID_PRICE, f"A price must be between 0 and {MAX_QUANTUM}.", field=field)
    check_amount(value, field=field, what="A price")
    return value


def check_amount(value: int, *, field: tuple[str | int, ...], what: str,
                 context: dict[str, Any] | None = None) -> int:
    """`value` if it fits MAX_QUANTUM (what a GraphQL `Int` carries); otherwise amount_out_of_range."""
    if value > MAX_QUANTUM:
        raise OmnimanError(ErrorCode.AMOUNT_OUT_OF_RANGE, f"{what} of {value} is more than {MAX_QUANTUM}, the "
                           "largest amount the API carries.", field=field,
                           context={**(context or {}), "amount_q": value, "max_q": MAX_QUANTUM})
    return value


def round_half_up(value: Decimal) -> int:
    """Round to the nearest integer, halves away from zero (832.5 -> 833)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_total_q(qty: Decimal, unit_price_q: int) -> int:
    """`round_half_up(qty × unit_price_q)`: 2.5 × 333 = 832.5 → 833."""
    return round_half_up(qty * unit_price_q)
