"""Text no database can store, found in a request's JSON values: a NUL character (PostgreSQL text cannot hold one)
and a lone UTF-16 surrogate (JSON can carry one, `"\\ud800"`, Python decodes it, UTF-8 cannot encode it, so the
drivers would fail at the first statement that binds it)."""

from collections.abc import Iterator
from typing import Any

NUL_MESSAGE = "Strings may not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Strings may not contain a lone surrogate (\\ud800–\\udfff); send valid Unicode text."


def _strings(value: Any) -> Iterator[str]:
    """Every string of a JSON value, keys too. Iterative: a document nested a thousand levels deep must not exhaust
    the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def contains_nul(value: Any) -> bool:
    """Whether a JSON value holds a string with a NUL character."""
    return any("\x00" in text for text in _strings(value))


def contains_lone_surrogate(value: Any) -> bool:
    """Whether a JSON value holds a string with an unpaired surrogate."""
    return any(not text.isascii() and not _encodable(text) for text in _strings(value))  # ASCII cannot hold one


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
