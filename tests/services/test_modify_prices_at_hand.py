"""modifySession on PostgreSQL reads the prices it will likely need with the session (one statement): the same
sessions, the same errors in the same order, as reading the session and then the prices (SQLite's way, and the way
of any other pricing backend)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from omniman_gql.backends.price_table import PriceTable
from omniman_gql.domain.draft import PriceQuote
from omniman_gql.errors import OmnimanError
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, channels, commit, modify, sessions
from omniman_gql.services.common import PricesAtHand
from tests.factories import make_channel

pytestmark = pytest.mark.anyio

Step = Callable[[Any], dict[str, Any]]  # the current session -> modify_session's keyword arguments


def _without_line_ids(value: Any) -> Any:
    """Line ids are random: compare everything else."""
    if isinstance(value, dict):
        return {key: _without_line_ids(item) for key, item in value.items() if key not in ("line_id", "id")}
    if isinstance(value, list):
        return [_without_line_ids(item) for item in value]
    return value


async def _scenario(hub: Hub) -> tuple[list[str], str]:
    """Modifies of every kind, and modifies refused for each reason, on fresh channels; what each one answered
    (with the channels' and sessions' names made the same from one run to the next)."""
    tag = uuid.uuid4().hex[:8]
    code = await make_channel(hub, f"{tag}-main")
    locked = await make_channel(hub, f"{tag}-locked")
    external = await make_channel(hub, f"{tag}-external", pricing_policy="external")
    await catalog.set_prices(hub, prices=[{"sku": "A", "unit_price_q": 125, "name": "Apple"},
                                          {"sku": "B", "unit_price_q": 7}, {"sku": "C", "unit_price_q": 1}])
    session, _ = await sessions.open_session(hub, channel_code=code, session_key=f"{tag}-s")
    locked_session, _ = await sessions.open_session(hub, channel_code=locked, session_key=f"{tag}-l")
    await channels.upsert_channel(hub, code=locked, edit_policy="locked")
    external_session, _ = await sessions.open_session(hub, channel_code=external, session_key=f"{tag}-e")
    done, _ = await sessions.open_session(hub, channel_code=code, session_key=f"{tag}-d")
    await sessions.modify_session(hub, channel_code=code, session_key=done.session_key,
                                  ops=[{"op": "add_line", "sku": "A", "qty": "1"}])
    await commit.commit_session(hub, channel_code=code, session_key=done.session_key, idempotency_key=tag)

    def on(target: Any, ops: Any, **extra: Any) -> Step:
        return lambda current: {"channel_code": target.channel_code, "session_key": target.session_key,
                                "ops": ops(current) if callable(ops) else ops, **extra}

    def line(current: Any, sku: str) -> str:
        return next(item["line_id"] for item in current.items if item["sku"] == sku)

    steps: list[Step] = [
        on(session, [{"op": "add_line", "sku": "A", "qty": "2"}, {"addLine": {"sku": " B ", "qty": "1.5"}}]),
        on(session, lambda s: [{"op": "replace_sku", "line_id": line(s, "A"), "sku": "C"},
                               {"setQty": {"lineId": line(s, "B"), "qty": "3"}}]),
        on(session, [{"op": "add_line", "sku": "NOPE", "qty": "1"}]),  # no price: refused by a validator
        on(session, [{"op": "add_line", "sku": "A", "qty": "1"}], expected_rev=7),  # stale_rev
        on(session, "not a list", expected_rev=7),  # stale_rev comes before the ops' own errors
        on(session, [{"op": "add_line", "qty": "1"}, 3, {"op": "nope"}]),  # the ops' errors, all of them
        on(session, lambda s: [{"op": "remove_line", "line_id": line(s, "C")}, {"op": "add_line", "sku": "A",
                                                                                "qty": "0.5"}]),
        on(locked_session, [{"op": "add_line", "sku": "A", "qty": "1"}], expected_rev=7),  # locked, then stale
        on(done, [{"op": "add_line", "sku": "A", "qty": "1"}]),  # already_committed
        on(external_session, [{"op": "add_line", "sku": "A", "qty": "1", "unit_price_q": 9}]),
        lambda current: {"channel_code": code, "session_key": "none-such", "ops": []},  # not_found
        on(session, lambda s: [{"op": "set_qty", "line_id": line(s, "B"), "qty": "2"}]),
    ]
    answers: list[Any] = []
    current = session
    for step in steps:
        try:
            edited = await sessions.modify_session(hub, **step(current))
        except OmnimanError as exc:
            answers.append(("error", [(e.code.value, e.field, _without_line_ids(e.context)) for e in exc.errors()]))
            continue
        if edited.session_key == session.session_key:
            current = edited
        answers.append(("ok", edited.rev, _without_line_ids([edited.items, edited.data, edited.pricing,
                                                              edited.pricing_trace])))
    return [answer[0] for answer in answers], repr(answers).replace(tag, "<tag>")


async def test_the_same_answers_with_and_without_the_prices_read_with_the_session(
    hub: Hub, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = _count_price_lookups(monkeypatch)
    together = await _scenario(hub)
    looked_up = len(lookups)
    monkeypatch.setattr(modify, "prices_read_with_session", lambda *_args: False)
    apart = await _scenario(hub)
    assert together == apart
    assert together[0] == ["ok", "ok", "error", "error", "error", "error", "ok", "error", "error", "ok", "error", "ok"]
    # PostgreSQL read every price with its session; SQLite looked them up for each priced modify.
    assert looked_up == (0 if backend == "postgresql" else len(lookups) - looked_up) and len(lookups) > looked_up


def _count_price_lookups(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    fetch = modify.fetch_prices

    async def counted(*args: Any) -> Any:
        calls.append(args)
        return await fetch(*args)

    monkeypatch.setattr(modify, "fetch_prices", counted)
    return calls


async def test_a_draft_needing_prices_not_read_with_the_session_looks_them_up(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SKUs guessed from the raw ops miss one (here: all): the draft's prices are looked up as before."""
    expected = await _scenario(hub)
    monkeypatch.setattr(modify, "_skus_named", lambda _ops: set())
    lookups = _count_price_lookups(monkeypatch)
    assert await _scenario(hub) == expected
    assert lookups


def test_prices_at_hand_answer_only_for_skus_they_were_read_for() -> None:
    at_hand = PricesAtHand(frozenset({"A", "B", "GONE"}), {"A": PriceQuote(5, "a"), "B": PriceQuote(7)})
    assert at_hand.for_skus({"B", "GONE"}) == {"B": PriceQuote(7)}  # a SKU without a price has no quote
    assert at_hand.for_skus({"A", "C"}) is None  # C was not read: look it up


def test_skus_named_reads_raw_ops_leniently() -> None:
    assert modify._skus_named([{"op": "add_line", "sku": " A "}, {"replaceSku": {"sku": "B"}}, {"op": "x"},
                               {"sku": 3}, "junk", {"a": 1, "b": 2}, {"setData": 5}]) == {"A", "B"}
    assert modify._skus_named("not a list") == set() and modify._skus_named(None) == set()


async def test_the_one_statement_reads_what_the_price_table_answers(hub: Hub, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL's statement")
    code = await make_channel(hub)
    await catalog.set_prices(hub, prices=[{"sku": "A", "unit_price_q": 125, "name": "Apple"},
                                          {"sku": "B", "unit_price_q": 7}, {"sku": "C", "unit_price_q": 1}])
    session, _ = await sessions.open_session(hub, channel_code=code)
    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                            ops=[{"op": "add_line", "sku": "A", "qty": "1"}])
    async with hub.transaction(autocommit=True) as uow:
        read, _channel, at_hand = await modify._editable_session_and_prices(
            uow, code, session.session_key, None, [{"op": "add_line", "sku": "C"}, {"addLine": {"sku": "NONE"}}])
        assert read.rev == session.rev and read.items == session.items and at_hand is not None
        assert at_hand.asked == {"A", "C", "NONE"}
        assert at_hand.quotes == await PriceTable().get_prices(uow, ["A", "C", "NONE"], code)
        assert await uow.sessions.read_with_prices(code, "none-such", ["A"]) is None


async def test_only_this_sessions_lines_are_read_not_every_sessions(hub: Hub, backend: str) -> None:
    """The line SKUs are the read session's own: another session's lines add no quote (and no scan of its rows)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's statement")
    code = await make_channel(hub)
    await catalog.set_prices(hub, prices=[{"sku": "A", "unit_price_q": 125}, {"sku": "B", "unit_price_q": 7},
                                          {"sku": "C", "unit_price_q": 1}])
    other, _ = await sessions.open_session(hub, channel_code=code)
    await sessions.modify_session(hub, channel_code=code, session_key=other.session_key,
                                  ops=[{"op": "add_line", "sku": "B", "qty": "1"}])
    mine, _ = await sessions.open_session(hub, channel_code=code)
    async with hub.transaction(autocommit=True) as uow:
        found = await modify._editable_session_and_prices(uow, code, mine.session_key, None,
                                                          [{"op": "add_line", "sku": "A"}])
    assert found is not None and found[2] is not None
    assert found[2].asked == {"A"} and set(found[2].quotes) == {"A"}
