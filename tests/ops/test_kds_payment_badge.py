"""The kitchen display's payment badge in a real headless Chromium against `omniman serve`: an order of a channel
that captures payment shows FAILED (red) when its capture is declined, and the badge goes once the capture of a
new intent lands, live."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.cdp import chromium
from tests.ops.server import admin_token, omniman_serve, run_omniman
from tests.ops.test_kds_browser import COMMIT, MODIFY, OPEN, TICKET, subscribers, wait_until

pytestmark = pytest.mark.slow

UPSERT = """mutation Upsert($input: ChannelInput!) { upsertChannel(input: $input) { errors { code message } } }"""
ATTACH = """mutation Attach($input: AttachPaymentInput!) {
  attachPayment(input: $input) { order { payment { status } } errors { code message } } }"""
PAYMENT = "query Payment($ref: String!) { order(ref: $ref) { payment { status } } }"
BADGE = TICKET + "?.querySelector('.badge')"


def test_kds_badge_shows_a_declined_card_then_goes_when_the_capture_lands(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url, name="kitchen")
    with omniman_serve(database_url, tmp_path) as server, chromium(tmp_path / "profile") as page:
        # Given a counter that captures payment after commit, and the display watching it
        upserted = server.gql(token, UPSERT, {"input": {"code": "paycounter", "name": "Pay at counter",
                                                        "config": {"post_commit_directives": ["payment.capture"]}}})
        assert upserted["upsertChannel"]["errors"] == []
        page.navigate(f"{server.base_url}/kds?channels=paycounter&token={token}")
        page.wait_for("document.body.dataset.state === 'live'", timeout=15)
        wait_until(lambda: subscribers(server, token) >= 1, timeout=10, what="the orderEvents subscription")

        # When an order is committed with a card the gateway declines
        session = {"channelCode": "paycounter", "sessionKey": "PAY-1"}
        server.gql(token, OPEN, {"input": {**session, "data": {"payment": {"intent_id": "fail_card"}}}})
        server.gql(token, MODIFY, {"input": {**session, "ops": [{"addLine": {"sku": "COFFEE", "qty": "1"}}]}})
        committed = server.gql(token, COMMIT, {"input": {**session, "idempotencyKey": "PAY-1"}})
        ref = committed["commitSession"]["result"]["orderRef"]

        # Then its ticket carries a red FAILED badge
        page.wait_for(f"{BADGE.format(ref=ref)}?.dataset.payment === 'FAILED'", timeout=10)
        failed = page.evaluate(f"""(() => {{ const b = {BADGE.format(ref=ref)};
            return {{text: b.textContent, colour: getComputedStyle(b).backgroundColor}}; }})()""")
        assert failed == {"text": "FAILED", "colour": "rgb(239, 68, 68)"}

        # When staff attach a good card, and its capture lands
        attached = server.gql(token, ATTACH, {"input": {"orderRef": ref, "intentId": "pi_good", "method": "card"}})
        assert attached["attachPayment"]["errors"] == []
        wait_until(lambda: server.gql(token, PAYMENT, {"ref": ref})["order"]["payment"]["status"] == "CAPTURED",
                   timeout=10, what="the capture")

        # Then the badge is gone from the ticket, which stays on screen
        page.wait_for(f"{TICKET.format(ref=ref)} !== null && {BADGE.format(ref=ref)} === null", timeout=5)
        assert page.errors == [], page.errors
