"""The custom scalars: Decimal (sent as a string), JSON, DateTime (ISO 8601, UTC)."""

import datetime as dt
import decimal
from typing import Any

import strawberry
from graphql import IntValueNode, StringValueNode, ValueNode
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

MAX_DECIMAL_CHARS = 40  # far beyond 12 digits + 3 places: longer input is garbage, not a quantity


def serialize_decimal(value: decimal.Decimal) -> str:
    """Plain notation, never an exponent: Decimal("1E+1") is sent as "10"."""
    return format(value, "f")


def parse_decimal(value: Any) -> decimal.Decimal:
    # Floats are refused: 0.1 + 0.2 is not what a cashier typed. Integers are exact, so they are accepted.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StrawberryInputCoercionError(f'Decimal values are sent as strings such as "2.5", not {value!r}.')
    text = str(value).strip()
    if len(text) > MAX_DECIMAL_CHARS:
        raise StrawberryInputCoercionError(f"A Decimal is at most {MAX_DECIMAL_CHARS} characters long.")
    try:
        parsed = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise StrawberryInputCoercionError(f"{text[:MAX_DECIMAL_CHARS]!r} is not a decimal number.") from None
    if not parsed.is_finite():
        raise StrawberryInputCoercionError("A Decimal must be a finite number.")
    return parsed


def parse_decimal_literal(node: ValueNode, _variables: Any = None) -> decimal.Decimal:
    if isinstance(node, StringValueNode | IntValueNode):
        return parse_decimal(node.value)
    raise StrawberryInputCoercionError('Decimal values are written as strings such as "2.5".')


def serialize_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:  # the models always give aware UTC; be safe with anything else
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise StrawberryInputCoercionError("A DateTime is an ISO 8601 string such as \"2026-11-26T12:00:00Z\".")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise StrawberryInputCoercionError(f"{value!r} is not an ISO 8601 date and time.") from None
    # No offset means UTC: the hub keeps and answers every time in UTC.
    try:
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    except OverflowError:  # "0001-01-01T00:00:00+14:00" is before the first instant a datetime holds
        raise StrawberryInputCoercionError(f"{value!r} is outside the dates the hub can store.") from None


DecimalScalar: ScalarDefinition = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number, sent and returned as a string such as "2.5" (quantities: > 0, at most '
                "3 decimal places).",
    serialize=serialize_decimal,
    parse_value=parse_decimal,
    parse_literal=parse_decimal_literal,
)

DateTimeScalar: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description='A point in time as an ISO 8601 string in UTC, such as "2026-11-26T12:00:00.123456Z". Input without '
                "an offset is taken as UTC.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

JSONScalar: ScalarDefinition = strawberry.scalar(
    name="JSON",
    description="Any JSON value (objects keep the hub's snake_case keys); size and depth are bounded.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    decimal.Decimal: DecimalScalar,
    dt.datetime: DateTimeScalar,
    JSON: JSONScalar,
}

__all__ = ["JSON", "SCALAR_MAP"]
