"""`WorkerHub`: dramatiq's AsyncIO middleware, plus a Hub of the worker's own, created on the worker's event loop
before any message is processed and disposed on it after the last one."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.middleware import AsyncIO

from omniman_gql.protocols import EventPublisher
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings, get_settings

if TYPE_CHECKING:
    from .dispatch import DramatiqDispatcher
    from .leases import Heartbeat

log = logging.getLogger("omniman.worker")

# dramatiq's event loop thread is process-wide, so there is one booted worker (and one worker Hub) per process.
_current: tuple[Hub, DramatiqDispatcher] | None = None


def current_hub() -> tuple[Hub, DramatiqDispatcher]:
    """The booted worker's Hub and the dispatcher that sends to the worker's own broker."""
    if _current is None:
        raise RuntimeError("no worker Hub: no worker has booted (is WorkerHub in the broker's middleware?)")
    return _current


def _start_event_loop_thread(logger: Any) -> None:
    """dramatiq's event loop thread, running uvloop (installed with uvicorn[standard]) instead of the stock loop: each
    directive is a few database round trips, and the stock loop's bookkeeping per await is a large share of a
    directive's own work."""
    thread = EventLoopThread(logger)
    try:
        import uvloop
    except ImportError:  # e.g. on Windows: the stock loop works too
        pass
    else:
        thread.loop.close()
        thread.loop = uvloop.new_event_loop()
    thread.start(timeout=1.0)
    set_event_loop_thread(thread)


class WorkerHub(AsyncIO):
    """Worker threads start consuming during `Worker.start`, before `after_worker_boot`; so the Hub is made in
    `before_worker_boot`, right after the loop starts, and disposed in `after_worker_shutdown`, once the workers
    have stopped and before the loop does. The async engine lives on the loop that made its connections."""

    def __init__(self) -> None:
        super().__init__()
        self.settings: Settings | None = None  # None: the process's settings (the environment)
        self.publisher: EventPublisher | None = None  # None: built from the settings
        self.heartbeat: Heartbeat | None = None

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        global _current
        _start_event_loop_thread(self.logger)  # AsyncIO.before_worker_boot, on uvloop when it is installed
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        _current = loop_thread.run_coroutine(self._create(self.settings or get_settings(), broker, self.publisher))
        self.heartbeat = loop_thread.run_coroutine(self._beat(*_current))
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

    @staticmethod
    async def _beat(hub: Hub, dispatcher: DramatiqDispatcher) -> Heartbeat:
        from .actors import in_hand
        from .leases import Heartbeat

        heartbeat = Heartbeat(hub, dispatcher, lambda: in_hand(hub))
        heartbeat.start()
        return heartbeat

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        global _current
        current, _current = _current, None
        heartbeat, self.heartbeat = self.heartbeat, None
        loop_thread = get_event_loop_thread()
        try:
            if heartbeat is not None and loop_thread is not None:  # stopped first: it uses the Hub's engine
                loop_thread.run_coroutine(heartbeat.stop())
            if current is not None and loop_thread is not None:
                loop_thread.run_coroutine(self._dispose(current[0]))
        finally:
            super().after_worker_shutdown(broker, worker)

    async def _dispose(self, hub: Hub) -> None:
        await hub.dispose()
        if self.publisher is None:  # built here, so closed here
            aclose = getattr(hub.publisher, "aclose", None)
            if aclose is not None:
                await aclose()
