"""The publisher a worker's Hub announces order events with (events written by handlers, e.g. payment.captured)."""

from __future__ import annotations

from omniman_gql.live.stream import create_pubsub
from omniman_gql.protocols import EventPublisher
from omniman_gql.runtime import NullPublisher
from omniman_gql.settings import Settings


def build_publisher(settings: Settings) -> EventPublisher:
    """Redis pub/sub when configured, so every web process hears the worker's events. Without Redis a separate worker
    has nobody to tell (the embedded worker is given the web's publisher instead); subscribers replay from the DB."""
    if settings.redis_url:
        return create_pubsub(settings)
    return NullPublisher()
