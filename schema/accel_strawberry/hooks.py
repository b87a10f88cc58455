"""Strawberry's extension runner, with each stage's hooks looked up once per extension class instead of per request.

An accelerator: it subclasses Strawberry's `SchemaExtensionsRunner` and stands in for its per-stage context managers
(the schema's `create_extensions_runner` hook), so it is tied to the Strawberry series pinned in pyproject.toml and
used only when `Settings.accelerate`; otherwise Strawberry's own runner enters every hook.
"""

import contextlib
import inspect
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

_NOT_PLAIN = object()  # a hook that is not a plain generator function: Strawberry's own context manager enters it
_hooks: dict[tuple[type, str], Any] = {}


def _hook_of(cls: type, name: str) -> Any:
    """The generator function `cls` overrides stage `name` with, None when it keeps SchemaExtension's default, or
    `_NOT_PLAIN` (async generators, plain callables); decided once per class, where Strawberry inspects it again
    for every extension of every request."""
    key = (cls, name)
    if key not in _hooks:
        hook = getattr(cls, name)
        _hooks[key] = (None if hook is getattr(SchemaExtension, name)
                       else hook if inspect.isgeneratorfunction(hook) else _NOT_PLAIN)
    return _hooks[key]


class _Stage:
    """One lifecycle stage's hooks (generator methods), entered in the extensions' order and left in reverse, as
    Strawberry's context manager does through an ExitStack of `contextlib.contextmanager`s, without building those
    per request. Leaving with an exception (or when a hook raises while leaving) goes through a real ExitStack of
    the started generators, so exceptions are thrown in, chained and (never) suppressed exactly as before."""

    __slots__ = ("bound", "started")

    def __init__(self, bound: list[tuple[Callable[[Any], Generator[None, None, None]], SchemaExtension]]) -> None:
        self.bound = bound
        self.started: list[Generator[None, None, None]] = []

    def __enter__(self) -> None:
        for hook, extension in self.bound:
            generator = hook(extension)
            try:
                next(generator)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None
            self.started.append(generator)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        started = self.started
        if exc_type is not None:
            _exit_through_stack(started, exc_type, exc, tb)
            return
        while started:
            generator = started.pop()
            try:
                next(generator)
            except StopIteration:
                continue
            except BaseException as error:  # the rest see this error, as they would in the ExitStack
                if not _exit_through_stack(started, type(error), error, error.__traceback__):
                    raise
                return
            # As contextlib says of a generator that yields twice; the earlier hooks then see this error.
            error = RuntimeError("generator didn't stop")
            if not _exit_through_stack(started, RuntimeError, error, None):
                raise error

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


def _exit_through_stack(started: list[Generator[None, None, None]], exc_type: type[BaseException],
                        exc: BaseException | None, tb: TracebackType | None) -> bool:
    """Leave the started generators (innermost last in `started`) with an exception through contextlib itself: a
    `contextmanager` around an already started generator throws into it exactly as the original would have."""
    stack = contextlib.ExitStack()
    while started:
        generator = started.pop(0)
        stack.push(contextlib.contextmanager(lambda g=generator: g)())
    return bool(stack.__exit__(exc_type, exc, tb))


class PreparedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner, with each stage's hooks looked up once per extension class (`_hook_of`) and entered
    by `_Stage`; a stage with a hook that is not a plain generator function uses Strawberry's manager."""

    def _stage(self, name: str, stock: type[ExtensionContextManagerBase]) -> Any:
        bound = []
        for extension in self.extensions:
            hook = _hook_of(type(extension), name)
            if hook is _NOT_PLAIN:
                return stock(self.extensions)
            if hook is not None:
                bound.append((hook, extension))
        return _Stage(bound)

    async def get_extensions_results(self, ctx: Any) -> dict[str, Any]:
        # Strawberry awaits every extension's get_results() on every operation; ours keep SchemaExtension's `{}`.
        if any(type(extension).get_results is not SchemaExtension.get_results for extension in self.extensions):
            return await super().get_extensions_results(ctx)
        return dict(ctx.extensions_results)

    def operation(self) -> Any:
        return self._stage("on_operation", OperationContextManager)

    def validation(self) -> Any:
        return self._stage("on_validate", ValidationContextManager)

    def parsing(self) -> Any:
        return self._stage("on_parse", ParsingContextManager)

    def executing(self) -> Any:
        return self._stage("on_execute", ExecutingContextManager)
