"""A document's cost, the number of objects it could return (concepts §18), and the limit on it (`max_query_cost`).

Each selected field that returns objects counts as many objects as it could return, fragments expanded and aliases
counted each: the product of the list sizes above it and its own. A list's size is its page (`first`, else the
argument's default) when the field or the nearest paged field above it has one (`orders(first: 25) { edges … }`: the
page is `edges`), else `UNPAGED_LIST`. Scalars are part of their object and add nothing (the token and alias limits
bound how many a document names), so a dashboard's `orders(first: 25) { edges { node { ref items { sku } events {
type } } } }` costs 551: the connection, 25 edges, 25 orders, 250 lines, 250 events. Introspection (`__schema`,
`__type`) counts one: its size is the schema's, not the client's to choose.

Checked twice, each time before any resolver runs: by a validation rule, cached with the document, for documents whose
page sizes are all literals or defaults; and by the executor (`check_cost`) with the variables sent, for operations
that declare variables (validation never sees variable values).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    SKIP,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeNameMetaFieldDef,
    Undefined,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)

UNPAGED_LIST = 10  # what a list without a page (`first`) is assumed to hold
PAGE_ARGUMENT = "first"
INTROSPECTION = frozenset({"__schema", "__type"})
SHOWN_UP_TO = 10**15  # beyond this a cost is reported as "more than …" (fragments can multiply without end)

FragmentLookup = Callable[[str], FragmentDefinitionNode | None]

# Operations found to take no page size from a variable, by identity (held, so an id is never reused while listed):
# a mutation with an `$input` needs no walk per request (≈ 12 µs each) to learn that its cost is the validated one.
_fixed: OrderedDict[int, OperationDefinitionNode] = OrderedDict()
FIXED_REMEMBERED = 512


def cost_message(cost: int, limit: int) -> str:
    shown = f"{cost:,}" if cost <= SHOWN_UP_TO else f"more than {SHOWN_UP_TO:,}"
    return (f"This document could return up to {shown} objects; the limit is {limit:,} (OMNIMAN_MAX_QUERY_COST): "
            "ask for smaller pages or fewer fields.")


class Costing:
    """One operation's cost. `variables` None: their values are unknown (validation), so a page size taken from a
    variable counts as the argument's default and `uses_variables` says the result is not the real cost."""

    def __init__(self, schema: GraphQLSchema, fragment: FragmentLookup,
                 variables: Mapping[str, Any] | None) -> None:
        self.schema = schema
        self.fragment = fragment
        self.variables = variables
        self.uses_variables = False
        # A fragment's cost depends only on the page it inherits: remembered, so that fragments spreading
        # fragments many times are counted by multiplication, not walked exponentially often.
        self._fragments: dict[tuple[str, int | None], int] = {}
        self._entered: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return 0 if root is None else self.selections(root, operation.selection_set, None)

    def selections(self, parent: GraphQLNamedType, selection_set: SelectionSetNode, page: int | None) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition is not None else parent
                if inner is not None:
                    total += self.selections(inner, selection.selection_set, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, page)
        return total

    def spread(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key in self._fragments:
            return self._fragments[key]
        fragment = self.fragment(name)
        if fragment is None or name in self._entered:  # unknown or cyclic: graphql-core's own rules report it
            return 0
        condition = self.schema.get_type(fragment.type_condition.name.value)
        self._entered.add(name)
        try:
            cost = 0 if condition is None else self.selections(condition, fragment.selection_set, page)
        finally:
            self._entered.discard(name)
        self._fragments[key] = cost
        return cost

    def field(self, parent: GraphQLNamedType, node: FieldNode, page: int | None) -> int:
        name = node.name.value
        if name in INTROSPECTION:
            return 1
        definition = _field_definition(parent, name)
        if definition is None:  # unknown: graphql-core's own rules refuse the document
            return 0
        returned = get_named_type(definition.type)
        if node.selection_set is None or not is_composite_type(returned):
            return 0  # a scalar or enum (or a list of them): part of the object it belongs to
        own_page = self.page_size(definition, node)
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            size = own_page if own_page is not None else page if page is not None else UNPAGED_LIST
            below = None
        else:
            size = 1
            below = own_page if own_page is not None else page
        return size * (1 + self.selections(returned, node.selection_set, below))

    def page_size(self, definition: GraphQLField, node: FieldNode) -> int | None:
        """The field's `first`: a literal, the variable's value, or the argument's default; None without one."""
        argument = definition.args.get(PAGE_ARGUMENT)
        if argument is None:
            return None
        default = argument.default_value if isinstance(argument.default_value, int) else None
        value_node = next((a.value for a in node.arguments or () if a.name.value == PAGE_ARGUMENT), None)
        value: Any = default
        if isinstance(value_node, IntValueNode):
            value = int(value_node.value)
        elif isinstance(value_node, VariableNode):
            self.uses_variables = True
            if self.variables is not None:
                sent = self.variables.get(value_node.name.value, Undefined)
                value = default if sent is None or sent is Undefined else sent
        elif value_node is not None and not isinstance(value_node, NullValueNode):
            value = default  # not an Int: graphql-core's rules refuse the document
        return max(0, value) if isinstance(value, int) else None


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if name == "__typename":
        return TypeNameMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None


def cost_rule(max_cost: int) -> type[ValidationRule]:
    """The validation rule refusing each operation over `max_cost` whose page sizes need no variable values (the
    others are checked as they execute, with the values sent: `check_cost`)."""

    class QueryCostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> Any:
            costing = Costing(self.context.schema, self.context.get_fragment, None)
            cost = costing.operation(node)
            if cost > max_cost and not costing.uses_variables:
                self.report_error(GraphQLError(cost_message(cost, max_cost), node))
            return SKIP

        def enter_fragment_definition(self, *_args: Any) -> Any:
            return SKIP

    return QueryCostLimit


def check_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
               fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any],
               max_cost: int) -> GraphQLError | None:
    """The error refusing an operation that declares variables, when its cost with `variables` (coerced: the
    operation's defaults applied) is over `max_cost`; None when it may run."""
    if not operation.variable_definitions or _fixed.get(id(operation)) is operation:
        return None  # nothing the validation rule did not see
    costing = Costing(schema, fragments.get, variables)
    cost = costing.operation(operation)
    if not costing.uses_variables:
        _fixed[id(operation)] = operation
        if len(_fixed) > FIXED_REMEMBERED:
            _fixed.popitem(last=False)
        return None
    return GraphQLError(cost_message(cost, max_cost), operation) if cost > max_cost else None
