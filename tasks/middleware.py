"""`WorkerHub`: the worker's event loop gets a Hub of its own, created in that loop's thread and disposed at shutdown."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from omniman_gql.protocols import EventPublisher
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings, get_settings

if TYPE_CHECKING:
    from .dispatch import DramatiqDispatcher

log = logging.getLogger("omniman.worker")

# dramatiq's AsyncIO event loop thread is process-wide, so there is one booted worker (and one worker Hub) per process.
_current: tuple[Hub, DramatiqDispatcher] | None = None


def current_hub() -> tuple[Hub, DramatiqDispatcher]:
    """The booted worker's Hub and the dispatcher that sends to the worker's own broker."""
    if _current is None:
        raise RuntimeError("no worker Hub: no worker has booted (is WorkerHub in the broker's middleware?)")
    return _current


class WorkerHub(Middleware):
    """Must come before `AsyncIO` in the middleware list: its `after_worker_shutdown` has to run while the event loop
    still does (hooks run in list order), so the engine is disposed on the loop that made its connections."""

    def __init__(self) -> None:
        self.settings: Settings | None = None  # None: the process's settings (the environment)
        self.publisher: EventPublisher | None = None  # None: built from the settings

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        global _current
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("WorkerHub needs the AsyncIO middleware")
        _current = loop_thread.run_coroutine(self._create(self.settings or get_settings(), broker, self.publisher))
        log.info("worker hub ready (%s)", _current[0].engine.url.render_as_string(hide_password=True))

    @staticmethod
    async def _create(settings: Settings, broker: Any, publisher: EventPublisher | None
                      ) -> tuple[Hub, DramatiqDispatcher]:
        # Imported here: tasks.dispatch imports the actors, which import the broker this middleware belongs to.
        from .dispatch import DramatiqDispatcher
        from .publishing import build_publisher

        dispatcher = DramatiqDispatcher(broker)
        hub = Hub.create(settings, dispatcher=dispatcher, publisher=publisher or build_publisher(settings))
        return hub, dispatcher

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        global _current
        current, _current = _current, None
        loop_thread = get_event_loop_thread()
        if current is not None and loop_thread is not None:
            loop_thread.run_coroutine(self._dispose(current[0]))

    async def _dispose(self, hub: Hub) -> None:
        await hub.dispose()
        if self.publisher is None:  # built here, so closed here
            aclose = getattr(hub.publisher, "aclose", None)
            if aclose is not None:
                await aclose()
