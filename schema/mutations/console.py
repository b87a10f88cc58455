"""Mutations the operator console needs (any client with the right): re-run a session's checks, run a directive
now."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import console

from ..context import Info
from ..errors import user_errors
from ..inputs.session import SessionRefInput
from ..payloads import DirectivePayload, SessionPayload
from ..permissions import Action, authorize, ensure_session_visible
from ..types.directive import Directive
from ..types.session import Session
from .directives import directive_number


@strawberry.type
class ConsoleMutations:
    @strawberry.mutation(description="Run the channel's required checks again for the session as it is now (after a "
                                     "restock, or when a check's directive failed). The rev does not move; results "
                                     "arrive as usual (see `sessionChanged`). "
                                     "Errors: not_found, already_committed, already_abandoned.")
    async def run_checks(self, info: Info, input: Annotated[SessionRefInput, strawberry.argument(
            description="The session.")]) -> SessionPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_session_visible(info, input.channel_code, input.session_key)
            row = await console.run_checks(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_model(row))

    @strawberry.mutation(description="Run a `queued` (e.g. backing off) or `failed` directive now (admin): it is "
                                     "made due and dispatched; the claim runs it once however often it is pressed. "
                                     "Errors: not_found, directive_not_runnable (it is running or done).")
    async def run_directive_now(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The directive's id.")]
    ) -> DirectivePayload:
        authorize(info, Action.ADMIN)
        try:
            row = await console.run_directive_now(info.context.hub, directive_id=directive_number(id))
        except OmnimanError as exc:
            return DirectivePayload(errors=user_errors(exc))
        return DirectivePayload(directive=Directive.from_model(row))
