"""Text no database can store: a lone UTF-16 surrogate. JSON can carry one (`"\\ud800"`), Python decodes it, and
UTF-8 cannot encode it, so the drivers would fail at the first statement that binds it."""

from typing import Any

SURROGATE_MESSAGE = "Strings may not contain a lone surrogate (\\ud800–\\udfff); send valid Unicode text."


def contains_lone_surrogate(value: Any) -> bool:
    """Whether a JSON value (keys too) holds a string with an unpaired surrogate. Iterative, like `contains_nul`:
    a document nested a thousand levels deep must not exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii():  # ASCII, nearly every string, cannot hold one: no encoding attempted
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
