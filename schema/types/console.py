"""Types the operator console reads (any client may): a channel's revisions, an idempotency key's record, the
directive alerts and who the caller is."""

import datetime as dt
from typing import Self

import strawberry

from omniman_gql import models
from omniman_gql.services import console
from omniman_gql.services.auth import Principal

from ..scalars import JSON
from .token import TokenRole


@strawberry.type(description="One change of a channel's settings or config: who made it, when, and the settings "
                             "before and after (snake_case keys, as stored; `before` is {} for the creation).")
class ChannelRevision:
    at: dt.datetime = strawberry.field(description="When the change was made.")
    actor: str = strawberry.field(description="Who made it: the token's name, or `cli: channels apply FILE`.")
    before: JSON = strawberry.field(description="Name, policies, currency, display order, active flag and config "
                                                "before the change.")
    after: JSON = strawberry.field(description="The same settings after the change.")

    @classmethod
    def from_model(cls, row: models.ChannelRevision) -> Self:
        return cls(at=row.at, actor=row.actor, before=row.before, after=row.after)


@strawberry.type(description="The record of an idempotency key of a channel's commits.")
class IdempotencyKeyInfo:
    key: str = strawberry.field(description="The key, as the client sent it.")
    status: str = strawberry.field(description="`in_progress` (a commit holds it) or `done`.")
    order_ref: str | None = strawberry.field(description="The order the key committed; null while in progress.")
    session_key: str = strawberry.field(description="The session the key committed (or is committing).")
    created_at: dt.datetime = strawberry.field(description="When the key was first used.")
    expires_at: dt.datetime = strawberry.field(description="When the record may be forgotten (72 h after "
                                                           "`createdAt`); the key could then commit again.")

    @classmethod
    def from_info(cls, info: console.KeyInfo) -> Self:
        return cls(key=info.key, status=info.status, order_ref=info.order_ref, session_key=info.session_key,
                   created_at=info.created_at, expires_at=info.expires_at)


@strawberry.type(description="What an operator must look at now: failed directives, and queued ones due for "
                             "longer than the server's threshold (no worker is taking them).")
class DirectiveAlerts:
    alerting: bool = strawberry.field(description="True when `failedCount` or `overdueCount` is above zero.")
    failed_count: int = strawberry.field(description="Directives that gave up (see `retryDirective`).")
    overdue_count: int = strawberry.field(description="Queued directives due for longer than `thresholdMinutes`.")
    oldest_due_since: dt.datetime | None = strawberry.field(
        description="Since when the longest-waiting due, queued directive has been due; null when none waits.")
    threshold_minutes: int = strawberry.field(
        description="The setting `OMNIMAN_CONSOLE_QUEUED_ALERT_MINUTES` (default 5).")

    @classmethod
    def from_alerts(cls, alerts: console.DirectiveAlerts) -> Self:
        return cls(alerting=alerts.alerting, failed_count=alerts.failed, overdue_count=alerts.overdue,
                   oldest_due_since=alerts.oldest_due_since, threshold_minutes=alerts.threshold_minutes)


@strawberry.type(description="The caller: the token that signed this request.")
class Viewer:
    name: str = strawberry.field(description="The token's name (recorded as `actor` on what it does).")
    role: TokenRole = strawberry.field(description="What it may do.")
    channels: list[str] | None = strawberry.field(
        description="The channels it may see; null for admin and staff tokens, which see every channel.")

    @classmethod
    def from_principal(cls, principal: Principal) -> Self:
        return cls(name=principal.name, role=TokenRole(principal.role.value),
                   channels=sorted(principal.channels) if principal.channels is not None else None)
