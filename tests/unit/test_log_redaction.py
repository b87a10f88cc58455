"""Tokens in addresses are replaced in log records; everything else in the record is kept as it was."""

from __future__ import annotations

import logging

import pytest

from omniman_gql.infra.log_redaction import RedactTokens, redact, redact_access_log


@pytest.mark.parametrize(("line", "expected"), [
    ("/kds?token=omn_abc", "/kds?token=[redacted]"),
    ("/kds?channels=pos&token=omn_abc&x=1", "/kds?channels=pos&token=[redacted]&x=1"),
    ("/kds?Access_Token=omn_abc#top", "/kds?Access_Token=[redacted]#top"),
    ("/kds?mytoken=keep&token=", "/kds?mytoken=keep&token=[redacted]"),
    ("/graphql", "/graphql"),
])
def test_redact_replaces_token_parameters_only(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_rewrites_the_arguments_and_keeps_the_record() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/kds?token=omn_secret", "1.1", 200), None)
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /kds?token=[redacted] HTTP/1.1" 200'


def test_installing_twice_adds_one_filter() -> None:
    name = "omniman.test.access"
    redact_access_log(name)
    redact_access_log(name)
    assert sum(isinstance(f, RedactTokens) for f in logging.getLogger(name).filters) == 1
