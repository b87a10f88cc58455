"""Which rate-limit classes (concepts.md §17) an operation is charged to, read from its document once and remembered.

- A query (and a subscription) is `read`.
- A mutation is charged once per class its root fields touch: `modifySession`/`resolveIssue` → `modify`,
  `commitSession`/`importOrder` → `commit`; a mutation with both is charged to both, once each however many of
  them it selects (aliases included). Other mutations (openSession, upsertChannel…) are not rate-limited.
- A document that does not parse, or names no operation it holds, is `read`: it is refused later anyway, and
  reading it still cost the hub something.
"""

from __future__ import annotations

from collections import OrderedDict

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

MUTATION_CLASSES = {"modifySession": "modify", "resolveIssue": "modify",
                    "commitSession": "commit", "importOrder": "commit"}
READ: tuple[str, ...] = ("read",)
NONE: tuple[str, ...] = ()
REMEMBERED = 1024  # distinct (document, operation name) pairs kept; the rest are read again when they come back


class RateClasses:
    """`classes(query, operation_name)` → the classes to charge, in a fixed order; a dict hit for a known document."""

    def __init__(self, *, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._known: OrderedDict[tuple[str, str | None], tuple[str, ...]] = OrderedDict()

    def classes(self, query: str | None, operation_name: str | None) -> tuple[str, ...]:
        key = (query or "", operation_name)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._read(query or "", operation_name)
            if len(self._known) > REMEMBERED:
                self._known.popitem(last=False)
        return known

    def _read(self, query: str, operation_name: str | None) -> tuple[str, ...]:
        try:
            document = parse(query, no_location=True, max_tokens=self.max_tokens)
        except (GraphQLError, RecursionError):
            return READ
        operation = _operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return READ
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        names = _root_fields(operation.selection_set, fragments, set())
        touched = {MUTATION_CLASSES[name] for name in names if name in MUTATION_CLASSES}
        return tuple(sorted(touched)) or NONE


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == name), None)


def _root_fields(selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode],
                 seen: set[str]) -> set[str]:
    """The field names selected at the root, through inline fragments and fragment spreads (each spread once)."""
    names: set[str] = set()
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names |= _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                names |= _root_fields(fragment.selection_set, fragments, seen)
    return names
