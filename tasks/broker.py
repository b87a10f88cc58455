"""The dramatiq broker: Redis when `OMNIMAN_REDIS_URL` is set, else in-process (embedded default), built at import."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

from omniman_gql.settings import Settings, get_settings

from .middleware import WorkerHub

QUEUE = "directives"


def build_broker(settings: Settings) -> dramatiq.Broker:
    """Retries live in the database (attempts, backoff, `failed`), so dramatiq's own are off; a hung handler is cut
    off at the running timeout, after which the sweeper reclaims its directive."""
    middleware: list[Middleware] = [
        WorkerHub(),  # dramatiq's AsyncIO (async actors) plus the worker's own Hub
        TimeLimit(time_limit=settings.directive_running_timeout_s * 1000),
        ShutdownNotifications(),
        Retries(max_retries=0),
    ]
    if settings.redis_url:
        # Bounded socket waits: a dispatch during a network partition fails fast (the sweeper re-sends later)
        # instead of hanging the request that committed.
        pool = redis.ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=10,
                                             health_check_interval=30)
        return RedisBroker(connection_pool=pool, namespace=settings.broker_namespace, middleware=middleware)
    return StubBroker(middleware=middleware)


def is_embedded(b: dramatiq.Broker) -> bool:
    """An in-process broker: only a worker inside this process can run its messages."""
    return isinstance(b, StubBroker)


def worker_hub_of(b: dramatiq.Broker) -> WorkerHub:
    """The broker's WorkerHub, whose `settings` a caller may set before starting a worker (embedded, tests)."""
    return next(m for m in b.middleware if isinstance(m, WorkerHub))


broker = build_broker(get_settings())
dramatiq.set_broker(broker)
