"""Every permission decision of the API goes through here, so roles and channel scopes live in one place.

Three answers: no valid token → UNAUTHENTICATED; a role without the right → FORBIDDEN (both top-level errors, never
masked); an object on a channel outside the token's scope → exactly what the service says for one that does not
exist (the same `OmnimanError`, built by the same function), so a caller cannot even learn that it exists.
"""

from omniman_gql.errors import ErrorCode
from omniman_gql.services import reads
from omniman_gql.services.auth import Action, Principal
from omniman_gql.services.common import channel_not_found, fulfillment_not_found, order_not_found, session_not_found

from .context import Info
from .errors import ClientError

__all__ = ["Action", "authorize", "caller", "ensure_channel_visible", "ensure_fulfillment_visible",
           "ensure_order_visible", "ensure_session_visible", "sees", "visible_channels"]


def caller(info: Info) -> Principal:
    """Who is calling; a top-level UNAUTHENTICATED error when no valid token was shown."""
    principal = info.context.principal
    if principal is None:
        raise ClientError(info.context.auth_problem, code="UNAUTHENTICATED")
    return principal


def authorize(info: Info, action: Action) -> Principal:
    """The caller's role must allow `action` at all; otherwise a top-level FORBIDDEN error."""
    principal = caller(info)
    if not principal.can(action):
        raise ClientError(f"The {principal.role} role may not do this ({action}).", code="FORBIDDEN")
    return principal


def sees(info: Info, channel_code: str) -> bool:
    return caller(info).sees(channel_code)


def visible_channels(info: Info, channel_code: str | None = None) -> list[str] | None:
    """The channel filter of a list: None = no restriction; [] = nothing visible."""
    return caller(info).visible([channel_code] if channel_code is not None else None)


def ensure_channel_visible(info: Info, channel_code: str) -> None:
    """A channel outside the caller's scope is answered exactly as one that does not exist."""
    if not sees(info, channel_code):
        raise channel_not_found(channel_code)


def ensure_session_visible(info: Info, channel_code: str, session_key: str,
                           code: ErrorCode = ErrorCode.NOT_FOUND) -> None:
    """As `ensure_channel_visible`, for operations whose service answers "no such session" (with `code`)."""
    if not sees(info, channel_code):
        raise session_not_found(channel_code, session_key, code)


async def ensure_order_visible(info: Info, ref: str) -> None:
    """As `ensure_channel_visible`, for an order named by ref (looked up only when the caller is channel-scoped)."""
    if caller(info).channels is None:
        return
    order = await info.context.loaders.order_by_ref.load(ref)
    if order is None or not sees(info, order.channel_code):
        raise order_not_found(ref)


async def ensure_fulfillment_visible(info: Info, ref: str) -> None:
    """As `ensure_order_visible`, for a fulfillment named by ref."""
    if caller(info).channels is None:
        return
    channel_code = await reads.channel_of_fulfillment(info.context.hub, ref)
    if channel_code is None or not sees(info, channel_code):
        raise fulfillment_not_found(ref)
