"""The view skips walking a POST's variables for NUL characters only when the body cannot hold one (no zero byte, no
`\\u0000` escape); a NUL anywhere in the variables is refused with 400 exactly as before, in any JSON encoding."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from schema.accel_strawberry.http import _nul_free
from schema.text_input import NUL_MESSAGE, contains_nul

# NUL, the characters of its escape, non-ASCII ones and a lone surrogate (JSON can carry one)
TEXT = st.text(alphabet=st.sampled_from(["a", "\x00", "\\", "u", "0", "é", "\u2028", "\ud83d"]), max_size=6)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                           max_leaves=10)
QUERY = "query($r: String!) { order(ref: $r) { ref } }"


@settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(value=JSON_VALUES, ensure_ascii=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_a_body_said_to_be_nul_free_decodes_to_no_nul(value: Any, ensure_ascii: bool, encoding: str) -> None:
    body = json.dumps({"variables": value}, ensure_ascii=ensure_ascii).encode(encoding, "surrogatepass")
    if _nul_free(body):
        assert not contains_nul(json.loads(body))
    if contains_nul(value):
        assert not _nul_free(body)


def test_what_counts_as_nul_free() -> None:
    assert _nul_free(b'{"variables": {"r": "x"}}')
    assert not _nul_free(b'{"variables": {"r": "\\u0000"}}')
    assert not _nul_free(b'{"variables": {"r": "\\\\u0000"}}')  # no NUL, but not told apart here: walked
    assert not _nul_free(json.dumps({"variables": {"r": "x"}}).encode("utf-16"))
    assert not _nul_free('{"variables": {}}')  # a str body: walked


def test_a_nul_in_a_utf16_body_is_still_refused(client: TestClient) -> None:
    body = json.dumps({"query": QUERY, "variables": {"r": "a\x00"}}).encode("utf-16")
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {"errors": [{
        "message": NUL_MESSAGE, "extensions": {"code": "BAD_USER_INPUT"}}]}


def test_an_escaped_backslash_before_u0000_is_no_nul(client: TestClient) -> None:
    body = json.dumps({"query": QUERY, "variables": {"r": "\\u0000"}}).encode()
    assert b"\\\\u0000" in body
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and NUL_MESSAGE not in response.text
