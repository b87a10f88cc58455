"""The permission plumbing, with principals injected where token auth will plug in (`principal_for`): roles give
FORBIDDEN at the top level (never masked); channel scopes hide what lies outside them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from omniman_gql.services.auth import Principal, Role
from omniman_gql.settings import Settings
from schema.asgi import create_app
from schema.view import OmnimanGraphQL
from tests.fixtures.app import Api

from .operations import ORDER, ORDERS, TRANSITION_ORDER, UPSERT_CHANNEL, import_order, make_channel

CALLER: dict[str, Principal] = {}


@pytest.fixture
def as_caller(settings: Settings, api: Api) -> Iterator[Api]:
    """A second client on the same database whose requests come from CALLER["principal"]."""
    app = create_app(settings)
    view = next(r.endpoint for r in app.routes if isinstance(r, Route) and isinstance(r.endpoint, OmnimanGraphQL))

    async def principal_for(request: object, hub: object) -> Principal:
        return CALLER["principal"]

    view.principal_for = principal_for  # type: ignore[method-assign]
    with TestClient(app) as client:
        yield Api(client)


def test_a_role_without_the_right_gets_forbidden(api: Api, as_caller: Api) -> None:
    ref = import_order(api, make_channel(api, code="pos"))["ref"]
    CALLER["principal"] = Principal(name="kitchen", role=Role.DISPLAY, channels=frozenset({"pos"}))
    for query, variables in ((UPSERT_CHANNEL, {"input": {"code": "x"}}),
                             (TRANSITION_ORDER, {"input": {"ref": ref, "status": "confirmed"}})):
        result = as_caller(query, variables)
        assert result["data"] is None
        assert result["errors"][0]["extensions"] == {"code": "FORBIDDEN"}, result
    assert as_caller.data(ORDER, {"ref": ref})["order"]["ref"] == ref


def test_a_channel_scope_hides_other_channels(api: Api, as_caller: Api) -> None:
    mine = import_order(api, make_channel(api, code="pos"))["ref"]
    theirs = import_order(api, make_channel(api, code="web"))["ref"]
    CALLER["principal"] = Principal(name="till-1", role=Role.CLIENT, channels=frozenset({"pos"}))
    edges = as_caller.data(ORDERS, {"first": 10})["orders"]["edges"]
    assert [e["node"]["ref"] for e in edges] == [mine]
    assert as_caller.data(ORDERS, {"first": 10, "channelCode": "web"})["orders"]["edges"] == []
    assert as_caller.data(ORDER, {"ref": theirs})["order"] is None
    opened = as_caller("mutation { openSession(input: {channelCode: \"web\"}) { session { rev } errors { code } } }")
    assert opened["data"]["openSession"] == {"session": None, "errors": [{"code": "not_found"}]}


def test_events_record_the_callers_name(api: Api, as_caller: Api) -> None:
    ref = import_order(api, make_channel(api, code="pos"))["ref"]
    CALLER["principal"] = Principal(name="maria", role=Role.STAFF, channels=None)
    order = as_caller.data(TRANSITION_ORDER, {"input": {"ref": ref, "status": "confirmed"}})["transitionOrder"]
    assert order["order"]["events"][-1]["actor"] == "maria"
