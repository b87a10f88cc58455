"""Money and quantities: integer minor units, exact decimal quantities, half-up rounding, floats refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.money import MAX_QTY, MAX_QUANTUM, line_total_q, normalize_qty, parse_qty, parse_quantum, qty_str


def test_line_total_rounds_half_up_2_5_times_333_is_833() -> None:
    assert line_total_q(Decimal("2.5"), 333) == 833
    assert line_total_q(Decimal("0.5"), 1) == 1
    assert line_total_q(Decimal("1.5"), 1) == 2  # half up, not banker's rounding (which gives 2 here but 0 for 0.5)
    assert line_total_q(Decimal("0.333"), 1000) == 333


@pytest.mark.parametrize("given, expected", [
    ("2", "2"), (3, "3"), ("2.500", "2.5"), ("0.001", "0.001"), ("1E+1", "10"), (" 7 ", "7"),
    (Decimal("10.000"), "10"), ("999999999.999", "999999999.999"), ("0.1000", "0.1"),
])
def test_parse_qty_accepts_exact_decimals_and_normalizes(given: object, expected: str) -> None:
    assert qty_str(parse_qty(given)) == expected


@pytest.mark.parametrize("given", [
    "0", "-1", "0.0001", "1.2345", "abc", "", None, "NaN", "Infinity", "1000000000", True, [1], {"q": 1}, "9" * 100,
])
def test_parse_qty_refuses_zero_negative_too_precise_and_non_numbers(given: object) -> None:
    with pytest.raises(OmnimanError) as info:
        parse_qty(given, field=("ops", 0, "add_line", "qty"))
    assert info.value.code == ErrorCode.INVALID_QTY
    assert info.value.field == ("ops", 0, "add_line", "qty")


@pytest.mark.parametrize("given", [0.1, 2.0, 1e3])
def test_parse_qty_refuses_floats_even_exact_ones(given: float) -> None:
    with pytest.raises(OmnimanError) as info:
        parse_qty(given)
    assert info.value.code == ErrorCode.INVALID_QTY
    assert info.value.context == {"given_type": "float"}


def test_parse_qty_allows_zero_only_when_asked() -> None:
    assert parse_qty("0", allow_zero=True) == 0
    assert qty_str(parse_qty("-0", allow_zero=True)) == "0"
    with pytest.raises(OmnimanError):
        parse_qty("-0.001", allow_zero=True)


def test_decimal_sums_do_not_drift_like_floats() -> None:
    total = parse_qty("0.1") + parse_qty("0.2")
    assert total == Decimal("0.3") and qty_str(total) == "0.3"
    assert 0.1 + 0.2 != 0.3  # the drift the hub never lets in


def test_normalize_qty_never_uses_exponent_notation() -> None:
    assert str(normalize_qty(Decimal("1E+3"))) == "1000"
    assert str(normalize_qty(Decimal("100.000"))) == "100"
    assert normalize_qty(MAX_QTY) == MAX_QTY


@pytest.mark.parametrize("given", [-1, 1.5, "100", True, None])
def test_parse_quantum_refuses_non_integers_and_negatives(given: object) -> None:
    with pytest.raises(OmnimanError) as info:
        parse_quantum(given, field=("unit_price_q",))
    assert info.value.code == ErrorCode.INVALID_PRICE


@pytest.mark.parametrize("given", [MAX_QUANTUM + 1, 2**53])
def test_error_amount_out_of_range_for_a_price_beyond_a_graphql_int(given: int) -> None:
    with pytest.raises(OmnimanError) as info:
        parse_quantum(given, field=("unit_price_q",))
    assert (info.value.code, info.value.field) == (ErrorCode.AMOUNT_OUT_OF_RANGE, ("unit_price_q",))
    assert info.value.context == {"amount_q": given, "max_q": 2_147_483_647}


def test_the_largest_amount_is_what_a_graphql_int_carries() -> None:
    # The GraphQL `Int` is a signed 32-bit integer: a larger amount could be stored but never sent.
    assert MAX_QUANTUM == 2**31 - 1 == 2_147_483_647


def test_parse_quantum_accepts_zero_and_the_maximum() -> None:
    assert parse_quantum(0) == 0
    assert parse_quantum(MAX_QUANTUM) == MAX_QUANTUM
