"""Every error code the API can reach comes back as a payload UserError with its input path; unexpected failures
are masked and logged; malformed documents are plain validation errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from omniman_gql.services import sessions
from tests.fixtures.app import Api

from .error_cases import CASES, modify_request, transition
from .operations import (
    OPEN_SESSION,
    make_channel,
    open_with_lines,
)


@pytest.mark.parametrize("case", list(CASES))
def test_domain_error_is_a_payload_user_error_with_its_field(api: Api, case: str) -> None:
    arrange, code, field = CASES[case]
    query, name, variables = arrange(api)
    result = api(query, variables)
    assert "errors" not in result, result  # no top-level error: expected failures are data
    errors = result["data"][name]["errors"]
    assert [(e["code"], e["field"]) for e in errors][:1] == [(code, field)], errors
    assert errors[0]["message"]


def test_several_op_errors_come_back_together(api: Api) -> None:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel, lines=[])
    query, name, variables = modify_request(channel, key, {"addLine": {"sku": "A", "qty": "0"}},
                                     {"addLine": {"sku": "", "qty": "1"}})
    errors = api(query, variables)["data"][name]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("invalid_qty", ["ops", "0", "addLine", "qty"]), ("missing_sku", ["ops", "1", "addLine", "sku"])]


def test_invalid_transition_carries_its_context(api: Api) -> None:
    query, name, variables = transition("completed")(api)
    error = api(query, variables)["data"][name]["errors"][0]
    assert error["context"] == {"current": "new", "requested": "completed", "allowed": ["confirmed", "cancelled"]}


def test_unexpected_exception_is_masked_and_logged(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret database password in a stack trace")

    monkeypatch.setattr(sessions, "open_session", explode)
    channel = make_channel(api)
    with caplog.at_level(logging.ERROR):
        result = api(OPEN_SESSION, {"input": {"channelCode": channel}})
    assert result["data"] is None
    assert result["errors"] == [{"message": "Internal server error", "locations": [{"line": 2, "column": 3}],
                                 "path": ["openSession"], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    assert "secret" not in str(result)
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert logged, "the original exception must be logged with its traceback"


@pytest.mark.parametrize(("document", "fragment"), [
    ("{ channels { code ", "Syntax Error"),
    ("{ channels { nope } }", "Cannot query field 'nope'"),
    ('mutation { openSession(input: {channelCode: 1}) { errors { code } } }', "String cannot represent"),
    ('mutation { modifySession(input: {channelCode: "a", sessionKey: "b", ops: [{addLine: {sku: "A", qty: "1"}, '
     'removeLine: {lineId: "L"}}]}) { errors { code } } }', "exactly one"),
])
def test_malformed_documents_are_validation_errors_not_masked(client: TestClient, document: str,
                                                              fragment: str) -> None:
    response = client.post("/graphql", json={"query": document})
    errors = response.json()["errors"]
    assert response.status_code in (200, 400)
    assert fragment.lower() in errors[0]["message"].lower(), errors
    assert errors[0]["message"] != "Internal server error"


def test_bad_scalar_variables_are_validation_errors(api: Api) -> None:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel, lines=[])
    for qty, says in (("two", "not a decimal number"), (2.5, "sent as strings"), ("1" * 41, "at most 40")):
        query, _, variables = modify_request(channel, key, {"addLine": {"sku": "A", "qty": qty}})
        errors = api(query, variables)["errors"]
        assert says in errors[0]["message"], errors
    query, name, variables = modify_request(channel, key, {"addLine": {"sku": "A", "qty": "1e999999999999"}})
    assert api(query, variables)["data"][name]["errors"][0]["code"] == "invalid_qty"
