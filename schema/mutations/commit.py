"""The commit mutation: a session becomes an order, exactly once per idempotency key."""

import uuid
from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import commit

from ..context import Info
from ..errors import user_errors
from ..inputs.session import CommitSessionInput
from ..payloads import CommitPayload, CommitResult
from ..permissions import Action, authorize, ensure_channel_visible
from ..types.order import Order

INPUT = "What to do (see the input type)."
CommitSessionArg = Annotated[CommitSessionInput, strawberry.argument(description=INPUT)]


@strawberry.type
class CommitMutations:
    @strawberry.mutation(description="Seal a session into an order. The same key again returns the same order with "
                                     "`replayed: true`; a session committed before returns its order with "
                                     "`result.status = \"already_committed\"`. "
                                     "Errors: not_found, in_progress, idempotency_key_reused, abandoned, "
                                     "missing_check, stale_check, hold_expired, blocking_issues, empty_session, "
                                     "amount_out_of_range, invalid_input, and commit validators' codes.")
    async def commit_session(self, info: Info, input: CommitSessionArg) -> CommitPayload:
        authorize(info, Action.WRITE_SESSION)
        kwargs = input.to_kwargs()
        if kwargs["idempotency_key"] is None:  # generated only when the client sends none (no safe retries then)
            kwargs["idempotency_key"] = f"gen-{uuid.uuid4().hex}"
        try:
            ensure_channel_visible(info, input.channel_code)
            outcome = await commit.commit_session(info.context.hub, actor=info.context.actor, **kwargs)
        except OmnimanError as exc:
            return CommitPayload(idempotency_key=kwargs["idempotency_key"], errors=user_errors(exc))
        return CommitPayload(result=CommitResult.from_result(outcome.result),
                             order=Order.from_model(outcome.order) if outcome.order else None,
                             replayed=outcome.replayed, idempotency_key=kwargs["idempotency_key"])
