"""A declined card through the API: the payment is FAILED on the order, a display sees `payment.failed` live,
attachPayment captures a new intent, refunds add up and over_refund names what is left."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from omniman_gql.services import directives
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import ERRORS, OPEN_SESSION, commit, make_channel, ok
from tests.fixtures.app import Api
from tests.graphql import authorize, create_token, gql, init_payload
from tests.stream.wsclient import GraphQLWs, wait_for_watchers

PAYMENT = "payment { status intentId method amountQ capturedQ refundedQ lastError }"
PAYMENT_EVENTS = f"""subscription($channels: [String!]) {{ orderEvents(channelCodes: $channels) {{
  type event {{ payload }} order {{ ref {PAYMENT} }} }} }}"""
MODIFY = f"""mutation($input: ModifySessionInput!) {{ modifySession(input: $input) {{ session {{ rev }}
  {ERRORS} }} }}"""
ATTACH = f"""mutation($input: AttachPaymentInput!) {{ attachPayment(input: $input) {{ order {{ {PAYMENT} }}
  {ERRORS} }} }}"""
REFUND = f"""mutation($input: RefundPaymentInput!) {{ refundPayment(input: $input) {{ order {{ {PAYMENT} }}
  {ERRORS} }} }}"""
ORDER_PAYMENT = f"query($ref: String!) {{ order(ref: $ref) {{ {PAYMENT} }} }}"


@pytest.fixture
def stream_client(stream_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(stream_settings)) as client:
        authorize(client)
        yield client


def paid_order(api: Api, channel: str, intent: str) -> str:
    key = f"S-{uuid.uuid4().hex[:8]}"
    ok(api, OPEN_SESSION, "openSession", {"input": {"channelCode": channel, "sessionKey": key,
                                                     "data": {"payment": {"intent_id": intent, "method": "card"}}}})
    ok(api, MODIFY, "modifySession", {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": "PIE", "qty": "2", "unitPriceQ": 500}}]}})
    return str(commit(api, channel, key)["result"]["orderRef"])


def run_queued(api: Api, ref: str) -> None:
    """Run the order's queued directives as a worker would (no worker runs in this test)."""
    async def run(hub: Any) -> None:
        for row in await directives.directives_of_order(hub, ref):
            if row.status == "queued":
                await directives.run_directive(hub, row.id or 0)

    api.run(run, api.hub)


def test_declined_card_is_seen_live_by_a_display_then_attach_and_refunds(stream_client: TestClient) -> None:
    api = Api(stream_client)
    channel = make_channel(api, config={"post_commit_directives": ["payment.capture"]})
    display = create_token(stream_client, "display", [channel], name="kds-payments")
    ref = paid_order(api, channel, "fail_card")
    pending = api.data(ORDER_PAYMENT, {"ref": ref})["order"]["payment"]

    with stream_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        ws = GraphQLWs(raw)
        ws.init(init_payload(display))
        ws.subscribe("kds", PAYMENT_EVENTS, {"channels": [channel]})
        wait_for_watchers(stream_client, channel)
        run_queued(api, ref)
        failed = ws.next("kds")["orderEvents"]
        attached = ok(api, ATTACH, "attachPayment", {"input": {"orderRef": ref, "intentId": "pi_good"}})
        attach_event = ws.next("kds")["orderEvents"]
        run_queued(api, ref)
        captured = ws.next("kds")["orderEvents"]
        ws.complete("kds")

    assert pending == {"status": "PENDING", "intentId": "fail_card", "method": "card", "amountQ": 1000,
                       "capturedQ": 0, "refundedQ": 0, "lastError": None}
    reason = "the gateway refused the capture of fail_card: declined by the mock gateway"
    assert (failed["type"], failed["event"]["payload"]["reason"]) == ("payment.failed", reason)
    assert failed["order"]["payment"]["status"] == "FAILED" and failed["order"]["payment"]["lastError"] == reason
    assert attached["order"]["payment"]["status"] == "PENDING"
    assert (attach_event["type"], attach_event["order"]["payment"]["intentId"]) == ("payment.attached", "pi_good")
    assert captured["type"] == "payment.captured"
    assert captured["order"]["payment"] | {"lastError": None} == {
        "status": "CAPTURED", "intentId": "pi_good", "method": "card", "amountQ": 1000, "capturedQ": 1000,
        "refundedQ": 0, "lastError": None}

    for amount in (300, 200):
        ok(api, REFUND, "refundPayment", {"input": {"orderRef": ref, "amountQ": amount, "reason": "cold"}})
    run_queued(api, ref)
    partial = api.data(ORDER_PAYMENT, {"ref": ref})["order"]["payment"]
    over = gql(stream_client, REFUND, {"input": {"orderRef": ref, "amountQ": 600}})["data"]["refundPayment"]
    assert (partial["status"], partial["refundedQ"]) == ("PARTIALLY_REFUNDED", 500)
    assert over["order"] is None
    assert [(e["code"], e["field"], e["context"]) for e in over["errors"]] == [
        ("over_refund", ["amountQ"], {"refundable_q": 500, "requested_q": 600})]
