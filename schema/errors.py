"""Errors at the edge: payload `UserError`s from domain errors, and the few deliberate top-level errors."""

from collections.abc import Mapping, Sequence

import strawberry
from graphql import GraphQLError

from omniman_gql.errors import OmnimanError

from .scalars import JSON

# Below these input fields the path walks into a client's JSON document, whose keys are data, not GraphQL names.
JSON_FIELDS = frozenset({"config", "data", "meta", "payload", "value", "context", "result"})


@strawberry.type(description="An expected failure of a mutation: a stable `code` from the specification, a human "
                             "`message`, the path of the offending input and structured `context`.")
class UserError:
    code: str = strawberry.field(description="Stable machine-readable code, e.g. `stale_rev`, `invalid_qty`.")
    message: str = strawberry.field(description="What went wrong, for humans.")
    field: list[str] | None = strawberry.field(
        description='Path of the offending input, e.g. ["ops", "1", "addLine", "qty"]; null when no single input '
                    "is to blame.")
    context: JSON | None = strawberry.field(description="Structured details (e.g. `current`, `allowed`).")


class ClientError(GraphQLError):
    """A deliberate top-level error (bad arguments of a query, auth): shown to the client as is, never masked."""

    def __init__(self, message: str, *, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message, extensions={"code": code})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def field_path(path: Sequence[str | int] | None, rename: Mapping[str, str] | None = None) -> list[str] | None:
    """("ops", 1, "add_line", "qty") → ["ops", "1", "addLine", "qty"]; keys inside JSON inputs are kept as sent."""
    if path is None:
        return None
    out: list[str] = []
    in_json = False
    for index, segment in enumerate(path):
        text = str(segment)
        if index == 0 and rename and text in rename:
            text = rename[text]
        elif not in_json and isinstance(segment, str):
            text = camel(text)
        out.append(text)
        in_json = in_json or (isinstance(segment, str) and segment in JSON_FIELDS)
    return out


def user_errors(exc: OmnimanError, *, rename: Mapping[str, str] | None = None) -> list[UserError]:
    """Every error `exc` stands for, as payload errors. `rename` maps a service's argument to the input's name."""
    return [
        UserError(code=error.code.value, message=error.message, field=field_path(error.field, rename),
                  context=dict(error.context) or None)
        for error in exc.errors()
    ]
