"""Customer fields: bounds, formats and the normal forms searches and the phone key compare (pure, no I/O)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode, OmnimanError, ValidationFailed

FIELDS = ("code", "name", "phone", "email", "tax_id", "price_list", "notes", "tags", "is_active")
# Widths of the customers table's columns (and what a person's data can reasonably need).
MAX_CODE, MAX_NAME, MAX_PHONE, MAX_EMAIL, MAX_TAX_ID, MAX_PRICE_LIST, MAX_NOTES = 64, 200, 32, 254, 32, 64, 2000
MAX_TAGS, MAX_TAG = 20, 40
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 8, 15  # E.164 numbers have at most 15 digits
MIN_SEARCH_DIGITS = 3
# Statuses that take an order back out of its customer's figures (§13: cancelling is `cancelled` and `returned`).
UNCOUNTED = frozenset({"cancelled", "returned"})

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PRICE_LIST = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Digits with the usual separators, an optional leading "+": "+55 (11) 98765-4321", "11 98765.4321".
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
# One "@", no blanks, a dot in the domain: a mistyped address is caught, no attempt at RFC 5322.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_TAX_ID = re.compile(r"[A-Za-z0-9./ -]+")


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() and ch.isascii())


def fold(text: str) -> str:
    """Lower case without accents: "João" and "joao" are the same name to a search."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def check_code(value: Any, field: tuple[str | int, ...] = ("code",)) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value.strip()) or len(value.strip()) > MAX_CODE:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"A customer code is 1 to {MAX_CODE} letters, digits, `.`, `_` "
                           "or `-`.", field=field)
    return value.strip()


def _text(value: Any, name: str, limit: int, *, blank_is_none: bool = True) -> str | None:
    if not isinstance(value, str):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` must be a string.", field=(name,))
    text = value.strip()
    if len(text) > limit:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` is longer than {limit} characters.", field=(name,),
                           context={"max_length": limit})
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` may not hold control characters.", field=(name,))
    return text or None if blank_is_none else text


def _phone(value: Any) -> str | None:
    text = _text(value, "phone", MAX_PHONE)
    if text is None:
        return None
    digits = digits_of(text)
    # The value is never echoed in the message: error messages may end up in logs.
    if not _PHONE.fullmatch(text) or not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`phone` must be {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} "
                           "digits, with spaces, `()`, `-`, `.` or a leading `+` at most.", field=("phone",))
    return text


def _email(value: Any) -> str | None:
    text = _text(value, "email", MAX_EMAIL)
    if text is None:
        return None
    if not _EMAIL.fullmatch(text):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`email` must look like `name@example.com`.", field=("email",))
    return text.lower()


def _price_list(value: Any) -> str | None:
    text = _text(value, "price_list", MAX_PRICE_LIST)
    if text is not None and not _PRICE_LIST.fullmatch(text):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`price_list` is lower-case letters, digits, `_` or `-` "
                           "(e.g. `staff`).", field=("price_list",))
    return text


def _tax_id(value: Any) -> str | None:
    text = _text(value, "tax_id", MAX_TAX_ID)
    if text is not None and not _TAX_ID.fullmatch(text):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`tax_id` is letters, digits, spaces, `.`, `/` or `-`.",
                           field=("tax_id",))
    return text


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`tags` is a list of at most {MAX_TAGS} tags.", field=("tags",))
    tags: list[str] = []
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > MAX_TAG:
            raise OmnimanError(ErrorCode.INVALID_INPUT, f"A tag is 1 to {MAX_TAG} characters.",
                               field=("tags", index))
        if tag.strip() not in tags:
            tags.append(tag.strip())
    return tags


def _is_active(value: Any) -> bool:
    if not isinstance(value, bool):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`is_active` must be true or false.", field=("is_active",))
    return value


_CHECKS = {
    "code": check_code,
    "name": lambda v: _text(v, "name", MAX_NAME, blank_is_none=False),
    "phone": _phone,
    "email": _email,
    "tax_id": _tax_id,
    "price_list": _price_list,
    "notes": lambda v: _text(v, "notes", MAX_NOTES),
    "tags": _tags,
    "is_active": _is_active,
}


def check_customer_input(raw: Any) -> dict[str, Any]:
    """The fields given (a field left out or null is not given) in their stored form; every error found at once.
    A blank optional text (`""`) clears it."""
    if not isinstance(raw, dict):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "A customer must be an object.", field=())
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"Unknown customer fields {unknown}.", field=(str(unknown[0]),),
                           context={"valid": list(FIELDS)})
    clean: dict[str, Any] = {}
    errors: list[OmnimanError] = []
    for name, value in raw.items():
        if value is None:
            continue
        try:
            clean[name] = _CHECKS[name](value)
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return clean


def stored_columns(clean: dict[str, Any]) -> dict[str, Any]:
    """Checked fields as the table keeps them, with the derived search and key columns."""
    columns = {name: value for name, value in clean.items() if name != "code"}
    if "name" in clean:
        columns["name_key"] = fold(clean["name"] or "")
    if "phone" in clean:
        columns["phone_digits"] = digits_of(clean["phone"]) if clean["phone"] else None
    return columns


@dataclass(frozen=True, slots=True)
class Search:
    """What a customer search looks for: `name` (folded fragment), `digits` (of a phone), `email`, or a `code`."""

    text: str
    name: str
    digits: str | None
    email: str | None


def parse_search(value: Any) -> Search | None:
    """None for no search at all; a fragment of a name, phone digits (formatting ignored) or an e-mail."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`search` is at most {MAX_NAME} characters.", field=("search",))
    text = value.strip()
    if not text:
        return None
    digits = digits_of(text)
    phone_like = _PHONE.fullmatch(text) is not None and len(digits) >= MIN_SEARCH_DIGITS
    return Search(text=text, name=fold(text), digits=digits if phone_like else None,
                  email=text.lower() if "@" in text else None)
