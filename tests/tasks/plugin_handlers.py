"""Directive handlers used only by tests, installed through `settings.extra_handler_modules` (the plugin hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from omniman_gql.handlers.stock import stock_commit
from omniman_gql.models import Directive
from omniman_gql.runtime import Hub

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


def register_handlers(registry: Any, settings: Any) -> None:
    registry.add_handler("test.flaky", flaky)
    registry.add_handler("test.always_fails", always_fails)
    registry.add_handler("test.gated_stock_commit", gated_stock_commit)
