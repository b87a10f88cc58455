"""Mutations of directives (admin): re-run a failed side effect."""

from typing import Annotated

import strawberry

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.services import directives

from ..context import Info
from ..errors import user_errors
from ..nodes import row_number
from ..payloads import DirectivePayload
from ..permissions import Action, authorize
from ..types.directive import Directive


def _directive_id(value: strawberry.ID) -> int:
    """The directive's global id (its `id`) or, as before global ids, its number."""
    number = row_number(str(value), "Directive")
    if number is None:
        raise OmnimanError(ErrorCode.NOT_FOUND, f"No directive {str(value)[:40]!r}.", field=("id",))
    return number


@strawberry.type
class DirectiveMutations:
    @strawberry.mutation(description="Queue a `failed` directive again, due now (admin). "
                                     "Errors: not_found, directive_not_runnable (it is not failed).")
    async def retry_directive(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The directive's id.")]
    ) -> DirectivePayload:
        authorize(info, Action.ADMIN)
        try:
            row = await directives.retry_directive(info.context.hub, directive_id=_directive_id(id))
        except OmnimanError as exc:
            return DirectivePayload(errors=user_errors(exc))
        return DirectivePayload(directive=Directive.from_model(row))
