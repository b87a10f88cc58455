"""The web app's composition: with no Redis its lifespan runs an embedded worker and sweeper on the app's Hub."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tasks.dispatch import DramatiqDispatcher
from tests.tasks.support import all_finished, cart, checkout, ecommerce, eventually, on_hand


async def flow(hub: Hub) -> tuple[list[Directive], Any]:
    shop = await ecommerce(hub, {"MUG": "10"}, {"MUG": 1500})
    key = await cart(hub, shop, [("MUG", "3")])
    await eventually(lambda: all_finished(hub, Directive.topic == "stock.hold"), what="the stock check")
    order = (await checkout(hub, shop, key)).order
    assert order is not None
    done = await eventually(lambda: all_finished(hub, Directive.order_ref == order.ref), what="post-commit")
    return done, await on_hand(hub, "MUG")


def test_app_without_redis_runs_directives_in_its_own_process(settings: Settings, broker: Any) -> None:
    assert settings.redis_url is None
    with TestClient(create_app(settings)) as client:
        hub = client.app_state["hub"]
        assert client.portal is not None
        done, left = client.portal.call(flow, hub)

    assert isinstance(hub.dispatcher, DramatiqDispatcher)
    assert [(d.topic, d.status) for d in done] == [("stock.commit", "done"), ("payment.capture", "done")]
    assert left == 7


def test_app_can_leave_directives_queued(settings: Settings) -> None:
    with TestClient(create_app(settings, run_directives=False)) as client:
        hub = client.app_state["hub"]

    assert not isinstance(hub.dispatcher, DramatiqDispatcher)
