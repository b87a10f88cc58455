"""Which rate-limit classes an operation is charged to (schema.rate_classes), read from its document."""

from __future__ import annotations

import pytest

from schema.rate_classes import RateClasses

MODIFY = "mutation { modifySession(input: {channelCode: \"p\", sessionKey: \"s\", ops: []}) { errors { code } } }"
BOTH = """mutation Checkout {
  a: modifySession(input: {channelCode: "p", sessionKey: "s", ops: []}) { errors { code } }
  b: modifySession(input: {channelCode: "p", sessionKey: "t", ops: []}) { errors { code } }
  ...Commit
}
fragment Commit on Mutation {
  commitSession(input: {channelCode: "p", sessionKey: "s", idempotencyKey: "k"}) { replayed }
}
query Look { channels { code } }"""


@pytest.mark.parametrize(("query", "operation", "classes"), [
    ("{ channels { code } }", None, ("read",)),
    ("subscription { orderEvents { cursor } }", None, ("read",)),
    (MODIFY, None, ("modify",)),
    ("mutation { importOrder(input: {}) { errors { code } } }", None, ("commit",)),
    ("mutation { ... on Mutation { resolveIssue(input: {}) { errors { code } } } }", None, ("modify",)),
    ("mutation { openSession(input: {}) { errors { code } } }", None, ()),  # not a limited mutation
    (BOTH, "Checkout", ("commit", "modify")),  # once per class touched, however many fields of it
    (BOTH, "Look", ("read",)),
    (BOTH, None, ("read",)),  # which one runs is not said: refused later, counted as a read
    ("mutation {", None, ("read",)),  # does not parse
    (None, None, ("read",)),
])
def test_rate_classes_of_an_operation(query: str | None, operation: str | None, classes: tuple[str, ...]) -> None:
    rate_classes = RateClasses(max_tokens=5000)
    assert rate_classes.classes(query, operation) == classes
    assert rate_classes.classes(query, operation) == classes  # remembered


def test_rate_classes_remembers_a_bounded_number_of_documents() -> None:
    rate_classes = RateClasses(max_tokens=5000)
    for n in range(3000):
        assert rate_classes.classes(f"{{ channels {{ code }} }} # {n}", None) == ("read",)
    assert len(rate_classes._known) <= 1024  # (the bound is the point of this test)
