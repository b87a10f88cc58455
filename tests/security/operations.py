"""Every query and mutation of the API as a row of the permission matrix: its document, the action it needs, whether
its object lives on a channel, how to arrange an object it can act on, and what success looks like."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import auth, directives, payments, sessions
from omniman_gql.services.auth import Action
from tests.api.operations import commit, import_order, make_channel, ok, open_with_lines
from tests.fixtures.app import Api

Vars = dict[str, Any]
ERR = "errors { code message field context }"
MISSING_CHANNEL = "nowhere"  # a channel that never exists: what a hidden one must look like
MISSING_REF = "ORD-20000101-NOWHERE0"
MISSING_FULFILLMENT = "FUL-NOWHERE0"


def key() -> str:
    return f"S-{uuid.uuid4().hex[:8]}"


def new_order(api: Api, channel: str) -> dict[str, Any]:
    return import_order(api, channel)


def session_with_issue(api: Api, channel: str) -> str:
    k, lines = open_with_lines(api, channel)
    issue = {"id": "ISS-1", "code": "stock.insufficient", "blocking": True, "message": "only 1 left",
             "context": {"actions": [{"id": "ACT-1", "label": "adjust to 1",
                                      "ops": [{"op": "set_qty", "line_id": lines[0], "qty": "1"}]}]}}
    assert api.run(sessions.write_back_check, api.hub, channel_code=channel, session_key=k, check_code="stock",
                   expected_rev=1, result={"ok": False}, issues=[issue])
    return k


def failed_directive(api: Api, channel: str) -> str:
    ok(api, "mutation($c: String!) { upsertChannel(input: {code: $c, config: {post_commit_directives: "
            "[\"notification.send\"]}}) { errors { code } } }", "upsertChannel", {"c": channel})
    k, _ = open_with_lines(api, channel)
    ref = commit(api, channel, k)["result"]["orderRef"]

    async def fail(hub: Hub) -> int:
        async with hub.transaction() as uow:
            await uow.db.execute(update(Directive).where(Directive.order_ref == ref).values(status="failed"))
        return 0

    api.run(fail, api.hub)
    edges = api.data("query { directives(status: FAILED, first: 10) { edges { node { id orderRef } } } }")
    return str(next(e["node"]["id"] for e in edges["directives"]["edges"] if e["node"]["orderRef"] == ref))


def fulfillment(api: Api, channel: str) -> str:
    order = new_order(api, channel)
    body = ok(api, """mutation($input: CreateFulfillmentInput!) { createFulfillment(input: $input) {
        fulfillment { ref } errors { code } } }""", "createFulfillment",
              {"input": {"orderRef": order["ref"], "items": [{"lineId": order["items"][0]["lineId"], "qty": "1"}]}})
    return str(body["fulfillment"]["ref"])


def token_id(api: Api, channel: str) -> str:
    row, _secret = api.run(auth.create_token, api.hub, name=f"doomed-{uuid.uuid4().hex[:6]}", role="display",
                           channels=[channel])
    return str(row.id)


def customer(api: Api, channel: str) -> str:
    code = f"C-{uuid.uuid4().hex[:8]}"
    ok(api, "mutation($input: CustomerInput!) { upsertCustomer(input: $input) { errors { code } } }",
       "upsertCustomer", {"input": {"code": code, "name": "Ana"}})
    return code


def paid_order(api: Api, channel: str) -> str:
    """An order whose payment was captured (attached, then its capture run by hand)."""
    ref = str(new_order(api, channel)["ref"])
    api.run(payments.attach_payment, api.hub, ref=ref, intent_id=f"pi_{uuid.uuid4().hex[:8]}")

    async def capture(hub: Hub) -> None:
        for row in await directives.directives_of_order(hub, ref):
            await directives.run_directive(hub, row.id or 0)

    api.run(capture, api.hub)
    return ref


def tab(api: Api, channel: str) -> Vars:
    """An open session holding a fresh TAB ref: the variables naming that ref."""
    session_key = open_with_lines(api, channel, lines=[])[0]
    value = f"T{uuid.uuid4().hex[:8]}".upper()
    ok(api, f"""mutation($input: AttachRefInput!) {{ attachRef(input: $input) {{ {ERR} }} }}""", "attachRef",
       {"input": {"channelCode": channel, "type": "TAB", "value": value, "sessionKey": session_key}})
    return {"channel": channel, "type": "TAB", "value": value}


def checked_session(api: Api, channel: str) -> str:
    """An open session on a channel whose commits need a stock check (so `runChecks` has something to run)."""
    ok(api, "mutation($c: String!) { upsertChannel(input: {code: $c, config: {required_checks_on_commit: [\"stock\"]}})"
            " { errors { code } } }", "upsertChannel", {"c": channel})
    return open_with_lines(api, channel)[0]


def used_key(api: Api, channel: str) -> Vars:
    k, _ = open_with_lines(api, channel)
    idempotency = uuid.uuid4().hex
    commit(api, channel, k, idempotency)
    return {"channel": channel, "key": idempotency}


def payload_ok(value: Any, variables: Vars) -> bool:
    return isinstance(value, dict) and value.get("errors") == []


def edges(value: Any) -> list[Any]:
    return [edge["node"] for edge in value["edges"]]


@dataclass(frozen=True)
class Op:
    """One root field: `arrange(admin, channel)` makes something to act on and returns the variables;
    `missing(variables)` names something that does not exist (a hidden object must be answered the same);
    `succeeded(value, variables)` tells an allowed call's result."""

    name: str
    document: str
    action: Action
    scoped: bool
    arrange: Callable[[Api, str], Vars]
    succeeded: Callable[[Any, Vars], bool]
    missing: Callable[[Vars], Vars] | None = None


def _channel(field: str = "channel") -> Callable[[Vars], Vars]:
    def swap(variables: Vars) -> Vars:
        if "input" in variables:
            return {**variables, "input": {**variables["input"], "channelCode": MISSING_CHANNEL}}
        return {**variables, field: MISSING_CHANNEL}
    return swap


def _input(**values: str) -> Callable[[Vars], Vars]:
    return lambda variables: {**variables, "input": {**variables["input"], **values}}


QUERIES = [
    Op("channels", "query { channels { code } }", Action.READ, True,
       lambda api, c: {"code": c}, lambda v, vs: vs["code"] in [ch["code"] for ch in v]),
    Op("channel", "query($code: String!) { channel(code: $code) { code } }", Action.READ, True,
       lambda api, c: {"code": c}, lambda v, vs: v == {"code": vs["code"]}, _channel("code")),
    Op("session", """query($channel: String!, $key: String!) { session(channelCode: $channel, sessionKey: $key) {
        sessionKey } }""", Action.READ, True,
       lambda api, c: {"channel": c, "key": open_with_lines(api, c)[0]},
       lambda v, vs: v == {"sessionKey": vs["key"]}, _channel()),
    Op("sessions", """query($channel: String) { sessions(channelCode: $channel, first: 10) { edges {
        node { sessionKey } } } }""", Action.READ, True,
       lambda api, c: {"channel": c, "key": open_with_lines(api, c)[0]},
       lambda v, vs: {"sessionKey": vs["key"]} in edges(v), _channel()),
    Op("order", "query($ref: String!) { order(ref: $ref) { ref } }", Action.READ, True,
       lambda api, c: {"ref": new_order(api, c)["ref"]}, lambda v, vs: v == {"ref": vs["ref"]},
       lambda vs: {"ref": MISSING_REF}),
    Op("orders", "query($channel: String) { orders(channelCode: $channel, first: 10) { edges { node { ref } } } }",
       Action.READ, True, lambda api, c: {"channel": c, "ref": new_order(api, c)["ref"]},
       lambda v, vs: {"ref": vs["ref"]} in edges(v), _channel()),
    Op("directives", "query { directives(first: 10) { edges { node { id } } } }", Action.ADMIN, False,
       lambda api, c: {}, lambda v, vs: isinstance(v["edges"], list)),
    Op("prices", "query { prices { sku } }", Action.READ_CATALOG, False,
       lambda api, c: {}, lambda v, vs: isinstance(v, list)),
    Op("stockLevels", "query { stockLevels { sku } }", Action.READ_CATALOG, False,
       lambda api, c: {}, lambda v, vs: isinstance(v, list)),
    Op("tokens", "query { tokens { id name } }", Action.ADMIN, False,
       lambda api, c: {}, lambda v, vs: isinstance(v, list) and len(v) >= 1),
    Op("viewer", "query { viewer { name role } }", Action.READ, False,
       lambda api, c: {}, lambda v, vs: bool(v["name"]) and v["role"] in ("ADMIN", "STAFF", "CLIENT", "DISPLAY")),
    Op("idempotencyKey", """query($channel: String!, $key: String!) { idempotencyKey(channelCode: $channel,
        key: $key) { key status orderRef } }""", Action.ADMIN, False, used_key,
       lambda v, vs: v is not None and v["key"] == vs["key"] and v["status"] == "done" and bool(v["orderRef"])),
    Op("directiveAlerts", "query { directiveAlerts { alerting failedCount overdueCount thresholdMinutes } }",
       Action.MANAGE_ORDER, False, lambda api, c: {}, lambda v, vs: v["thresholdMinutes"] == 5),
    Op("customer", "query($code: String!) { customer(code: $code) { code } }", Action.MANAGE_CUSTOMERS, False,
       lambda api, c: {"code": customer(api, c)}, lambda v, vs: v == {"code": vs["code"]}),
    Op("customers", "query($search: String) { customers(search: $search, first: 5) { edges { node { code } } } }",
       Action.MANAGE_CUSTOMERS, False, lambda api, c: {"search": customer(api, c)},
       lambda v, vs: [n["code"] for n in edges(v)] == [vs["search"]]),
    Op("refTypes", "query { refTypes { code } }", Action.READ, False,
       lambda api, c: {}, lambda v, vs: {"code": "TABLE"} in v),
    Op("resolveRef", """query($channel: String!, $type: String!, $value: String!) {
        resolveRef(channelCode: $channel, type: $type, value: $value) { ref { value } } }""", Action.READ, True,
       tab, lambda v, vs: v == {"ref": {"value": vs["value"]}}, _channel()),
]

MUTATIONS = [
    Op("upsertChannel", f"""mutation($input: ChannelInput!) {{ upsertChannel(input: $input) {{ channel {{ code }}
        {ERR} }} }}""",
       Action.ADMIN, False, lambda api, c: {"input": {"code": f"new-{uuid.uuid4().hex[:6]}"}}, payload_ok),
    Op("openSession", f"""mutation($input: OpenSessionInput!) {{ openSession(input: $input) {{ session {{ rev }}
        {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "sessionKey": key()}}, payload_ok, _channel()),
    Op("modifySession", f"""mutation($input: ModifySessionInput!) {{ modifySession(input: $input) {{
        session {{ rev }} {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "sessionKey": open_with_lines(api, c, lines=[])[0],
                                 "ops": [{"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 300}}]}},
       payload_ok, _channel()),
    Op("resolveIssue", f"""mutation($input: ResolveIssueInput!) {{ resolveIssue(input: $input) {{
        session {{ rev }} {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "sessionKey": session_with_issue(api, c), "issueId": "ISS-1",
                                 "actionId": "ACT-1"}}, payload_ok, _channel()),
    Op("commitSession", f"""mutation($input: CommitSessionInput!) {{ commitSession(input: $input) {{
        result {{ orderRef }} {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "sessionKey": open_with_lines(api, c)[0],
                                 "idempotencyKey": uuid.uuid4().hex}}, payload_ok, _channel()),
    Op("abandonSession", f"""mutation($input: SessionRefInput!) {{ abandonSession(input: $input) {{
        session {{ state }} {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "sessionKey": open_with_lines(api, c, lines=[])[0]}},
       payload_ok, _channel()),
    Op("importOrder", f"""mutation($input: ImportOrderInput!) {{ importOrder(input: $input) {{ order {{ ref }}
        {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "externalRef": uuid.uuid4().hex,
                                 "items": [{"sku": "PIZZA", "qty": "1", "unitPriceQ": 4990}]}}, payload_ok, _channel()),
    Op("transitionOrder", f"""mutation($input: TransitionOrderInput!) {{ transitionOrder(input: $input) {{
        order {{ status }} {ERR} }} }}""", Action.MANAGE_ORDER, True,
       lambda api, c: {"input": {"ref": new_order(api, c)["ref"], "status": "confirmed"}}, payload_ok,
       _input(ref=MISSING_REF)),
    Op("addOrderEvent", f"""mutation($input: AddOrderEventInput!) {{ addOrderEvent(input: $input) {{
        order {{ ref }} {ERR} }} }}""", Action.MANAGE_ORDER, True,
       lambda api, c: {"input": {"ref": new_order(api, c)["ref"], "type": "custom.note", "payload": {}}},
       payload_ok, _input(ref=MISSING_REF)),
    Op("createFulfillment", f"""mutation($input: CreateFulfillmentInput!) {{ createFulfillment(input: $input) {{
        fulfillment {{ ref }} {ERR} }} }}""", Action.MANAGE_ORDER, True,
       lambda api, c: (lambda o: {"input": {"orderRef": o["ref"], "items": [
           {"lineId": o["items"][0]["lineId"], "qty": "1"}]}})(new_order(api, c)),
       payload_ok, _input(orderRef=MISSING_REF)),
    Op("updateFulfillment", f"""mutation($input: UpdateFulfillmentInput!) {{ updateFulfillment(input: $input) {{
        fulfillment {{ status }} {ERR} }} }}""", Action.MANAGE_ORDER, True,
       lambda api, c: {"input": {"ref": fulfillment(api, c), "carrier": "bike"}}, payload_ok,
       _input(ref=MISSING_FULFILLMENT)),
    Op("attachPayment", f"""mutation($input: AttachPaymentInput!) {{ attachPayment(input: $input) {{
        order {{ payment {{ status intentId }} }} {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"orderRef": new_order(api, c)["ref"], "intentId": "pi_new", "method": "card"}},
       payload_ok, _input(orderRef=MISSING_REF)),
    Op("refundPayment", f"""mutation($input: RefundPaymentInput!) {{ refundPayment(input: $input) {{
        order {{ payment {{ status }} }} {ERR} }} }}""", Action.MANAGE_ORDER, True,
       lambda api, c: {"input": {"orderRef": paid_order(api, c), "amountQ": 100, "reason": "cold"}},
       payload_ok, _input(orderRef=MISSING_REF)),
    Op("retryDirective", f"mutation($id: ID!) {{ retryDirective(id: $id) {{ directive {{ status }} {ERR} }} }}",
       Action.ADMIN, False, lambda api, c: {"id": failed_directive(api, c)}, payload_ok),
    Op("runDirectiveNow", f"mutation($id: ID!) {{ runDirectiveNow(id: $id) {{ directive {{ status }} {ERR} }} }}",
       Action.ADMIN, False, lambda api, c: {"id": failed_directive(api, c)}, payload_ok),
    Op("runChecks", f"""mutation($input: SessionRefInput!) {{ runChecks(input: $input) {{ session {{ rev }}
        {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "sessionKey": checked_session(api, c)}},
       lambda v, vs: payload_ok(v, vs) and v["session"]["rev"] == 1, _channel()),
    Op("setPrices", f"mutation($input: [PriceInput!]!) {{ setPrices(input: $input) {{ prices {{ sku }} {ERR} }} }}",
       Action.ADMIN, False, lambda api, c: {"input": [{"sku": "TEA", "unitPriceQ": 300}]}, payload_ok),
    Op("setStockLevels", f"""mutation($input: [StockLevelInput!]!) {{ setStockLevels(input: $input) {{
        stockLevels {{ sku }} {ERR} }} }}""", Action.ADMIN, False,
       lambda api, c: {"input": [{"sku": "TEA", "qty": "5"}]}, payload_ok),
    Op("createToken", f"""mutation($input: CreateTokenInput!) {{ createToken(input: $input) {{ secret
        token {{ id }} {ERR} }} }}""", Action.ADMIN, False,
       lambda api, c: {"input": {"name": "kds-2", "role": "DISPLAY", "channels": [c]}}, payload_ok),
    Op("revokeToken", f"mutation($id: ID!) {{ revokeToken(id: $id) {{ token {{ revokedAt }} {ERR} }} }}",
       Action.ADMIN, False, lambda api, c: {"id": token_id(api, c)}, payload_ok),
    Op("upsertCustomer", f"""mutation($input: CustomerInput!) {{ upsertCustomer(input: $input) {{
        customer {{ code }} {ERR} }} }}""", Action.MANAGE_CUSTOMERS, False,
       lambda api, c: {"input": {"name": "Bia", "phone": f"11 9{uuid.uuid4().int % 10**8:08d}"}}, payload_ok),
    Op("attachRef", f"""mutation($input: AttachRefInput!) {{ attachRef(input: $input) {{ ref {{ value }}
        {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "type": "TABLE", "value": uuid.uuid4().hex[:6],
                                 "sessionKey": open_with_lines(api, c, lines=[])[0]}}, payload_ok, _channel()),
    Op("detachRef", f"""mutation($input: DetachRefInput!) {{ detachRef(input: $input) {{ ref {{ isActive }}
        {ERR} }} }}""", Action.WRITE_SESSION, True,
       lambda api, c: {"input": {"channelCode": c, "type": "TAB", "value": tab(api, c)["value"]}}, payload_ok,
       _channel()),
]

OPERATIONS = {op.name: op for op in (*QUERIES, *MUTATIONS)}


def channels(api: Api) -> tuple[str, str]:
    """Two fresh channels: A (in the scoped tokens' scope) and B (outside it)."""
    suffix = uuid.uuid4().hex[:6]
    return make_channel(api, code=f"a-{suffix}"), make_channel(api, code=f"b-{suffix}")
