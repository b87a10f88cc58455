"""The kitchen display shows a ticketed channel's pickup number, large, in a real headless Chromium against
`omniman serve`, and the live `orderEvents` message carries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.cdp import chromium
from tests.ops.server import admin_token, omniman_serve, run_omniman
from tests.ops.test_kds_browser import COMMIT, MODIFY, OPEN, TICKET, subscribers, wait_until

pytestmark = pytest.mark.slow

UPSERT = """mutation Upsert($input: ChannelInput!) { upsertChannel(input: $input) { errors { code message } } }"""
PICKUP = TICKET + "?.querySelector('.pickup')"


def test_kds_shows_the_ticket_large(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url, name="counter")
    with omniman_serve(database_url, tmp_path) as server, chromium(tmp_path / "profile") as page:
        # Given a pickup counter that numbers its orders, and the display watching it
        upserted = server.gql(token, UPSERT, {"input": {"code": "pickup", "name": "Pickup",
                                                        "config": {"ticket": {"ref_type": "TICKET", "width": 3}}}})
        assert upserted["upsertChannel"]["errors"] == []
        page.navigate(f"{server.base_url}/kds?channels=pickup&token={token}")
        page.wait_for("document.body.dataset.state === 'live'", timeout=15)
        wait_until(lambda: subscribers(server, token) >= 1, timeout=10, what="the orderEvents subscription")

        # When two orders are committed
        refs = []
        for key in ("PICK-1", "PICK-2"):
            session = {"channelCode": "pickup", "sessionKey": key}
            server.gql(token, OPEN, {"input": session})
            server.gql(token, MODIFY, {"input": {**session, "ops": [{"addLine": {"sku": "COFFEE", "qty": "1"}}]}})
            refs.append(server.gql(token, COMMIT, {"input": {**session, "idempotencyKey": key}})[
                "commitSession"]["result"]["orderRef"])

        # Then each card shows its ticket, larger than anything else on it
        for ref, ticket in zip(refs, ("001", "002"), strict=True):
            page.wait_for(f"{PICKUP.format(ref=ref)}?.dataset.ticket === '{ticket}'", timeout=10)
        sizes = page.evaluate(f"""(() => {{ const card = {TICKET.format(ref=refs[1])};
            const size = (el) => parseFloat(getComputedStyle(el).fontSize);
            return {{pickup: size(card.querySelector('.pickup')), text: card.querySelector('.pickup').textContent,
                     largest_other: Math.max(...[...card.querySelectorAll('*')].filter((el) =>
                         !el.classList.contains('pickup') && el.children.length === 0).map(size))}}; }})()""")
        assert sizes["text"] == "002" and sizes["pickup"] > sizes["largest_other"] * 1.5, sizes
        assert page.errors == [], page.errors
