"""Input bounds the pure rules enforce (sizes of strings, JSON documents and lists)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import ErrorCode, OmnimanError

# The largest row id both databases can hold and compare (PostgreSQL BIGINT, SQLite INTEGER): a bigger one in a
# cursor is bad input, not a query to send. Tables whose id is a PostgreSQL INTEGER (sessions) stop sooner.
MAX_ROW_ID = 2**63 - 1
MAX_INT_ROW_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    max_ops_per_modify: int = 100
    max_lines_per_session: int = 500
    max_string_length: int = 200
    max_json_bytes: int = 64 * 1024
    max_json_depth: int = 8


def check_string(value: Any, limits: Limits, *, field: tuple[str | int, ...], code: ErrorCode, what: str) -> str:
    """A non-empty string no longer than the limit (after trimming surrounding blanks)."""
    if not isinstance(value, str) or not value.strip():
        raise OmnimanError(code, f"{what} must be a non-empty string.", field=field)
    text = value.strip()
    if len(text) > limits.max_string_length:
        raise OmnimanError(
            code, f"{what} is longer than {limits.max_string_length} characters.", field=field,
            context={"max_length": limits.max_string_length},
        )
    return text


def check_optional_string(value: Any, limits: Limits, *, field: tuple[str | int, ...], what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{what} must be a string.", field=field)
    if len(value) > limits.max_string_length:
        raise OmnimanError(
            ErrorCode.INVALID_INPUT, f"{what} is longer than {limits.max_string_length} characters.", field=field,
            context={"max_length": limits.max_string_length},
        )
    return value


def json_depth(value: Any, stop_above: int | None = None) -> int:
    """Nesting depth of a JSON value: scalars are 0, `{}`/`[]` are 1. Iterative, so hostile nesting cannot exhaust
    the stack; with `stop_above` it returns as soon as the depth is known to exceed it."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                return deepest
            pending.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


J = TypeVar("J")  # check_json hands back the value it was given, so its type too


def check_json(value: J, limits: Limits, *, field: tuple[str | int, ...], what: str) -> J:
    """A JSON document within the size and depth bounds (depth first: encoding a hostile nesting would recurse)."""
    if json_depth(value, stop_above=limits.max_json_depth) > limits.max_json_depth:
        raise OmnimanError(
            ErrorCode.INVALID_INPUT, f"{what} is nested deeper than {limits.max_json_depth} levels.", field=field,
            context={"max_depth": limits.max_json_depth},
        )
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{what} is not a JSON document.", field=field) from None
    if len(encoded.encode()) > limits.max_json_bytes:
        raise OmnimanError(
            ErrorCode.INVALID_INPUT, f"{what} is larger than {limits.max_json_bytes} bytes.", field=field,
            context={"max_bytes": limits.max_json_bytes},
        )
    return value


def check_object(value: Any, limits: Limits, *, field: tuple[str | int, ...], what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{what} must be a JSON object.", field=field)
    return check_json(value, limits, field=field, what=what)
