"""Mutations of refs: attach and detach (tables, tabs, tickets, platform ids)."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import refs

from ..context import Info
from ..errors import user_errors
from ..inputs.ref import AttachRefInput, DetachRefInput
from ..payloads import RefPayload
from ..permissions import Action, authorize, ensure_channel_visible
from ..types.ref import Ref


@strawberry.type
class RefMutations:
    @strawberry.mutation(description="Attach a ref to an open session or to an order of the channel (exactly one "
                                     "target). Attaching what the target holds already answers its ref. Errors: "
                                     "not_found (channel, session or order), invalid_input, invalid_ref_type, "
                                     "invalid_ref_target (wrong kind of target, or a closed session), ref_taken "
                                     "(context: `holder` and its `session_key` or `order_ref`), in_progress (the value "
                                     "changed hands meanwhile: retry).")
    async def attach_ref(self, info: Info, input: Annotated[AttachRefInput, strawberry.argument(
            description="The ref and its target.")]) -> RefPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_channel_visible(info, input.channel_code)
            row = await refs.attach_ref(info.context.hub, **input.to_kwargs())
        except OmnimanError as exc:
            return RefPayload(errors=user_errors(exc))
        return RefPayload(ref=Ref.from_row(row))

    @strawberry.mutation(description="Detach the channel's active ref (type, value) of the current scope: the value "
                                     "is free again. Errors: not_found, invalid_input, invalid_ref_type.")
    async def detach_ref(self, info: Info, input: Annotated[DetachRefInput, strawberry.argument(
            description="The ref to detach.")]) -> RefPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_channel_visible(info, input.channel_code)
            row = await refs.detach_ref(info.context.hub, **input.to_kwargs())
        except OmnimanError as exc:
            return RefPayload(errors=user_errors(exc))
        return RefPayload(ref=Ref.from_row(row))
