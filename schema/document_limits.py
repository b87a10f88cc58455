"""The document limits: tokens, depth, aliases, cost, no NUL characters, no introspection when it is off, and how
many distinct documents are remembered parsed and validated."""

from typing import Any

from graphql import GraphQLError, NoSchemaIntrospectionCustomRule, StringValueNode, ValidationRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from omniman_gql.settings import Settings

from .document_cost import cost_rule
from .text_input import NUL_MESSAGE

CACHE_SIZE = 512  # distinct documents remembered parsed and validated


class NoNulCharacters(ValidationRule):
    """String literals of a document may not hold NUL characters (variables are checked by the view)."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError(NUL_MESSAGE, node))


def limit_rules(settings: Settings) -> tuple[type[ValidationRule], ...]:
    """The validation rules of the document limits, beyond graphql-core's and Strawberry's own: depth, aliases, cost
    (page sizes from variables are checked again as the operation starts: `document_cost`), NUL characters, and no
    introspection when it is off. The stock limiters build their rule classes per instance: built once here, reused
    for every document."""
    return (
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        cost_rule(settings.max_query_cost),
        NoNulCharacters,
        *(() if settings.introspection else (NoSchemaIntrospectionCustomRule,)),
    )
