"""Sessions (§4): get-or-open, policies copied at opening, abandon, and the input bounds every column can hold."""

from __future__ import annotations

import re

import pytest

from omniman_gql.models import Directive, Session
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, channels, sessions
from tests.factories import make_channel
from tests.services.support import raises, rows

pytestmark = pytest.mark.anyio


async def test_open_generates_a_key_and_starts_at_rev_0(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    session, created = await sessions.open_session(hub, channel_code=code, data={"customer": {"name": "Ana"}})
    assert created and re.fullmatch(r"SESS-[2-9A-HJKMNP-Z]{12}", session.session_key)
    assert (session.state, session.rev, session.items, session.pricing_policy, session.edit_policy) == (
        "open", 0, [], "external", "open")
    assert session.data == {"customer": {"name": "Ana"}} and session.pricing == {"total_q": 0, "items_count": 0}
    again, created = await sessions.open_session(hub, channel_code=code, session_key=session.session_key)
    assert not created and again.id == session.id


async def test_a_session_keeps_the_policies_it_was_opened_with(hub: Hub) -> None:
    code = await make_channel(hub)
    await catalog.set_prices(hub, [{"sku": "TEA", "unit_price_q": 400}])
    session, _ = await sessions.open_session(hub, channel_code=code)
    await channels.upsert_channel(hub, code=code, pricing_policy="external", edit_policy="locked")
    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                            ops=[{"op": "add_line", "sku": "TEA", "qty": "1"}])
    assert session.items[0]["unit_price_q"] == 400  # still internal: priced from the table
    newer, _ = await sessions.open_session(hub, channel_code=code)
    assert (newer.pricing_policy, newer.edit_policy) == ("external", "locked")


async def test_abandon_frees_the_handle_and_asks_to_release_stock(hub: Hub) -> None:
    code = await make_channel(hub, config={"required_checks_on_commit": ["stock"]})
    first, _ = await sessions.open_session(hub, channel_code=code, handle_type="table", handle_ref="7")
    abandoned = await sessions.abandon_session(hub, channel_code=code, session_key=first.session_key)
    assert abandoned.state == "abandoned" and abandoned.open_handle is None
    second, created = await sessions.open_session(hub, channel_code=code, handle_type="table", handle_ref="7")
    assert created and second.session_key != first.session_key
    (release,) = await rows(hub, Directive, Directive.topic == "stock.release")
    assert release.payload == {"channel_code": code, "session_key": first.session_key}


async def test_open_refuses_inputs_the_columns_cannot_hold(hub: Hub) -> None:
    code = await make_channel(hub)
    for kwargs, field in (({"handle_type": "t" * 65, "handle_ref": "1"}, ("handle_type",)),
                          ({"handle_type": "table", "handle_ref": "r" * 201}, ("handle_ref",)),
                          ({"session_key": "k" * 201}, ("session_key",)),
                          ({"handle_type": "table"}, ("handle_ref",)),
                          ({"data": {"notes": "x" * 70_000}}, ("data",))):
        exc = await raises("invalid_input", sessions.open_session(hub, channel_code=code, **kwargs))
        assert exc.field == field, kwargs
    assert await rows(hub, Session) == []


async def test_modify_refuses_names_and_meta_beyond_their_bounds(hub: Hub) -> None:
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    deep: dict[str, object] = {}
    node = deep
    for _ in range(10):
        node["k"] = {}
        node = node["k"]  # type: ignore[assignment]
    exc = await raises("invalid_input", sessions.modify_session(
        hub, channel_code=code, session_key=session.session_key,
        ops=[{"op": "add_line", "sku": "A", "qty": "1", "unit_price_q": 1, "name": "n" * 201, "meta": deep}]))
    assert [e.field for e in exc.errors()] == [("ops", 0, "add_line", "name"), ("ops", 0, "add_line", "meta")]


async def test_write_back_check_refuses_a_blank_check_code(hub: Hub) -> None:
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    await raises("invalid_input", sessions.write_back_check(hub, channel_code=code, session_key=session.session_key,
                                                            check_code=" ", expected_rev=0, result={}))


class FlatPricing:
    """A pricing backend as the protocol documents it: plain integer prices, no names."""

    async def get_prices(self, db: object, skus: object, channel_code: str) -> dict[str, int]:
        return {"WATER": 250}


async def test_a_pricing_backend_answering_plain_ints_is_honoured(hub: Hub) -> None:
    hub.registry.pricing = FlatPricing()  # type: ignore[assignment]
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                            ops=[{"op": "add_line", "sku": "WATER", "qty": "3"}])
    assert (session.items[0]["unit_price_q"], session.items[0]["name"], session.pricing["total_q"]) == (
        250, "WATER", 750)
