"""Schema extensions: masking of unexpected errors, each distinct document parsed and validated once within the
document limits, and a runner entering their hooks without per-request introspection."""

import contextlib
import inspect
import logging
import re
from collections.abc import Callable, Generator, Iterator
from functools import lru_cache
from types import TracebackType
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    StringValueNode,
    ValidationRule,
    parse,
    specified_rules,
)
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import validate_document

from omniman_gql.settings import Settings

log = logging.getLogger("omniman.graphql")
INTERNAL = "INTERNAL_SERVER_ERROR"
CACHE_SIZE = 512
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def is_unexpected(error: GraphQLError) -> bool:
    """Parse and validation errors carry no original error; deliberate ones (ClientError, permissions, input
    coercion) are GraphQLErrors themselves. Anything else escaped a resolver by accident."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


NUL_MESSAGE = "Strings may not contain NUL (\\u0000) characters."


def contains_nul(value: Any) -> bool:
    """Whether a JSON value holds a string with a NUL character (PostgreSQL text cannot store one). Iterative:
    a document nested a thousand levels deep must not exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class NoNulCharacters(ValidationRule):
    """String literals of a document may not hold NUL characters (variables are checked by the view)."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError(NUL_MESSAGE, node))


def hide_suggestions(errors: list[GraphQLError]) -> None:
    """Drop graphql-core's "Did you mean …?" hints (fields, arguments, types, enum values, input fields)."""
    for error in errors:
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


class MaskInternalErrors(MaskErrors):
    """Unexpected errors become "Internal server error" with `extensions.code`; the traceback stays in the logs
    (Strawberry logs each error to `strawberry.execution` before extensions see it)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(message=self.error_message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, original_error=None,
                            extensions={"code": INTERNAL})

    def _process_result(self, result: object) -> None:
        # The stock check is an isinstance against a runtime Protocol (≈ 10 µs per operation); a result's `errors`
        # attribute says the same.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Subscriptions: a result without errors has nothing to mask; skipping the stock hook's Protocol
        # isinstance checks matters when one event is sent to a thousand subscribers.
        if any(getattr(result, name, None) for name in ("errors", "incremental", "completed")):
            yield from super().on_stream_result(result)
            return
        self._stream_result_processed = True
        yield None


class Documents:
    """Per schema: query text → (document, validation errors), each distinct text parsed within the token limit and
    validated with every rule (graphql-core's, Strawberry's, the depth, alias and NUL limits, and no introspection
    when it is off) once. A bounded LRU (`CACHE_SIZE` texts), keyed by the text itself: hashing a string is free
    after the first time, where Strawberry's validation cache hashed the whole parsed tree on every request. A
    document that does not parse (syntax, too many tokens) raises and is not remembered, as with `ParserCache`."""

    def __init__(self, settings: Settings, *, maxsize: int = CACHE_SIZE) -> None:
        self.max_tokens = settings.max_query_tokens
        # The stock limiters build their rule classes per instance: built once here, reused for every document.
        self.rules: tuple[type[ValidationRule], ...] = (
            *specified_rules,
            *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
            NoNulCharacters,
            *(() if settings.introspection else (NoSchemaIntrospectionCustomRule,)),
        )
        self.prepare = lru_cache(maxsize=maxsize)(self._prepare)

    def _prepare(self, schema: GraphQLSchema, query: str) -> tuple[DocumentNode, list[GraphQLError]]:
        document = parse(query, max_tokens=self.max_tokens)
        return document, validate_document(schema, document, self.rules)


class PreparedDocuments(SchemaExtension):
    """Stands for ParserCache, ValidationCache, MaxTokensLimiter, AddValidationRules and DisableIntrospection: the
    same checks with one hook instead of five (Strawberry builds a context manager per hook and request).

    The validation errors are set with the document; Strawberry still checks the operation type first and then
    returns them without validating again (it only validates when no errors list is set)."""

    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:  # no query: Strawberry's own "missing query"
            context.graphql_document, context.pre_execution_errors = self.documents.prepare(
                context.schema._schema, context.query)
        yield


def schema_extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Documents prepared once (≈ 5× faster small operations than parsing and validating each time, and within the
    document bounds), then the report of each operation wrapped around the error mask."""
    documents = Documents(settings)
    from .logging_extension import ObserveOperations  # it uses is_unexpected from here

    return [lambda: PreparedDocuments(documents), lambda: ObserveOperations(settings=settings)]


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
