"""The console with refs, tickets and search, in a real Chromium against a real `omniman serve`: a ticket number typed
into the orders search shows exactly that order (and combines with the other filters); the order page shows its
ticket, large, and its refs; a session's TABLE ref shows on the sessions list and page, where another ref is attached
and one detached by hand; an operator over a rate limit is told when to try again. Screenshots of the orders list
and an order page land in docs/ when OMNIMAN_CONSOLE_SCREENSHOTS=docs is set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.ops.cdp import Page, chromium
from tests.ops.server import Served, admin_token, omniman_serve, run_omniman
from tests.ops.test_console_browser import keep, sign_in, token
from tests.ops.test_kds_browser import COMMIT, MODIFY, OPEN, commit_over_api, subscribers, wait_until

pytestmark = pytest.mark.slow

UPSERT = """mutation($input: ChannelInput!) { upsertChannel(input: $input) { errors { code message } } }"""
ATTACH = """mutation($input: AttachRefInput!) { attachRef(input: $input) { errors { code message } } }"""
RESOLVE = """query($type: String!, $value: String!) {
  resolveRef(channelCode: "pos", type: $type, value: $value) { session { sessionKey } order { ref } } }"""
ORDER = """query($ref: String!) { order(ref: $ref) { ticket refs { type value } } }"""
ROWS = "[...document.querySelectorAll('#orders-body tr')].map((tr) => tr.dataset.ref)"
RETRY = re.compile(r"Try again in (\d+) s\.")


def commit_ticketed(server: Served, admin: str, key: str) -> str:
    """An order on the ticketed `pickup` channel; returns its ref."""
    session = {"channelCode": "pickup", "sessionKey": key}
    server.gql(admin, OPEN, {"input": session})
    server.gql(admin, MODIFY, {"input": {**session, "ops": [{"addLine": {"sku": "COFFEE", "qty": "1"}}]}})
    committed = server.gql(admin, COMMIT, {"input": {**session, "idempotencyKey": key}})
    assert committed["commitSession"]["errors"] == [], committed
    return str(committed["commitSession"]["result"]["orderRef"])


def apply_filters(page: Page, **values: str) -> str:
    """Set the orders filters (by control name) and apply them; how the read ended (`done` or `failed`)."""
    page.evaluate(f"""(() => {{ const form = document.querySelector('form.filters');
        for (const [name, value] of Object.entries({json.dumps(values)})) form.elements[name].value = value;
        form.dataset.state = 'submitting'; form.requestSubmit(); }})()""")
    return str(page.wait_for("['done', 'failed'].includes(document.querySelector('form.filters').dataset.state)"
                             " && document.querySelector('form.filters').dataset.state"))


def filter_orders(page: Page, **values: str) -> list[str]:
    """The refs listed once the filters are applied (the read must succeed)."""
    assert apply_filters(page, **values) == "done"
    return list(page.evaluate(ROWS))


def resolve(server: Served, admin: str, type_: str, value: str) -> object:
    return server.gql(admin, RESOLVE, {"type": type_, "value": value})["resolveRef"]


def test_search_tickets_and_session_refs(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    admin = admin_token(database_url, name="console-admin")
    staff = token(database_url, "staff")
    with omniman_serve(database_url, tmp_path) as server, chromium(tmp_path / "profile") as page:
        # Given a pickup counter numbering its orders (001, 002, 003) and a POS order without a ticket
        upserted = server.gql(admin, UPSERT, {"input": {"code": "pickup", "name": "Pickup counter",
                                                        "config": {"ticket": {"ref_type": "TICKET", "width": 3}}}})
        assert upserted["upsertChannel"]["errors"] == []
        tickets = {commit_ticketed(server, admin, f"PICK-{n}"): f"00{n}" for n in (1, 2, 3)}
        assert {ref: server.gql(admin, ORDER, {"ref": ref})["order"]["ticket"] for ref in tickets} == tickets
        unticketed = commit_over_api(server, admin, "REFS-POS", "9")
        second = next(ref for ref, ticket in tickets.items() if ticket == "002")

        page.navigate(f"{server.base_url}/console")
        sign_in(page, staff)
        page.wait_for("document.querySelector('form.filters')?.dataset.state === 'done'")
        wait_until(lambda: subscribers(server, admin) >= 1, timeout=10, what="the console's subscription")
        listed = page.evaluate(ROWS)
        assert set(listed) == {*tickets, unticketed}
        assert page.evaluate(f"document.querySelector('#orders-body tr[data-ref=\"{second}\"] td.ticket-cell')"
                             ".textContent") == "002"
        keep(page.screenshot(tmp_path / "orders.png"), "console-orders.png")

        # When the operator types a ticket number into the search box, the list shows exactly that order
        assert filter_orders(page, search="002") == [second]
        # and the search is combined with the other filters
        assert filter_orders(page, search="002", status="confirmed") == []
        assert filter_orders(page, search="002", status="", channel="pos") == []
        assert filter_orders(page, search="002", channel="pickup") == [second]
        assert filter_orders(page, search="", channel="", customer="NOBODY") == []
        assert set(filter_orders(page, customer="")) == {*tickets, unticketed}
        # A search over 200 characters (past the box's maxlength) is refused with the server's reason; rows kept
        assert apply_filters(page, search="x" * 201) == "failed"
        assert "200" in page.evaluate("document.getElementById('orders-error').textContent")
        assert set(page.evaluate(ROWS)) == {*tickets, unticketed}
        assert filter_orders(page, search="002") == [second]
        assert page.evaluate("document.getElementById('orders-error').hidden")

        # Its page shows the ticket, larger than anything else there, and its refs
        page.click(f'#orders-body tr[data-ref="{second}"] a')
        page.wait_for("document.getElementById('order-ticket') !== null")
        sizes = page.evaluate("""(() => { const size = (el) => parseFloat(getComputedStyle(el).fontSize);
            const ticket = document.getElementById('order-ticket');
            return {ticket: ticket.dataset.ticket, size: size(ticket),
                    title: size(document.getElementById('order-title'))}; })()""")
        assert sizes["ticket"] == "002" and sizes["size"] > 1.5 * sizes["title"], sizes
        page.wait_for("document.querySelector('#order-refs li[data-ref-type=\"TICKET\"]')?.dataset.refValue"
                      " === '002'")
        keep(page.screenshot(tmp_path / "order.png"), "console-order.png")

        # A tab at table 5: the sessions list and its page show the TABLE ref
        session = {"channelCode": "pos", "sessionKey": "TAB-5"}
        server.gql(admin, OPEN, {"input": session})
        assert server.gql(admin, ATTACH, {"input": {**session, "type": "TABLE", "value": "5"}})[
            "attachRef"]["errors"] == []
        page.evaluate("location.hash = '#/sessions'")
        page.wait_for("document.querySelector('tr[data-session=\"TAB-5\"] td.refs')?.textContent === 'TABLE 5'")
        page.evaluate("location.hash = '#/sessions/pos/TAB-5'")
        page.wait_for("document.querySelector('#session-refs li[data-ref-type=\"TABLE\"]')?.dataset.refValue === '5'")

        # The operator attaches a TAB by name, then detaches the table after confirming
        page.evaluate("""(() => { const form = document.getElementById('attach-ref');
            form.elements['ref-type'].value = 'TAB'; form.elements['ref-value'].value = ' ana ';
            form.requestSubmit(); })()""")
        page.wait_for("document.querySelector('#session-refs li[data-ref-type=\"TAB\"]')?.dataset.refValue === 'ANA'")
        assert resolve(server, admin, "TAB", "ANA") == {"session": {"sessionKey": "TAB-5"}, "order": None}
        page.click('button[data-detach="TABLE 5"]')
        page.wait_for("document.getElementById('confirm').open")
        page.click("#confirm-ok")
        page.wait_for("document.querySelector('#session-refs li[data-ref-type=\"TABLE\"]') === null")
        assert resolve(server, admin, "TABLE", "5") is None
        # A value another session holds is refused with the server's code, and nothing changes
        server.gql(admin, OPEN, {"input": {"channelCode": "pos", "sessionKey": "TAB-6"}})
        assert server.gql(admin, ATTACH, {"input": {"channelCode": "pos", "sessionKey": "TAB-6", "type": "TABLE",
                                                    "value": "6"}})["attachRef"]["errors"] == []
        page.evaluate("""(() => { const form = document.getElementById('attach-ref');
            form.elements['ref-type'].value = 'TABLE'; form.elements['ref-value'].value = '6';
            form.requestSubmit(); })()""")
        page.wait_for("document.querySelector('.messages li[data-code=\"ref_taken\"]') !== null")
        assert resolve(server, admin, "TABLE", "6") == {"session": {"sessionKey": "TAB-6"}, "order": None}
        assert page.errors == [], page.errors


def test_a_rate_limited_operator_is_told_when_to_retry(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    staff = token(database_url, "staff")
    # Six reads an hour per token: signing in and the first list use five (viewer, channels, subscription, alerts,
    # orders); the next few reads are refused for the rest of the hour
    with omniman_serve(database_url, tmp_path, OMNIMAN_RATE_LIMIT_READ="6/hour") as server, \
            chromium(tmp_path / "profile") as page:
        page.navigate(f"{server.base_url}/console")
        sign_in(page, staff)
        page.wait_for("document.querySelector('form.filters')?.dataset.state", timeout=15)
        for _ in range(8):
            state = page.wait_for("['done', 'failed'].includes(document.querySelector('form.filters').dataset.state)"
                                  " && document.querySelector('form.filters').dataset.state")
            if state == "failed":
                break
            page.evaluate("document.querySelector('form.filters').requestSubmit()")
        problem = page.evaluate("""(() => { const p = document.getElementById('orders-error');
            return {hidden: p.hidden, code: p.dataset.code, text: p.textContent}; })()""")
        assert problem["hidden"] is False and problem["code"] == "RATE_LIMITED", problem
        match = RETRY.search(problem["text"])
        assert match and 1 <= int(match.group(1)) <= 3600, problem
        assert page.evaluate("document.getElementById('toast').dataset.code") == "RATE_LIMITED"

        # Reopened while still limited: the sign-in says when to retry, and the token is kept (it may be fine)
        page.send("Page.reload")
        page.wait_for("document.getElementById('signin').open && "
                      "document.getElementById('signin-reason').dataset.refused === 'true'")
        assert RETRY.search(page.evaluate("document.getElementById('signin-reason').textContent"))
        assert page.evaluate("localStorage.getItem('omniman.console.token')") == staff
        assert page.errors == [], page.errors
