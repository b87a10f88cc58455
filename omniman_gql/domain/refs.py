"""Refs as pure rules: ref types (shipped, validated), value normalisation, business days and ticket numbers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ErrorCode, OmnimanError, ValidationFailed

TARGETS = ("session", "order", "both")
SCOPES = ("channel", "business_day")
CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
MAX_VALUE = 200
MAX_TYPES = 200
STARTS_AT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_TICKET_WIDTH = 9


@dataclass(frozen=True, slots=True)
class RefTypeSpec:
    """A hub-wide ref type: who may hold it, where its values are unique, and what commit and abandon do to it."""

    code: str
    label: str
    target: str = "session"
    scope: str = "channel"
    copy_to_order: bool = False
    expires_on_close: bool = False

    def allows(self, kind: str) -> bool:
        return self.target in (kind, "both")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SHIPPED: tuple[RefTypeSpec, ...] = (
    RefTypeSpec("TABLE", "Table", "session", "business_day", expires_on_close=True),
    RefTypeSpec("TAB", "Tab", "session", "business_day", expires_on_close=True),
    RefTypeSpec("TICKET", "Ticket", "order", "business_day"),
    RefTypeSpec("EXTERNAL", "External id", "order", "channel"),
)


def _type_error(path: tuple[str | int, ...], message: str) -> OmnimanError:
    return OmnimanError(ErrorCode.INVALID_INPUT, f"{'.'.join(map(str, path))}: {message}", field=path)


def parse_ref_type(doc: Any, path: tuple[str | int, ...] = ()) -> RefTypeSpec:
    """A ref type from its document ({code, label, target, scope, copy_to_order, expires_on_close}); every problem
    is an `invalid_input` naming the key."""
    if not isinstance(doc, Mapping):
        raise _type_error(path, "must be an object with code, label, target and scope")
    unknown = set(doc) - {"code", "label", "target", "scope", "copy_to_order", "expires_on_close"}
    if unknown:
        raise _type_error(path, f"unknown keys {sorted(unknown)}; valid: code, label, target, scope, copy_to_order, "
                                "expires_on_close")
    code = doc.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise _type_error((*path, "code"), "must be 1 to 32 upper-case letters, digits or _, starting with a letter")
    label = doc.get("label", code)
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_VALUE:
        raise _type_error((*path, "label"), f"must be a non-empty string of at most {MAX_VALUE} characters")
    target, scope = doc.get("target", "session"), doc.get("scope", "channel")
    if target not in TARGETS:
        raise _type_error((*path, "target"), f"must be one of {', '.join(TARGETS)}")
    if scope not in SCOPES:
        raise _type_error((*path, "scope"), f"must be one of {', '.join(SCOPES)}")
    flags = {}
    for key in ("copy_to_order", "expires_on_close"):
        flags[key] = doc.get(key, False)
        if not isinstance(flags[key], bool):
            raise _type_error((*path, key), "must be true or false")
    if flags["copy_to_order"] and target == "order":
        raise _type_error((*path, "copy_to_order"), "a type only orders hold has nothing to copy to an order")
    return RefTypeSpec(code, label.strip(), target, scope, **flags)


def parse_ref_types(docs: Any) -> list[RefTypeSpec]:
    """A list of ref types, all or nothing: every problem found is raised together."""
    if not isinstance(docs, list):
        raise _type_error(("ref_types",), "must be a list of ref types")
    if len(docs) > MAX_TYPES:
        raise _type_error(("ref_types",), f"at most {MAX_TYPES} ref types")
    errors: list[OmnimanError] = []
    specs: list[RefTypeSpec] = []
    seen: set[str] = set()
    for index, doc in enumerate(docs):
        try:
            spec = parse_ref_type(doc, ("ref_types", index))
        except OmnimanError as exc:
            errors.append(exc)
            continue
        if spec.code in seen:
            errors.append(_type_error(("ref_types", index, "code"), f"{spec.code!r} is listed twice"))
        seen.add(spec.code)
        specs.append(spec)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return specs


def merged_types(*layers: Iterable[RefTypeSpec]) -> dict[str, RefTypeSpec]:
    """Ref types by code, later layers replacing earlier ones (shipped, then settings, then applied)."""
    merged: dict[str, RefTypeSpec] = {}
    for layer in layers:
        merged.update((spec.code, spec) for spec in layer)
    return merged


def normalize_value(value: Any, field: tuple[str | int, ...] = ("value",)) -> str:
    """A ref value as it is stored and compared: trimmed and upper-cased, 1 to 200 characters."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_VALUE:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"A ref value must be 1 to {MAX_VALUE} characters.", field=field)
    return value.strip().upper()


def check_business_day(value: Any) -> None:
    """Channel config `business_day: {timezone, starts_at}`: an IANA timezone and an HH:MM start."""
    if not isinstance(value, Mapping):
        raise _config_error("must be an object such as {\"timezone\": \"America/Sao_Paulo\", \"starts_at\": "
                            "\"05:00\"}")
    unknown = set(value) - {"timezone", "starts_at"}
    if unknown:
        raise _config_error(f"unknown keys {sorted(unknown)}; valid: timezone, starts_at")
    if "timezone" in value and (not isinstance(value["timezone"], str) or not _zone(value["timezone"])):
        raise _config_error("must be an IANA timezone such as America/Sao_Paulo", "timezone")
    if "starts_at" in value and not (isinstance(value["starts_at"], str) and STARTS_AT.match(value["starts_at"])):
        raise _config_error("must be a time of day as HH:MM (00:00 to 23:59)", "starts_at")


def check_ticket(value: Any) -> None:
    """Channel config `ticket: {ref_type, width}`: the ref type ticket numbers are attached as, and their digits."""
    if not isinstance(value, Mapping):
        raise _config_error("must be an object such as {\"ref_type\": \"TICKET\", \"width\": 3}", key="ticket")
    unknown = set(value) - {"ref_type", "width"}
    if unknown:
        raise _config_error(f"unknown keys {sorted(unknown)}; valid: ref_type, width", key="ticket")
    if "ref_type" in value and not (isinstance(value["ref_type"], str) and CODE.match(value["ref_type"])):
        raise _config_error("must be a ref type code such as TICKET", "ref_type", key="ticket")
    width = value.get("width", 3)
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= MAX_TICKET_WIDTH:
        raise _config_error(f"must be a whole number from 1 to {MAX_TICKET_WIDTH}", "width", key="ticket")


def _config_error(message: str, *sub: str, key: str = "business_day") -> OmnimanError:
    return OmnimanError(ErrorCode.INVALID_CONFIG, f"config.{'.'.join((key, *sub))}: {message}",
                        field=("config", key, *sub), context={"key": key})


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def business_day(config: Mapping[str, Any], now: dt.datetime, default_timezone: str = "UTC") -> str:
    """The channel's business day at `now` (YYYY-MM-DD): the local date of `now` minus the day's start, so with
    `starts_at: "05:00"` 02:00 still belongs to yesterday (a bar open past midnight keeps one day)."""
    spec = config.get("business_day") or {}
    zone = _zone(spec.get("timezone") or default_timezone) or dt.UTC
    hours, minutes = (int(part) for part in (spec.get("starts_at") or "00:00").split(":"))
    local = now.astimezone(zone) - dt.timedelta(hours=hours, minutes=minutes)
    return local.date().isoformat()


def scope_key(spec: RefTypeSpec, config: Mapping[str, Any], now: dt.datetime, default_timezone: str = "UTC") -> str:
    """Where a ref's value must be unique within its channel: "" for the whole channel, else its business day."""
    return business_day(config, now, default_timezone) if spec.scope == "business_day" else ""


def ticket_of(config: Mapping[str, Any]) -> tuple[str, int] | None:
    """The channel's ticket numbering (ref type, width), or None when it gives no tickets."""
    spec = config.get("ticket")
    if not isinstance(spec, Mapping):
        return None
    return str(spec.get("ref_type") or "TICKET"), int(spec.get("width") or 3)


def ticket_value(number: int, width: int) -> str:
    return str(number).zfill(width)
