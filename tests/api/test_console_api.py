"""The console's API over HTTP: Channel.history (admin only, who/before/after), runDirectiveNow through the app's
own worker, runChecks, idempotencyKey and directiveAlerts, with their failure answers."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from omniman_gql.services import directives
from schema.nodes import row_number
from tests.api.operations import ERRORS, commit, make_channel, ok, open_with_lines
from tests.fixtures.app import Api
from tests.graphql import create_token, gql
from tests.security.operations import failed_directive

HISTORY = """query($code: String!, $first: Int!) { channel(code: $code) { history(first: $first) {
  at actor before after } } }"""
UPSERT = f"""mutation($input: ChannelInput!) {{ upsertChannel(input: $input) {{ channel {{ code config }}
  {ERRORS} }} }}"""
RUN_NOW = f"mutation($id: ID!) {{ runDirectiveNow(id: $id) {{ directive {{ id status }} {ERRORS} }} }}"
DIRECTIVE = """query($status: DirectiveStatus) { directives(status: $status, first: 100) {
  edges { node { id status } } } }"""
RUN_CHECKS = f"""mutation($input: SessionRefInput!) {{ runChecks(input: $input) {{ session {{ rev state }}
  {ERRORS} }} }}"""
KEY = """query($channel: String!, $key: String!) { idempotencyKey(channelCode: $channel, key: $key) {
  key status orderRef sessionKey createdAt expiresAt } }"""
ALERTS = "query { directiveAlerts { alerting failedCount overdueCount oldestDueSince thresholdMinutes } }"


def test_history_records_who_changed_what_and_only_admins_read_it(api: Api, client: TestClient) -> None:
    me = api.data("query { viewer { name role channels } }")["viewer"]
    assert me["role"] == "ADMIN" and me["channels"] is None
    code = make_channel(api, name="Counter")
    ok(api, UPSERT, "upsertChannel", {"input": {"code": code, "config": {"icon": "till"}}})
    refused = api(UPSERT, {"input": {"code": code, "config": {"unknown_key": 1}}})["data"]["upsertChannel"]
    assert refused["errors"][0]["code"] == "invalid_config"

    history = api.data(HISTORY, {"code": code, "first": 10})["channel"]["history"]
    assert [(h["actor"], h["before"].get("config"), h["after"]["config"]) for h in history] == [
        (me["name"], {}, {"icon": "till"}), (me["name"], None, {})]
    assert history[1]["before"] == {} and history[1]["after"]["name"] == "Counter"

    staff = create_token(client, "staff")
    forbidden = gql(client, HISTORY, {"code": code, "first": 10}, token=staff)
    assert [e["extensions"]["code"] for e in forbidden["errors"]] == ["FORBIDDEN"]
    too_many = api(HISTORY, {"code": code, "first": 1000})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def directive_row(global_id: str) -> int:
    """The directive's row number behind its global id (what error contexts and services speak)."""
    number = row_number(global_id, "Directive")
    assert number is not None
    return number


def test_run_directive_now_makes_a_failed_directive_due(api: Api) -> None:
    # (This app leaves directives queued; the console's browser test sees a real server's worker run one.)
    channel = make_channel(api)
    directive_id = failed_directive(api, channel)
    answer = ok(api, RUN_NOW, "runDirectiveNow", {"id": directive_id})
    assert answer["directive"] == {"id": directive_id, "status": "QUEUED"}
    queued = [e["node"] for e in api.data(DIRECTIVE, {"status": "QUEUED"})["directives"]["edges"]]
    assert {"id": directive_id, "status": "QUEUED"} in queued
    assert api.run(directives.run_directive, api.hub, directive_row(directive_id)).status == "done"

    again = api(RUN_NOW, {"id": directive_id})["data"]["runDirectiveNow"]
    assert [(e["code"], e["context"]) for e in again["errors"]] == [
        ("directive_not_runnable", {"id": directive_row(directive_id), "status": "done"})]
    missing = api(RUN_NOW, {"id": "999999999"})["data"]["runDirectiveNow"]
    assert [e["code"] for e in missing["errors"]] == ["not_found"]


def test_run_checks_answers_the_session_and_refuses_a_committed_one(api: Api) -> None:
    channel = make_channel(api, config={"required_checks_on_commit": ["stock"]})
    key, _lines = open_with_lines(api, channel)
    session = ok(api, RUN_CHECKS, "runChecks", {"input": {"channelCode": channel, "sessionKey": key}})["session"]
    assert session == {"rev": 1, "state": "OPEN"}

    plain = make_channel(api)
    done_key, _ = open_with_lines(api, plain)
    commit(api, plain, done_key)
    refused = api(RUN_CHECKS, {"input": {"channelCode": plain, "sessionKey": done_key}})["data"]["runChecks"]
    assert refused["session"] is None and [e["code"] for e in refused["errors"]] == ["already_committed"]


def test_idempotency_key_lookup(api: Api) -> None:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    idempotency = f"K-{uuid.uuid4().hex[:8]}"
    ref = commit(api, channel, key, idempotency)["result"]["orderRef"]

    info = api.data(KEY, {"channel": channel, "key": idempotency})["idempotencyKey"]
    assert {k: info[k] for k in ("key", "status", "orderRef", "sessionKey")} == {
        "key": idempotency, "status": "done", "orderRef": ref, "sessionKey": key}
    assert info["expiresAt"] > info["createdAt"]
    assert api.data(KEY, {"channel": channel, "key": "never-used"})["idempotencyKey"] is None
    nowhere = api(KEY, {"channel": "nowhere", "key": idempotency})
    assert nowhere["data"] is None or nowhere["data"]["idempotencyKey"] is None
    assert nowhere["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_long = api(KEY, {"channel": channel, "key": "k" * 5000})
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_directive_alerts_show_a_failed_directive(api: Api) -> None:
    before = api.data(ALERTS)["directiveAlerts"]
    assert before["failedCount"] == 0 and before["thresholdMinutes"] == 5
    failed_directive(api, make_channel(api))
    after = api.data(ALERTS)["directiveAlerts"]
    assert (after["alerting"], after["failedCount"]) == (True, 1)
