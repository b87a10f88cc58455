"""Use case: resolve an issue by carrying out one of its actions through the normal modify pipeline."""

from __future__ import annotations

from ..errors import ErrorCode, OmnimanError
from ..models.rows import SessionRow
from ..runtime import Hub
from .common import lock_session
from .sessions import modify_session


async def resolve_issue(
    hub: Hub, *, channel_code: str, session_key: str, issue_id: str, action_id: str, actor: str = "system",
    role: str = "system",
) -> SessionRow:
    """Apply the ops of `action_id` of `issue_id`, at the rev the action was made for.

    Errors: session_not_found, issue_not_found, no_resolver, action_not_found, stale_action, no_ops, and any error of
    modify_session (the ops go through it, so `rev` moves and checks run again).
    """
    async with hub.transaction(readonly=True) as uow:
        session, _ = await lock_session(uow.db, channel_code, session_key, code=ErrorCode.SESSION_NOT_FOUND)
    issue = next((i for i in session.data.get("issues", []) if i.get("id") == issue_id), None)
    if issue is None:
        raise OmnimanError(ErrorCode.ISSUE_NOT_FOUND, f"No issue {issue_id!r} on this session.", field=("issue_id",))
    resolver = hub.registry.resolvers.get(issue.get("source", ""))
    if resolver is None:
        raise OmnimanError(ErrorCode.NO_RESOLVER, f"No resolver for issues from {issue.get('source')!r}.",
                           field=("issue_id",), context={"source": issue.get("source")})
    actions = (issue.get("context") or {}).get("actions") or []
    action = next((a for a in actions if a.get("id") == action_id), None)
    if action is None:
        raise OmnimanError(ErrorCode.ACTION_NOT_FOUND, f"No action {action_id!r} on issue {issue_id!r}.",
                           field=("action_id",), context={"actions": [a.get("id") for a in actions]})
    if action.get("rev") != session.rev:
        raise OmnimanError(ErrorCode.STALE_ACTION, "The session changed since this action was suggested.",
                           field=("action_id",), context={"rev": session.rev, "action_rev": action.get("rev")})
    ops = await resolver(hub, issue, action)
    if not ops:
        raise OmnimanError(ErrorCode.NO_OPS, "This action has nothing to apply.", field=("action_id",))
    # expected_rev closes the race between this read and the modify: a change in between is `stale_rev`.
    return await modify_session(hub, channel_code=channel_code, session_key=session_key, ops=ops,
                                expected_rev=session.rev, actor=actor, role=role)
