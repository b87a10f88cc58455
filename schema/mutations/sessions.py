"""Mutations of sessions: open, modify, resolve an issue, abandon."""

from typing import Annotated

import strawberry

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.services import issues, sessions

from ..context import Info
from ..errors import user_errors
from ..inputs.session import ModifySessionInput, OpenSessionInput, ResolveIssueInput, SessionRefInput
from ..payloads import SessionPayload
from ..permissions import Action, authorize, ensure_channel_visible, ensure_session_visible
from ..types.session import Session

INPUT = "What to do (see the input type)."
OpenSessionArg = Annotated[OpenSessionInput, strawberry.argument(description=INPUT)]
ModifySessionArg = Annotated[ModifySessionInput, strawberry.argument(description=INPUT)]
ResolveIssueArg = Annotated[ResolveIssueInput, strawberry.argument(description=INPUT)]
SessionRefArg = Annotated[SessionRefInput, strawberry.argument(description=INPUT)]


@strawberry.type
class SessionMutations:
    @strawberry.mutation(description="Open a session, or return the open one of the same handle or key "
                                     "(get-or-open; `created` tells which). "
                                     "Errors: not_found (channel), channel_inactive, invalid_input, invalid_path.")
    async def open_session(self, info: Info, input: OpenSessionArg) -> SessionPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_channel_visible(info, input.channel_code)
            row, created = await sessions.open_session(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_model(row), created=created)

    @strawberry.mutation(description="Apply ops atomically (all or none); `rev` moves by one and checks are cleared. "
                                     "Errors: not_found, already_committed, already_abandoned, locked, stale_rev, "
                                     "missing_sku, invalid_qty, missing_unit_price_q, invalid_price, "
                                     "amount_out_of_range (a line total or the total beyond 2147483647), "
                                     "price_override_not_allowed (see the channel's `config.price_override`), "
                                     "unknown_line_id, invalid_path, invalid_merge, sku_mismatch, unsupported_op, "
                                     "invalid_input, and draft validators' codes.")
    async def modify_session(self, info: Info, input: ModifySessionArg) -> SessionPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_session_visible(info, input.channel_code, input.session_key)
            row = await sessions.modify_session(info.context.hub, actor=info.context.actor, role=info.context.role,
                                                **input.to_kwargs())
        except OmnimanError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_model(row))

    @strawberry.mutation(description="Carry out one suggested action of an issue through the normal modify "
                                     "pipeline. Errors: session_not_found, issue_not_found, no_resolver, "
                                     "action_not_found, stale_action, no_ops, and any error of modifySession.")
    async def resolve_issue(self, info: Info, input: ResolveIssueArg) -> SessionPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_session_visible(info, input.channel_code, input.session_key, ErrorCode.SESSION_NOT_FOUND)
            row = await issues.resolve_issue(info.context.hub, actor=info.context.actor, role=info.context.role,
                                             **input.to_kwargs())
        except OmnimanError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_model(row))

    @strawberry.mutation(description="Close an open session without an order; its handle is free again. "
                                     "Errors: not_found, already_committed, already_abandoned.")
    async def abandon_session(self, info: Info, input: SessionRefArg) -> SessionPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_session_visible(info, input.channel_code, input.session_key)
            row = await sessions.abandon_session(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return SessionPayload(errors=user_errors(exc))
        return SessionPayload(session=Session.from_model(row))
