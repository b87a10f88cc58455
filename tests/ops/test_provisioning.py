"""`omniman channel apply` and `omniman demo`: idempotent, all-or-nothing, errors that name the channel and the key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from omniman_gql.cli import main
from omniman_gql.errors import OmnimanError
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, channels, console
from omniman_gql.services.provisioning import apply_channels, parse_channel_document, seed_demo
from omniman_gql.settings import Settings, get_settings

pytestmark = pytest.mark.anyio

GOOD_YAML = """\
channels:
  - code: whatsapp
    name: WhatsApp
    pricingPolicy: INTERNAL
    config:
      post_commit_directives: [notification.send]
  - code: rappi
    pricing_policy: external
    edit_policy: locked
    currency: USD
"""
BAD_YAML = """\
- code: fresh
  name: Would be valid on its own
- code: broken
  pricing: internal
"""


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI reads its settings from the environment: point it at this test's database."""
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", database_url)
    monkeypatch.delenv("OMNIMAN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        yield database_url
    finally:
        get_settings.cache_clear()


def channel_rows(hub_channels: list) -> dict[str, dict[str, object]]:
    return {c.code: {k: getattr(c, k) for k in ("name", "pricing_policy", "edit_policy", "currency", "display_order",
                                               "is_active", "config")} for c in hub_channels}


async def test_apply_channels_twice_leaves_the_same_channels(hub: Hub) -> None:
    entries = parse_channel_document(GOOD_YAML, source="channels.yaml")
    first = await apply_channels(hub, entries)
    after_first = channel_rows(await channels.list_channels(hub))
    stamps = {c.code: c.updated_at for c in await channels.list_channels(hub)}
    second = await apply_channels(hub, parse_channel_document(GOOD_YAML, source="channels.yaml"))
    assert {c.code: c.updated_at for c in await channels.list_channels(hub)} == stamps  # nothing was written

    assert [(c.code, c.outcome) for c in first] == [("whatsapp", "created"), ("rappi", "created")]
    assert [(c.code, c.outcome) for c in second] == [("whatsapp", "unchanged"), ("rappi", "unchanged")]
    assert channel_rows(await channels.list_channels(hub)) == after_first
    assert after_first["rappi"] == {"name": "rappi", "pricing_policy": "external", "edit_policy": "locked",
                                    "currency": "USD", "display_order": 0, "is_active": True, "config": {}}
    assert after_first["whatsapp"]["config"] == {"post_commit_directives": ["notification.send"]}


async def test_apply_channels_reports_an_update(hub: Hub) -> None:
    await apply_channels(hub, [{"code": "pos", "name": "Counter"}])
    applied = await apply_channels(hub, [{"code": "pos", "name": "Front counter"}])
    assert [(c.code, c.outcome) for c in applied] == [("pos", "updated")]


async def test_a_bad_document_names_channel_and_key_and_applies_nothing(hub: Hub) -> None:
    with pytest.raises(OmnimanError) as caught:
        await apply_channels(hub, parse_channel_document(BAD_YAML, source="bad.yaml"))

    messages = [e.message for e in caught.value.errors()]
    assert messages == ["channels[1] (broken): unknown key 'pricing'; valid keys: code, name, pricing_policy, "
                        "edit_policy, currency, display_order, is_active, config."]
    assert caught.value.field == ("channels", 1, "pricing")
    assert await channels.list_channels(hub) == []  # not even the valid first channel


async def test_every_bad_channel_is_reported_at_once(hub: Hub) -> None:
    entries = [{"code": "a", "currency": "reais"}, {"code": "b", "config": {"order_flow": {"initial": "new"}}},
               {"code": "a"}, {"name": "no code"}]
    with pytest.raises(OmnimanError) as caught:
        await apply_channels(hub, entries)

    messages = [e.message for e in caught.value.errors()]
    assert len(messages) == 4, messages
    assert messages[0].startswith("channels[0] (a): `currency`")
    assert messages[1].startswith("channels[1] (b): config.order_flow: unknown keys ['initial']")
    assert messages[2] == "channels[2] (a): code 'a' is already given by channels[0]."
    assert messages[3].startswith("channels[3]: `code` must be a slug")
    assert await channels.list_channels(hub) == []


@pytest.mark.parametrize(("text", "source", "expected"), [
    ("channels: [", "x.yaml", "x.yaml is not valid YAML"),
    ("{\"channels\": [}", "x.json", "x.json is not valid JSON"),
    ("chanels: []", "x.yaml", "x.yaml: unknown top-level key 'chanels'"),
    ("42", "x.yaml", "x.yaml: expected a list of channels"),
])
def test_unreadable_documents_are_clear_errors(text: str, source: str, expected: str) -> None:
    with pytest.raises(OmnimanError) as caught:
        parse_channel_document(text, source=source)
    assert caught.value.message.startswith(expected), caught.value.message


async def test_seed_demo_twice_gives_the_same_shop(hub: Hub) -> None:
    first = await seed_demo(hub)
    shop = channel_rows(await channels.list_channels(hub))
    again = await seed_demo(hub)

    assert [c.outcome for c in first.channels] == ["created"] * 3
    assert [c.outcome for c in again.channels] == ["unchanged"] * 3
    assert channel_rows(await channels.list_channels(hub)) == shop
    assert shop["ecommerce"]["config"] == {
        "required_checks_on_commit": ["stock"], "checks": {"stock": {"directive_topic": "stock.hold",
                                                                     "label": "Stock"}},
        "post_commit_directives": ["stock.commit", "payment.capture"],
        "on_status": {"cancelled": ["stock.release", "payment.refund"]}, "icon": "cart"}
    assert (shop["ifood"]["edit_policy"], shop["ifood"]["pricing_policy"]) == ("locked", "external")
    assert (shop["pos"]["edit_policy"], shop["pos"]["pricing_policy"]) == ("open", "internal")
    prices = {p.sku: p.unit_price_q for p in await catalog.list_prices(hub, channel_code="", price_list="")}
    assert prices["COFFEE"] == 550 and prices["CROISSANT"] == 850 and len(prices) == 7
    staff = {(p.sku, p.channel_code): p.unit_price_q for p in await catalog.list_prices(hub, price_list="staff")}
    assert staff == {("COFFEE", "pos"): 300, ("ESPRESSO", "pos"): 250, ("CROISSANT", "pos"): 500}
    assert [(c[1], c[2]) for c in first.customers] == [("Ana Souza", "staff"), ("Bruno Lima", None)]
    assert again.customers == first.customers  # found again by their phones, not made twice
    levels = {sku: on_hand for sku, on_hand, _ in await catalog.stock_levels(hub)}
    assert levels["CHEESECAKE"] == 3 and len(levels) == 7


def test_cli_channel_apply_twice_then_a_bad_file(cli_database: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "channels.json"
    good.write_text(json.dumps({"channels": [{"code": "kiosk", "name": "Kiosk"}]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_YAML)

    assert main(["channel", "apply", str(good)]) == 0
    assert "channel kiosk            created" in capsys.readouterr().out
    assert main(["channel", "apply", str(good)]) == 0
    assert "channel kiosk            unchanged" in capsys.readouterr().out
    assert main(["channel", "apply", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "error: channels[1] (broken): unknown key 'pricing'" in err and "Nothing was applied" in err, err
    assert main(["channel", "apply", "--dry-run", str(good)]) == 0
    assert "1 channel(s) are valid" in capsys.readouterr().out
    # the channel's history has the creation alone (the unchanged, refused and dry runs wrote nothing), by the CLI
    history = asyncio.run(_history(cli_database, "kiosk"))
    assert [(actor, before, after["name"]) for actor, before, after in history] == [
        (f"cli: channels apply {good}", {}, "Kiosk")]


async def _history(database_url: str, code: str) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    hub = Hub.create(Settings(database_url=database_url, redis_url=None))
    try:
        return [(r.actor, r.before, r.after) for r in await console.channel_history(hub, channel_code=code)]
    finally:
        await hub.dispose()


def test_cli_demo_prints_what_it_made_and_next_steps(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "channel ecommerce  created" in out and "COFFEE 5.50" in out and "CHEESECAKE 3" in out
    assert "omniman serve" in out and "/kds" in out and "/console" in out
    assert main(["demo"]) == 0
    assert "channel ecommerce  unchanged" in capsys.readouterr().out
