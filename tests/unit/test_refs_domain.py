"""Pure ref rules: business days (a bar open past midnight keeps one day), values, ref types and channel config."""

from __future__ import annotations

import datetime as dt

import pytest

from omniman_gql.domain.channel_config import validate_channel_config
from omniman_gql.domain.refs import SHIPPED, business_day, normalize_value, parse_ref_type, scope_key, ticket_value
from omniman_gql.errors import OmnimanError

BAR = {"business_day": {"timezone": "America/Sao_Paulo", "starts_at": "05:00"}}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_a_bar_open_past_midnight_keeps_one_business_day() -> None:
    # 22:00 and 03:00 (São Paulo, UTC-3) belong to the evening's day; 05:00 starts the next one.
    assert business_day(BAR, at("2026-12-07T01:00:00+00:00")) == "2026-12-06"  # 22:00 on the 6th
    assert business_day(BAR, at("2026-12-07T06:00:00+00:00")) == "2026-12-06"  # 03:00 on the 7th
    assert business_day(BAR, at("2026-12-07T08:00:00+00:00")) == "2026-12-07"  # 05:00 on the 7th
    # Defaults: the hub's timezone, midnight.
    assert business_day({}, at("2026-12-07T01:00:00+00:00")) == "2026-12-07"
    assert business_day({}, at("2026-12-07T01:00:00+00:00"), "America/Sao_Paulo") == "2026-12-06"


def test_scopes_values_and_tickets() -> None:
    table, _, _, external = SHIPPED
    now = at("2026-12-07T12:00:00+00:00")
    assert scope_key(table, {}, now) == "2026-12-07" and scope_key(external, {}, now) == ""
    assert normalize_value("  ana ") == "ANA"
    for bad in ("", "   ", "x" * 201, 5):
        with pytest.raises(OmnimanError) as info:
            normalize_value(bad)
        assert info.value.code == "invalid_input"
    assert ticket_value(7, 3) == "007" and ticket_value(1234, 3) == "1234"


@pytest.mark.parametrize(("doc", "field"), [
    ({"code": "pager"}, ("code",)),
    ({"code": "PAGER", "target": "kitchen"}, ("target",)),
    ({"code": "PAGER", "scope": "week"}, ("scope",)),
    ({"code": "PAGER", "copy_to_order": "yes"}, ("copy_to_order",)),
    ({"code": "PAGER", "target": "order", "copy_to_order": True}, ("copy_to_order",)),
    ({"code": "PAGER", "colour": "red"}, ()),
])
def test_bad_ref_types_name_the_key(doc: dict[str, object], field: tuple[str, ...]) -> None:
    with pytest.raises(OmnimanError) as info:
        parse_ref_type(doc)
    assert info.value.code == "invalid_input" and info.value.field == field


@pytest.mark.parametrize(("config", "field"), [
    ({"business_day": {"timezone": "Mars/Olympus"}}, ("config", "business_day", "timezone")),
    ({"business_day": {"starts_at": "25:00"}}, ("config", "business_day", "starts_at")),
    ({"business_day": {"start": "05:00"}}, ("config", "business_day")),
    ({"business_day": "05:00"}, ("config", "business_day")),
    ({"ticket": {"width": 0}}, ("config", "ticket", "width")),
    ({"ticket": {"width": True}}, ("config", "ticket", "width")),
    ({"ticket": {"ref_type": "ticket"}}, ("config", "ticket", "ref_type")),
    ({"ticket": []}, ("config", "ticket")),
])
def test_bad_ticket_and_business_day_config_is_invalid_config_with_its_path(config: dict[str, object],
                                                                           field: tuple[str, ...]) -> None:
    with pytest.raises(OmnimanError) as info:
        validate_channel_config(config)
    assert info.value.code == "invalid_config" and info.value.field == field


def test_good_config_passes() -> None:
    config = {**BAR, "ticket": {"ref_type": "TICKET", "width": 3}}
    assert validate_channel_config(config) == config
