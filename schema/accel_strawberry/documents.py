"""Each distinct GraphQL document parsed and validated once, with every rule, in one hook.

An accelerator: it fills in the execution context's document and validation errors itself (reading the graphql-core
schema off Strawberry's, and validating with Strawberry's own rule set), so it is tied to the Strawberry series pinned
in pyproject.toml and used only when `Settings.accelerate`. Otherwise Strawberry's stock extensions do the same work
(`schema.extensions.schema_extensions`): ParserCache, ValidationCache, MaxTokensLimiter and the limits' rules.
"""

from collections.abc import Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, GraphQLSchema, ValidationRule, parse, specified_rules
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from omniman_gql.settings import Settings

from ..document_limits import CACHE_SIZE, limit_rules


class Documents:
    """Per schema: query text → (document, validation errors), each distinct text parsed within the token limit and
    validated with every rule (graphql-core's, Strawberry's, the depth, alias and NUL limits, and no introspection
    when it is off) once. A bounded LRU (`CACHE_SIZE` texts), keyed by the text itself: hashing a string is free
    after the first time, where Strawberry's validation cache hashed the whole parsed tree on every request. A
    document that does not parse (syntax, too many tokens) raises and is not remembered, as with `ParserCache`."""

    def __init__(self, settings: Settings, *, maxsize: int = CACHE_SIZE) -> None:
        self.max_tokens = settings.max_query_tokens
        # The stock limiters build their rule classes per instance: built once here, reused for every document.
        self.rules: tuple[type[ValidationRule], ...] = (*specified_rules, *limit_rules(settings))
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
