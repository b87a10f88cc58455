"""SQLite writes wait for a lock held by another process off the event loop, so the loop keeps serving, and no writer
ever sees "database is locked": on both engines, accelerated (the wait goes to the connection's thread) and stock
(aiosqlite runs every call on its thread, where SQLite's busy timeout waits)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from omniman_gql.infra import db
from omniman_gql.models import Session
from omniman_gql.outages import Unavailable
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, sessions
from omniman_gql.settings import Settings
from tests.factories import make_channel
from tests.services.support import rows

pytestmark = pytest.mark.anyio

# Another process on the same file, as `omniman worker` or the CLI would be. For each line on stdin it takes the
# write lock and holds it ("lock"), commits what it holds ("release"), or runs N short write transactions of its own
# with its own busy timeout ("write N"), and answers once done. Told nothing for 30 s, it exits (letting go of the
# lock): a hub whose event loop were stuck waiting for that lock then finishes its write without ever having waited
# on a thread, and the test fails instead of hanging.
HOLDER = """
import select, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
print("ready", flush=True)
while select.select([sys.stdin], [], [], 30)[0]:
    command, *args = (sys.stdin.readline() or "exit").split()
    if command == "lock":
        db.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
    elif command == "release":
        db.execute("COMMIT")
        print("released", flush=True)
    elif command == "write":
        for _ in range(int(args[0])):
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE channels SET display_order = display_order + 1 WHERE code = 'other-process'")
            db.execute("COMMIT")
            time.sleep(0.001)  # pacing: another process's writes, not a lock held all the time
        print("wrote", args[0], flush=True)
    else:
        break
"""


class OtherProcess:
    """A second process on the hub's SQLite file, taking and releasing the write lock when told."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def say(self, line: str, expect: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()
        answer = (await self.process.stdout.readline()).decode().strip()
        assert answer.startswith(expect), answer
        return answer


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "omniman.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=[True, False], ids=["accelerated", "stock"])
def accelerate(request: pytest.FixtureRequest) -> bool:
    """Both engines in every run: the promises below hold on the accelerator and on the libraries' own path."""
    return bool(request.param)


@pytest.fixture
async def hub(sqlite_url: str, accelerate: bool) -> AsyncIterator[Hub]:
    # A busy timeout longer than the other process's patience (see HOLDER): a wait on the event loop would last until
    # that process gives up, since nothing could tell it to release its lock meanwhile.
    hub = Hub.create(Settings(database_url=sqlite_url, redis_url=None, sqlite_busy_timeout_ms=600_000,
                              accelerate=accelerate))
    try:
        yield hub
    finally:
        await hub.dispose()


@pytest.fixture
async def other_process(sqlite_url: str) -> AsyncIterator[OtherProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, sqlite_url.removeprefix("sqlite:///"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    assert (await process.stdout.readline()).decode().strip() == "ready"
    try:
        yield OtherProcess(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


class _Waits:
    """Counts the writes SQLite began to run once `arm()` was called (while the other process holds the lock: each
    of them meets it and waits); `first` is set on the first. SQLite's own trace callback reports them, from the
    thread that runs the statement: the loop's or a connection's (accelerated), aiosqlite's (stock)."""

    WRITES = ("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE")

    def __init__(self) -> None:
        self.count = 0
        self.first = asyncio.Event()
        self.armed = False
        self.loop = asyncio.get_running_loop()

    def watch(self, hub: Hub) -> None:
        @event.listens_for(hub.engine.sync_engine, "connect")
        def _trace(dbapi_connection: Any, _record: object) -> None:
            dbapi_connection.run_async(lambda driver: driver.set_trace_callback(self._traced))

    def arm(self) -> None:
        self.armed = True

    def _traced(self, statement: str) -> None:
        if statement.lstrip().upper().startswith(self.WRITES):
            self.loop.call_soon_threadsafe(self._began)

    def _began(self) -> None:
        if self.armed:
            self.count += 1
            self.first.set()


@pytest.fixture
async def waits(hub: Hub) -> _Waits:
    watch = _Waits()
    watch.watch(hub)
    return watch


async def first_wait_or_end(waits: _Waits, task: asyncio.Task[object]) -> None:
    """Return once `task` runs a write while the lock is held; fail if it ends first (e.g. "database is locked")."""
    waiting = asyncio.ensure_future(waits.first.wait())
    await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        task.result()  # its exception, if any, tells why
        pytest.fail("the write finished while another process held the lock")


async def test_a_write_waits_off_the_loop_while_another_process_holds_the_lock(
    hub: Hub, other_process: OtherProcess, waits: _Waits
) -> None:
    await make_channel(hub, "first-read")
    await other_process.say("lock", "locked")
    waits.arm()
    write = asyncio.create_task(make_channel(hub, "late"))
    await first_wait_or_end(waits, write)
    # The loop is free while the write waits: a read completes (WAL: the lock holds writers back, not readers).
    assert [c.code for c in await channels.list_channels(hub)] == ["first-read"]
    assert not write.done()
    await other_process.say("release", "released")
    await write
    assert {c.code for c in await channels.list_channels(hub)} == {"first-read", "late"}


async def test_writers_of_two_engines_and_another_process_never_see_database_is_locked(
    hub: Hub, sqlite_url: str, other_process: OtherProcess, waits: _Waits
) -> None:
    await make_channel(hub, "other-process")
    await make_channel(hub, "shop")
    key = (await sessions.open_session(hub, channel_code="shop"))[0].session_key
    second = Hub.create(Settings(database_url=sqlite_url, redis_url=None, sqlite_busy_timeout_ms=600_000,
                                 accelerate=hub.settings.accelerate))
    waits.watch(second)

    async def add_line(via: Hub, i: int) -> None:
        await sessions.modify_session(via, channel_code="shop", session_key=key,
                                      ops=[{"op": "add_line", "sku": f"SKU-{i}", "qty": "1", "unit_price_q": 1}])

    try:
        # The other process holds the lock as the writes start: the first writers certainly meet it and wait.
        await other_process.say("lock", "locked")
        waits.arm()
        adds = asyncio.gather(*[add_line(hub if i % 2 else second, i) for i in range(50)])
        waiting = asyncio.ensure_future(waits.first.wait())
        await asyncio.wait({waiting, adds}, return_when=asyncio.FIRST_COMPLETED)
        assert waiting.done(), adds.result()
        await other_process.say("release", "released")
        # ... then keeps writing while the 50 writes of this process (two engines, two writer queues) go on.
        wrote = asyncio.ensure_future(other_process.say("write 200", "wrote 200"))
        await adds  # any "database is locked" (OperationalError) would propagate here and fail the test
        await wrote
    finally:
        await second.dispose()
    (session,) = await rows(hub, Session, Session.session_key == key)
    assert session.rev == 50 and len(session.items) == 50  # every write applied, none lost
    (other,) = [c for c in await channels.list_channels(hub) if c.code == "other-process"]
    assert other.display_order == 200
    assert waits.count >= 1


async def test_a_write_cancelled_while_it_waits_for_the_lock_leaves_the_hub_working(
    hub: Hub, other_process: OtherProcess, waits: _Waits
) -> None:
    await other_process.say("lock", "locked")
    waits.arm()
    write = asyncio.create_task(make_channel(hub, "cancelled"))
    await first_wait_or_end(waits, write)
    write.cancel()
    # Its connection finishes the call waiting on its thread, then closes: nothing hangs once the lock is free.
    await other_process.say("release", "released")
    with pytest.raises(asyncio.CancelledError):
        await write
    await make_channel(hub, "after")
    assert {c.code for c in await channels.list_channels(hub)} == {"after"}


async def test_a_write_cancelled_twice_while_it_waits_leaves_no_task_hanging_after_the_loop_cancels_all(
    hub: Hub, other_process: OtherProcess, waits: _Waits
) -> None:
    # A task cancelled mid-statement makes SQLAlchemy invalidate its connection and close it in a shielded task of its
    # own; a second cancel force-stops the driver. An event loop that shuts down then cancels every task left: here,
    # by hand. Nothing may be left waiting forever once the lock is free (on stock aiosqlite 0.22 a close cancelled
    # there awaited a stop its stopped thread never ran, and the loop's shutdown hung).
    ours = asyncio.all_tasks()
    await other_process.say("lock", "locked")
    waits.arm()
    write = asyncio.create_task(make_channel(hub, "cancelled"))
    await first_wait_or_end(waits, write)
    for _ in range(2):
        write.cancel()
        for _ in range(5):
            await asyncio.sleep(0)  # the cancellation runs its course: invalidate, close, terminate
    left = asyncio.all_tasks() - ours
    for task in left:
        task.cancel()  # as asyncio.run() does with the tasks left at its end
    await other_process.say("release", "released")
    _, hanging = await asyncio.wait(left, timeout=10)
    assert not hanging
    with pytest.raises(asyncio.CancelledError):
        await write
    await make_channel(hub, "after")
    assert {c.code for c in await channels.list_channels(hub)} == {"after"}


async def test_the_writer_queue_hands_the_turn_on_when_a_woken_waiter_is_cancelled() -> None:
    queue = db._WriterQueue()
    await queue.acquire(60)
    first = asyncio.create_task(queue.acquire(60))
    second = asyncio.create_task(queue.acquire(60))
    await asyncio.sleep(0)  # one loop step: both tasks start and wait in the queue, in order
    assert len(queue.waiters) == 2
    queue.release()  # wakes `first`, which is cancelled before it runs: `second` must get the turn instead
    first.cancel()
    assert (await asyncio.gather(first, return_exceptions=True))[0].__class__ is asyncio.CancelledError
    await second
    assert queue.held and not queue.waiters
    queue.release()


async def test_a_writer_arriving_while_a_woken_waiter_has_not_run_goes_first_and_the_waiter_follows() -> None:
    queue = db._WriterQueue()
    await queue.acquire(60)
    waiting = asyncio.create_task(queue.acquire(60))
    await asyncio.sleep(0)
    queue.release()
    await queue.acquire(60)  # free: taken at once, ahead of the woken waiter (no reserved hand-off)
    assert not waiting.done()
    queue.release()
    await waiting
    assert queue.held and not queue.waiters
    queue.release()


async def test_a_writer_waiting_past_its_timeout_leaves_the_queue() -> None:
    queue = db._WriterQueue()
    await queue.acquire(60)
    with pytest.raises(TimeoutError):
        await queue.acquire(0.01)
    assert not queue.waiters
    queue.release()
    await queue.acquire(60)
    queue.release()


async def test_a_write_waiting_past_the_busy_timeout_fails_as_a_busy_database_sqlalchemy_reported_locked(
    sqlite_url: str, accelerate: bool, other_process: OtherProcess
) -> None:
    impatient = Hub.create(Settings(database_url=sqlite_url, redis_url=None, sqlite_busy_timeout_ms=50,
                                    accelerate=accelerate))
    try:
        await make_channel(impatient, "before")
        await other_process.say("lock", "locked")
        # Not an outage but the same answer to a client: nothing ran, retry shortly (UNAVAILABLE, "busy").
        with pytest.raises(Unavailable, match="database is busy") as caught:
            await make_channel(impatient, "blocked")
        assert isinstance(caught.value.__cause__, OperationalError)
        assert "database is locked" in str(caught.value.__cause__)
        await other_process.say("release", "released")
        await make_channel(impatient, "after")
        assert {c.code for c in await channels.list_channels(impatient)} == {"before", "after"}
    finally:
        await impatient.dispose()
