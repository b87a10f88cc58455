"""Directive handlers used only by tests, installed through `settings.extra_handler_modules` (the plugin hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from omniman_gql.handlers.stock import stock_commit
from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services.directives import shared_read

MODULE = __name__


async def flaky(hub: Hub, directive: Directive) -> None:
    """Fails while `attempts <= fail_times` (the attempt count is the row's, so it holds across processes)."""
    if directive.attempts <= int(directive.payload["fail_times"]):
        raise RuntimeError(f"flaky failure on attempt {directive.attempts}")


async def always_fails(hub: Hub, directive: Directive) -> None:
    raise RuntimeError("the gateway is on fire")


async def gated_stock_commit(hub: Hub, directive: Directive) -> None:
    """A real `stock.commit` that waits for a gate file, before its effect or (with `effect_first`) after it; it
    writes its attempt number to the `started` file once it is waiting, so a test knows when to kill the worker."""
    started, gate = Path(directive.payload["started"]), Path(directive.payload["gate"])
    if directive.payload.get("effect_first"):
        await stock_commit(hub, directive)
    started.write_text(str(directive.attempts))
    while not gate.exists():
        await anyio.sleep(0.02)
    if not directive.payload.get("effect_first"):
        await stock_commit(hub, directive)


async def gated_by_attempt(hub: Hub, directive: Directive) -> None:
    """A real `stock.commit` run by attempt: it writes `started-<attempt>` in the payload's `dir`, waits there for
    `gate-<attempt>` (an attempt whose gate never opens blocks until its worker is killed), applies its effect, then
    writes `finished-<attempt>`."""
    folder, attempt = Path(directive.payload["dir"]), directive.attempts
    (folder / f"started-{attempt}").touch()
    while not (folder / f"gate-{attempt}").exists():
        await anyio.sleep(0.02)
    await stock_commit(hub, directive)
    (folder / f"finished-{attempt}").touch()


async def reads_shared(hub: Hub, directive: Directive) -> None:
    """Needs the value its (broken) prefetch should have provided: it reads it itself through shared_read."""
    value = await shared_read(("test.shared", directive.payload["key"]), lambda: _answer(directive))
    if value != 42:
        raise RuntimeError(f"read {value!r}")


async def _answer(directive: Directive) -> int:
    return 42


async def _broken_prefetch(connection: Any, directives: list[Directive]) -> dict[Any, Any]:
    raise RuntimeError("prefetch bug")


reads_shared.prefetch = _broken_prefetch  # type: ignore[attr-defined]


def register_handlers(registry: Any, settings: Any) -> None:
    registry.add_handler("test.flaky", flaky)
    registry.add_handler("test.always_fails", always_fails)
    registry.add_handler("test.gated_stock_commit", gated_stock_commit)
    registry.add_handler("test.reads_shared", reads_shared)
    registry.add_handler("test.gated_by_attempt", gated_by_attempt)
