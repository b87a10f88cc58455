"""Commit validators (registered at the `commit` stage) see the session as a draft of its own, after the checks and
blocking issues and before `empty_session`; without any, a commit builds no draft and answers the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omniman_gql.domain.draft import Draft
from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.models import Order
from omniman_gql.registry import build_registry
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, sessions
from omniman_gql.settings import Settings
from tests.factories import make_channel, open_with_items
from tests.services.support import raises, rows

pytestmark = pytest.mark.anyio


class TooManyLines:
    """Refuses sessions of more than one line; scribbles on its draft (a careless validator) to prove it is a copy."""

    code = "too_many_lines"
    stage = "commit"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def validate(self, draft: Draft) -> list[OmnimanError]:
        self.seen.append([line["sku"] for line in draft.items])
        draft.items.append({"sku": "SCRIBBLE"})
        draft.data["scribbled"] = True
        if len(self.seen[-1]) > 1:
            return [OmnimanError(ErrorCode.INVALID_INPUT, "One line at most.", field=("items",))]
        return []


@pytest.fixture
async def validated(settings: Settings) -> AsyncIterator[tuple[Hub, TooManyLines]]:
    registry = build_registry(settings)
    validator = TooManyLines()
    registry.add_validator(validator)
    hub = Hub.create(settings, registry=registry)
    try:
        yield hub, validator
    finally:
        await hub.dispose()


async def test_a_commit_validator_sees_a_copy_and_its_errors_come_before_empty_session(
    validated: tuple[Hub, TooManyLines]
) -> None:
    hub, validator = validated
    code = await make_channel(hub)
    two = await open_with_items(hub, code, [("A", "1", 5), ("B", "1", 7)])
    exc = await raises("invalid_input", commit.commit_session(hub, channel_code=code, session_key=two.session_key,
                                                              idempotency_key="K1"))
    assert exc.field == ("items",) and validator.seen[-1] == ["A", "B"]  # (the one-pass try, then the long way)
    one = await open_with_items(hub, code, [("A", "2", 5)])
    outcome = await commit.commit_session(hub, channel_code=code, session_key=one.session_key, idempotency_key="K2")
    (order,) = await rows(hub, Order)
    assert outcome.result["items_count"] == 1 and [line["sku"] for line in order.snapshot["items"]] == ["A"]
    assert "scribbled" not in order.snapshot["data"]  # the validator's scribbles stayed on its copy
    empty, _ = await sessions.open_session(hub, channel_code=code)
    await raises("empty_session", commit.commit_session(hub, channel_code=code, session_key=empty.session_key,
                                                        idempotency_key="K3"))
    assert validator.seen[-1] == []  # validators run before the empty session is refused
