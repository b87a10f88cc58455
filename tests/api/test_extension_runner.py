"""The schema's extension runner enters and leaves hooks exactly as Strawberry's own runner does (order, exceptions
thrown in, raised while leaving, generators that misbehave), only without per-request introspection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from omniman_gql.settings import Settings
from schema.accel_strawberry.hooks import PreparedHooksRunner, _Stage
from schema.build import build_schema

pytestmark = pytest.mark.anyio
log: list[str] = []


class Boom(Exception):
    """The error a scenario raises."""


class Outer(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        log.append("outer in")
        try:
            yield
        except Exception as exc:
            log.append(f"outer saw {exc!r}")
            raise
        finally:
            log.append("outer out")

    def on_execute(self) -> Iterator[None]:
        log.append("outer execute")
        yield


class Inner(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        log.append("inner in")
        try:
            yield
        except Exception as exc:
            log.append(f"inner saw {exc!r}")
            raise
        log.append("inner out")


class RaisesLeaving(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        raise Boom("while leaving")


class YieldsTwice(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        yield


class Swallows(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except Boom:
            log.append("swallowed")


class Replaces(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except Boom as exc:
            raise ValueError("replaced") from exc


class AsyncHook(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        log.append("async in")
        yield
        log.append("async out")


SCENARIOS: dict[str, tuple[list[type[SchemaExtension]], bool]] = {
    "in order": ([Outer, Inner], False),
    "an error inside": ([Outer, Inner], True),
    "a hook raising while leaving": ([Outer, RaisesLeaving, Inner], False),
    "a hook raising while leaving an error": ([Outer, RaisesLeaving, Inner], True),
    "a generator yielding twice": ([Outer, YieldsTwice], False),
    "a hook swallowing the error": ([Outer, Swallows, Inner], True),
    "a hook replacing the error": ([Outer, Replaces, Inner], True),
    "an async hook (Strawberry's manager)": ([Outer, AsyncHook], False),
}


async def run(runner_class: type[SchemaExtensionsRunner], extensions: list[type[SchemaExtension]],
              fail: bool) -> tuple[list[str], Any]:
    log.clear()
    runner = runner_class(execution_context=None, extensions=[cls() for cls in extensions])  # type: ignore[arg-type]
    outcome: Any = None
    try:
        async with runner.operation():
            log.append("body")
            if fail:
                raise Boom("inside")
        async with runner.executing():
            log.append("executed")
    except Exception as exc:  # noqa: BLE001 - compared below, type, message and cause
        outcome = (type(exc), str(exc), repr(exc.__cause__), repr(exc.__context__))
    return list(log), outcome


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_hooks_run_as_with_strawberrys_runner(name: str) -> None:
    extensions, fail = SCENARIOS[name]
    assert await run(PreparedHooksRunner, extensions, fail) == await run(SchemaExtensionsRunner, extensions, fail)


@pytest.mark.parametrize("name", [n for n, (exts, _) in SCENARIOS.items() if AsyncHook not in exts])
def test_sync_stages_match_strawberrys_too(name: str) -> None:
    extensions, fail = SCENARIOS[name]

    def sync_run(runner_class: type[SchemaExtensionsRunner]) -> tuple[list[str], Any]:
        log.clear()
        runner = runner_class(execution_context=None, extensions=[c() for c in extensions])  # type: ignore[arg-type]
        try:
            with runner.operation():
                log.append("body")
                if fail:
                    raise Boom("inside")
        except Exception as exc:  # noqa: BLE001 - compared below, type, message and cause
            return list(log), (type(exc), str(exc), repr(exc.__cause__))
        return list(log), None

    assert sync_run(PreparedHooksRunner) == sync_run(SchemaExtensionsRunner)


def test_the_schema_enters_its_hooks_with_the_prepared_runner() -> None:
    schema = build_schema(Settings(accelerate=True))
    runner = schema.create_extensions_runner(None, schema.get_extensions())  # type: ignore[arg-type]
    assert isinstance(runner, PreparedHooksRunner)
    assert all(isinstance(stage, _Stage) for stage in (runner.operation(), runner.parsing(), runner.validation(),
                                                        runner.executing()))


def test_without_the_accelerators_the_schema_uses_strawberrys_runner() -> None:
    schema = build_schema(Settings(accelerate=False))
    runner = schema.create_extensions_runner(None, schema.get_extensions())  # type: ignore[arg-type]
    assert type(runner) is SchemaExtensionsRunner


class Reports(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        return {"reported": 1, "shared": "extension"}


@pytest.mark.parametrize("extensions", [[Outer, Inner], [Outer, Reports]])
async def test_extension_results_are_strawberrys(extensions: list[type[SchemaExtension]]) -> None:
    context = SimpleNamespace(extensions_results={"shared": "context", "other": 2})
    results = []
    for runner_class in (PreparedHooksRunner, SchemaExtensionsRunner):
        runner = runner_class(execution_context=None, extensions=[c() for c in extensions])  # type: ignore[arg-type]
        results.append(await runner.get_extensions_results(context))  # type: ignore[arg-type]
    assert results[0] == results[1]
    assert results[0] is not context.extensions_results
