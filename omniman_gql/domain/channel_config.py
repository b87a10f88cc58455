"""Validation of a channel's `config` document: known keys only, each of the right shape."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ..errors import ErrorCode, OmnimanError, ValidationFailed
from .flow import OrderFlow
from .refs import check_business_day, check_ticket
from .validation import PRICE_OVERRIDE_POLICIES

KNOWN_KEYS = (
    "required_checks_on_commit", "checks", "post_commit_directives", "order_flow", "on_status",
    "terminology", "icon", "notifications", "price_override", "restock_on_cancel", "ticket", "business_day",
    "session_idle_ttl_minutes",
)
MAX_IDLE_TTL_MINUTES = 366 * 24 * 60  # a year: longer is "never", which is leaving the key out
POLICIES = {"pricing_policy": ("internal", "external"), "edit_policy": ("open", "locked")}


def _fail(key: str, message: str, *sub: str) -> OmnimanError:
    return OmnimanError(ErrorCode.INVALID_CONFIG, f"config.{'.'.join((key, *sub))}: {message}",
                        field=("config", key, *sub), context={"key": key})


def _string_list(key: str, value: Any, *sub: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(key, "must be a list of non-empty strings", *sub)


def _check_checks(value: Any) -> None:
    if not isinstance(value, dict):
        raise _fail("checks", "must be an object keyed by check code")
    for code, spec in value.items():
        if not isinstance(spec, dict):
            raise _fail("checks", "must be an object such as {\"directive_topic\": \"stock.hold\"}", code)
        unknown = set(spec) - {"directive_topic", "label"}
        if unknown:
            raise _fail("checks", f"unknown keys {sorted(unknown)}; valid: directive_topic, label", code)
        for sub in ("directive_topic", "label"):
            if sub in spec and not (isinstance(spec[sub], str) and spec[sub]):
                raise _fail("checks", "must be a non-empty string", code, sub)


def _check_order_flow(value: Any) -> None:
    if not isinstance(value, dict):
        raise _fail("order_flow", "must be an object with initial_status, transitions, terminal_statuses")
    unknown = set(value) - {"initial_status", "transitions", "terminal_statuses"}
    if unknown:
        raise _fail("order_flow", f"unknown keys {sorted(unknown)}; valid: initial_status, transitions, "
                    "terminal_statuses")
    if "initial_status" in value and not (isinstance(value["initial_status"], str) and value["initial_status"]):
        raise _fail("order_flow", "must be a non-empty string", "initial_status")
    transitions = value.get("transitions", {})
    if not isinstance(transitions, dict):
        raise _fail("order_flow", "must map each status to the list of its next statuses", "transitions")
    for status, nexts in transitions.items():
        _string_list("order_flow", nexts, "transitions", status)
    if "terminal_statuses" in value:
        _string_list("order_flow", value["terminal_statuses"], "terminal_statuses")


def _check_status_map(key: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise _fail(key, "must map statuses to lists of directive topics")
        for status, topics in value.items():
            _string_list(key, topics, status)
    return check


def _check_object(key: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise _fail(key, "must be an object")
    return check


def _check_icon(value: Any) -> None:
    if not isinstance(value, str):
        raise _fail("icon", "must be a string")


def _check_price_override(value: Any) -> None:
    if value not in PRICE_OVERRIDE_POLICIES:
        raise OmnimanError(ErrorCode.INVALID_CONFIG, f"config.price_override: must be one of "
                           f"{', '.join(PRICE_OVERRIDE_POLICIES)}, not {value!r}.", field=("config", "price_override"),
                           context={"key": "price_override", "valid": list(PRICE_OVERRIDE_POLICIES)})


def _check_bool(key: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, bool):
            raise _fail(key, "must be true or false")
    return check


def _check_idle_ttl(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_IDLE_TTL_MINUTES:
        raise _fail("session_idle_ttl_minutes", f"must be a whole number of minutes from 1 to {MAX_IDLE_TTL_MINUTES} "
                    "(leave the key out for sessions that never expire)")


_CHECKERS: dict[str, Callable[[Any], None]] = {
    "required_checks_on_commit": lambda v: _string_list("required_checks_on_commit", v),
    "checks": _check_checks,
    "post_commit_directives": lambda v: _string_list("post_commit_directives", v),
    "order_flow": _check_order_flow,
    "on_status": _check_status_map("on_status"),
    "terminology": _check_object("terminology"),
    "icon": _check_icon,
    "notifications": _check_object("notifications"),
    "price_override": _check_price_override,
    "restock_on_cancel": _check_bool("restock_on_cancel"),
    "ticket": check_ticket,
    "business_day": check_business_day,
    "session_idle_ttl_minutes": _check_idle_ttl,
}


def validate_channel_config(config: Any) -> dict[str, Any]:
    """Return `config` if every key is known and well formed; otherwise raise every problem found."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise OmnimanError(ErrorCode.INVALID_CONFIG, "config must be a JSON object.", field=("config",))
    errors: list[OmnimanError] = []
    for key, value in config.items():
        checker = _CHECKERS.get(key)
        if checker is None:
            errors.append(OmnimanError(
                ErrorCode.INVALID_CONFIG, f"Unknown config key {key!r}; valid keys: {', '.join(KNOWN_KEYS)}.",
                field=("config", key), context={"key": key, "valid_keys": list(KNOWN_KEYS)}))
            continue
        try:
            checker(value)
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return config



def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: keys of `patch` replace those of `target` (objects merge recursively), a `null`
    removes the key, keys not in `patch` stay."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def flow_statuses(config: dict[str, Any]) -> list[str]:
    """Every status the channel's flow names (initial, transitions, terminal), sorted."""
    flow = OrderFlow.from_config(config)
    named = {flow.initial_status, *flow.terminal_statuses, *flow.transitions}
    for nexts in flow.transitions.values():
        named.update(nexts)
    return sorted(named)


def check_config_wiring(config: dict[str, Any], *, topics: Collection[str],
                        notifiers: Collection[str]) -> list[OmnimanError]:
    """What a well-formed config names must exist: every directive topic a handler, every `on_status` key a status
    of the channel's flow, `notifications.backend` a configured notifier. Each error's `field` points inside
    `config` and its `context.valid` lists what is accepted."""
    errors: list[OmnimanError] = []

    def refuse(path: tuple[str, ...], what: str, value: Any, valid: Collection[str]) -> None:
        listed = sorted(valid)
        errors.append(OmnimanError(
            ErrorCode.INVALID_CONFIG, f"config.{'.'.join(path)}: {what} {value!r}; valid: {', '.join(listed)}.",
            field=("config", *path), context={"key": path[0], "value": value, "valid": listed}))

    def topic(path: tuple[str, ...], value: Any) -> None:
        if value not in topics:
            refuse(path, "no handler for the directive topic", value, topics)

    for index, value in enumerate(config.get("post_commit_directives") or []):
        topic(("post_commit_directives", str(index)), value)
    for code, spec in (config.get("checks") or {}).items():
        if "directive_topic" in spec:
            topic(("checks", code, "directive_topic"), spec["directive_topic"])
    statuses = flow_statuses(config)
    for status, values in (config.get("on_status") or {}).items():
        if status not in statuses:
            refuse(("on_status", status), "the channel's order flow has no status", status, statuses)
        for index, value in enumerate(values):
            topic(("on_status", status, str(index)), value)
    backend = (config.get("notifications") or {}).get("backend")
    if backend is not None and backend not in notifiers:
        refuse(("notifications", "backend"), "no notifier", backend, notifiers)
    return errors


def check_topic_for(config: dict[str, Any], code: str) -> str:
    """The directive topic of check `code`: `checks.<code>.directive_topic`, or `<code>.hold`."""
    spec = (config.get("checks") or {}).get(code) or {}
    return str(spec.get("directive_topic") or f"{code}.hold")
