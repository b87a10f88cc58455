"""Order flows and channel config validation: the default flow of §8, channel flows, known config keys of §3."""

from __future__ import annotations

import re
from typing import Any

import pytest

from omniman_gql import ids
from omniman_gql.domain.channel_config import KNOWN_KEYS, check_topic_for, merge_patch, validate_channel_config
from omniman_gql.domain.flow import OrderFlow
from omniman_gql.errors import ErrorCode, OmnimanError, ValidationFailed


def test_default_flow_matches_the_spec_table() -> None:
    flow = OrderFlow.default()
    assert flow.initial_status == "new"
    assert flow.allowed("new") == ("confirmed", "cancelled")
    assert flow.allowed("confirmed") == ("processing", "ready", "cancelled")
    assert flow.allowed("ready") == ("dispatched", "completed")
    assert flow.allowed("returned") == ("completed",)
    assert flow.is_terminal("completed") and flow.is_terminal("cancelled")
    assert flow.allowed("completed") == ()


def test_channel_flow_replaces_the_parts_it_defines() -> None:
    flow = OrderFlow.from_config({"order_flow": {"initial_status": "received",
                                                 "transitions": {"received": ["done"]}, "terminal_statuses": ["done"]}})
    assert flow.initial_status == "received"
    assert flow.can_move("received", "done") and not flow.can_move("new", "confirmed")
    assert flow.is_terminal("done") and not flow.is_terminal("cancelled")


def test_known_config_keys_are_accepted() -> None:
    config: dict[str, Any] = {
        "required_checks_on_commit": ["stock"], "checks": {"stock": {"directive_topic": "stock.hold", "label": "S"}},
        "post_commit_directives": ["stock.commit"], "order_flow": {"initial_status": "new"},
        "on_status": {"confirmed": ["notification.send"]}, "terminology": {"session": "tab"}, "icon": "cup",
        "notifications": {"webhook": "http://127.0.0.1/x"}, "price_override": "anyone", "restock_on_cancel": False,
        "session_idle_ttl_minutes": 30, "ticket": {"ref_type": "TICKET", "width": 3},
        "business_day": {"timezone": "America/Sao_Paulo", "starts_at": "05:00"},
    }
    assert validate_channel_config(config) == config
    assert set(config) == set(KNOWN_KEYS)


def test_unknown_config_key_is_rejected_with_the_valid_list() -> None:
    with pytest.raises(OmnimanError) as info:
        validate_channel_config({"required_checks": ["stock"]})
    exc = info.value
    assert exc.code == ErrorCode.INVALID_CONFIG and exc.field == ("config", "required_checks")
    assert exc.context["valid_keys"] == list(KNOWN_KEYS)
    assert "required_checks_on_commit" in exc.message


@pytest.mark.parametrize("config, field", [
    ({"required_checks_on_commit": "stock"}, ("config", "required_checks_on_commit")),
    ({"checks": {"stock": {"topic": "x"}}}, ("config", "checks", "stock")),
    ({"order_flow": {"transitions": {"new": "confirmed"}}}, ("config", "order_flow", "transitions", "new")),
    ({"on_status": {"confirmed": [""]}}, ("config", "on_status", "confirmed")),
    ({"icon": 3}, ("config", "icon")),
    ({"price_override": "clients"}, ("config", "price_override")),
    ({"price_override": None}, ("config", "price_override")),
])
def test_malformed_config_values_name_their_path(config: dict[str, Any], field: tuple[str, ...]) -> None:
    with pytest.raises(OmnimanError) as info:
        validate_channel_config(config)
    assert (info.value.code, info.value.field) == (ErrorCode.INVALID_CONFIG, field)


@pytest.mark.parametrize("policy", ["staff", "anyone", "never"])
def test_price_override_takes_the_three_policies(policy: str) -> None:
    assert validate_channel_config({"price_override": policy}) == {"price_override": policy}


def test_a_bad_price_override_lists_the_valid_policies() -> None:
    with pytest.raises(OmnimanError) as info:
        validate_channel_config({"price_override": "STAFF"})
    assert info.value.context["valid"] == ["staff", "anyone", "never"]
    assert "staff, anyone, never" in info.value.message


def test_several_config_problems_are_reported_together() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_channel_config({"foo": 1, "icon": 2})
    assert [e.field for e in info.value.errors()] == [("config", "foo"), ("config", "icon")]


def test_check_topic_defaults_to_code_dot_hold() -> None:
    assert check_topic_for({}, "stock") == "stock.hold"
    assert check_topic_for({"checks": {"stock": {"directive_topic": "inv.reserve"}}}, "stock") == "inv.reserve"


def test_identifiers_have_the_spec_shapes_and_no_ambiguous_characters() -> None:
    import datetime as dt

    assert re.fullmatch(r"SESS-[2-9A-HJKMNP-Z]{12}", ids.session_key())
    assert re.fullmatch(r"L-[2-9A-HJKMNP-Z]{8}", ids.line_id())
    assert re.fullmatch(r"ORD-20261126-[2-9A-HJKMNP-Z]{8}", ids.order_ref(dt.datetime(2026, 11, 26)))
    assert ids.issue_id().startswith("ISS-") and ids.action_id().startswith("ACT-")
    assert not set("01ILO") & set(ids.ALPHABET)


def test_merge_patch_follows_rfc_7396() -> None:
    # The examples of RFC 7396 §3 that apply to objects.
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["a", "b"],
              "content": "x"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["a"]}
    assert merge_patch(target, patch) == {"title": "Hello!", "author": {"givenName": "John"}, "tags": ["a"],
                                          "content": "x", "phoneNumber": "+01-123-456-7890"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [1]}, {"a": {"b": "c"}}) == {"a": {"b": "c"}}
    assert target["author"] == {"givenName": "John", "familyName": "Doe"}  # never changed in place


def test_restock_on_cancel_must_be_a_boolean() -> None:
    with pytest.raises(OmnimanError) as info:
        validate_channel_config({"restock_on_cancel": "no"})
    assert (info.value.code, info.value.field) == ("invalid_config", ("config", "restock_on_cancel"))
