"""Orders after commit: transitions and their errors, on_status directives, custom events, and channel config."""

from __future__ import annotations

import pytest

from omniman_gql.domain.channel_config import KNOWN_KEYS
from omniman_gql.models import Channel, Directive, OrderEvent
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, commit, orders, sessions
from tests.factories import committed_order, make_channel
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio


async def test_error_terminal_status_from_completed_or_cancelled(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code)
    await orders.transition_order(hub, ref=order.ref, status="cancelled")
    exc = await raises("terminal_status", orders.transition_order(hub, ref=order.ref, status="confirmed"))
    assert exc.field == ("status",) and exc.context == {"current": "cancelled", "requested": "confirmed"}


async def test_error_invalid_transition_names_current_requested_and_allowed(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code)
    exc = await raises("invalid_transition", orders.transition_order(hub, ref=order.ref, status="delivered"))
    assert exc.field == ("status",)
    assert exc.context == {"current": "new", "requested": "delivered", "allowed": ["confirmed", "cancelled"]}
    await raises("invalid_transition", orders.transition_order(hub, ref=order.ref, status="no-such-status"))
    assert await count(hub, OrderEvent, OrderEvent.type == "status_changed") == 0


async def test_transition_of_an_unknown_order_is_not_found(hub: Hub) -> None:
    exc = await raises("not_found", orders.transition_order(hub, ref="ORD-NOPE", status="confirmed"))
    assert exc.field == ("ref",)


async def test_channel_flow_sets_initial_status_and_allowed_moves(hub: Hub) -> None:
    flow = {"initial_status": "received", "transitions": {"received": ["cooking"], "cooking": ["served"]},
            "terminal_statuses": ["served"]}
    code = await make_channel(hub, config={"order_flow": flow})
    order = await committed_order(hub, code)
    assert order.status == "received"
    order = await orders.transition_order(hub, ref=order.ref, status="cooking")
    order = await orders.transition_order(hub, ref=order.ref, status="served")
    assert order.status == "served" and order.completed_at is None  # custom statuses have no timestamp column
    await raises("terminal_status", orders.transition_order(hub, ref=order.ref, status="cooking"))


async def test_on_status_writes_its_directives_in_the_transition_transaction(hub: Hub) -> None:
    config = {"on_status": {"confirmed": ["notification.send", "payment.capture"], "cancelled": ["payment.refund"]},
              "post_commit_directives": ["stock.commit"]}
    code = await make_channel(hub, config=config)
    session_data = {"payment": {"intent_id": "pi_42"}}
    session, _ = await sessions.open_session(hub, channel_code=code, data=session_data)
    await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                  ops=[{"op": "add_line", "sku": "A", "qty": "2", "unit_price_q": 150}])
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K")
    ref = outcome.result["order_ref"]
    (post,) = await rows(hub, Directive, Directive.order_ref == ref)
    assert post.topic == "stock.commit" and post.payload["order_ref"] == ref and post.payload["holds"] == []
    await orders.transition_order(hub, ref=ref, status="confirmed")
    found = await rows(hub, Directive, Directive.order_ref == ref, order_by=Directive.id)
    assert [d.topic for d in found] == ["stock.commit", "notification.send", "payment.capture"]
    capture = found[2].payload
    assert capture == {"order_ref": ref, "channel_code": code, "session_key": session.session_key,
                       "status": "confirmed", "amount_q": 300, "intent_id": "pi_42"}
    # A refused transition writes nothing.
    await raises("invalid_transition", orders.transition_order(hub, ref=ref, status="delivered"))
    assert await count(hub, Directive, Directive.order_ref == ref) == 3


async def test_add_order_event_appends_custom_events(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code)
    await orders.add_order_event(hub, ref=order.ref, type="custom.printed", payload={"printer": "bar"}, actor="pos1")
    (event,) = await rows(hub, OrderEvent, OrderEvent.type == "custom.printed")
    assert (event.payload, event.actor, event.order_id) == ({"printer": "bar"}, "pos1", order.id)


async def test_error_invalid_event_type_for_non_custom_events(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code)
    for type_ in ("created", "status_changed", "custom.", "payment.captured"):
        exc = await raises("invalid_event_type", orders.add_order_event(hub, ref=order.ref, type=type_))
        assert exc.field == ("type",)


async def test_error_invalid_config_for_unknown_keys_lists_the_valid_ones(hub: Hub) -> None:
    exc = await raises("invalid_config", channels.upsert_channel(hub, code="web", config={"colour": "red"}))
    assert exc.field == ("config", "colour") and exc.context["valid_keys"] == list(KNOWN_KEYS)
    assert "on_status" in exc.message and "required_checks_on_commit" in exc.message
    assert await count(hub, Channel) == 0


async def test_upsert_channel_creates_then_updates_only_given_fields(hub: Hub) -> None:
    config = {"on_status": {"ready": ["notification.send"]}, "terminology": {"session": "comanda"}}
    channel, created = await channels.upsert_channel(hub, code="ifood", name="iFood", pricing_policy="external",
                                                     edit_policy="locked", config=config)
    assert created and (channel.currency, channel.is_active, channel.config) == ("BRL", True, config)
    channel, created = await channels.upsert_channel(hub, code="ifood", display_order=3, is_active=False)
    assert not created
    assert (channel.name, channel.pricing_policy, channel.edit_policy, channel.display_order,
            channel.is_active) == ("iFood", "external", "locked", 3, False)
    assert [c.code for c in await channels.list_channels(hub)] == ["ifood"]


async def test_upsert_channel_refuses_bad_fields_together(hub: Hub) -> None:
    exc = await raises("invalid_input", channels.upsert_channel(hub, code="pos", pricing_policy="free",
                                                                currency="real", display_order=10**9))
    assert [e.field for e in exc.errors()] == [("pricing_policy",), ("currency",), ("display_order",)]
    await raises("invalid_input", channels.upsert_channel(hub, code="bad code!"))


async def test_error_channel_inactive_refuses_new_sessions(hub: Hub) -> None:
    code = await make_channel(hub, is_active=False)
    exc = await raises("channel_inactive", sessions.open_session(hub, channel_code=code))
    assert exc.field == ("channel_code",)
