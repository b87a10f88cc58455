"""Query fields the operator console needs, open to every client with the right: who am I, an idempotency key's
record, the directive alerts."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import console

from .context import Info
from .errors import ClientError
from .permissions import Action, authorize, caller
from .types.console import DirectiveAlerts, IdempotencyKeyInfo, Viewer


@strawberry.type
class ConsoleQueries:
    @strawberry.field(description="The caller's token: name, role and channel scope (a console uses it to refuse "
                                  "tokens that cannot operate it). Any valid token.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_principal(caller(info))

    @strawberry.field(description="The record of a commit idempotency key on a channel (keys are per channel); "
                                  "null when the key was never used there. Admin only. A missing channel is a "
                                  "top-level error.")
    async def idempotency_key(
        self, info: Info,
        channel_code: Annotated[str, strawberry.argument(description="The channel the key was used on.")],
        key: Annotated[str, strawberry.argument(description="The idempotency key, as the client sent it.")],
    ) -> IdempotencyKeyInfo | None:
        authorize(info, Action.ADMIN)
        if len(key) > info.context.hub.registry.limits.max_string_length or len(channel_code) > 64:
            raise ClientError("`channelCode` or `key` is too long.")
        try:
            found = await console.idempotency_key_info(info.context.hub, channel_code=channel_code, key=key)
        except OmnimanError as exc:
            raise ClientError(exc.message) from None
        return IdempotencyKeyInfo.from_info(found) if found else None

    @strawberry.field(description="Failed directives and queued ones overdue by more than "
                                  "`OMNIMAN_CONSOLE_QUEUED_ALERT_MINUTES` (the console's banner). Staff and admin.")
    async def directive_alerts(self, info: Info) -> DirectiveAlerts:
        authorize(info, Action.MANAGE_ORDER)
        return DirectiveAlerts.from_alerts(await console.directive_alerts(info.context.hub))
