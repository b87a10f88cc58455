"""Every permission decision of the API goes through here, so roles and channel scopes live in one place."""

from collections.abc import Sequence

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.services import reads
from omniman_gql.services.auth import Action

from .context import Info
from .errors import ClientError

__all__ = ["Action", "authorize", "ensure_channel_visible", "ensure_fulfillment_visible", "ensure_order_visible",
           "sees", "visible_channels"]


def authorize(info: Info, action: Action) -> None:
    """The caller's role must allow `action` at all; otherwise a top-level FORBIDDEN error."""
    principal = info.context.principal
    if not principal.can(action):
        raise ClientError(f"The {principal.role} role may not do this ({action}).", code="FORBIDDEN")


def sees(info: Info, channel_code: str) -> bool:
    return info.context.principal.sees(channel_code)


def visible_channels(info: Info, channel_code: str | None = None) -> list[str] | None:
    """The channel filter of a list: None = no restriction; [] = nothing visible."""
    return info.context.principal.visible([channel_code] if channel_code is not None else None)


def ensure_channel_visible(info: Info, channel_code: str, field: Sequence[str] = ("channel_code",)) -> None:
    """A channel outside the caller's scope is answered exactly as one that does not exist."""
    if not sees(info, channel_code):
        raise OmnimanError(ErrorCode.NOT_FOUND, f"No channel {channel_code!r}.", field=tuple(field))


async def ensure_order_visible(info: Info, ref: str, field: Sequence[str] = ("ref",)) -> None:
    """As `ensure_channel_visible`, for an order named by ref (looked up only when the caller is channel-scoped)."""
    if info.context.principal.channels is None:
        return
    order = await info.context.loaders.order_by_ref.load(ref)
    if order is None or not sees(info, order.channel_code):
        raise OmnimanError(ErrorCode.NOT_FOUND, f"No order {ref!r}.", field=tuple(field), context={"ref": ref})


async def ensure_fulfillment_visible(info: Info, ref: str, field: Sequence[str] = ("ref",)) -> None:
    """As `ensure_order_visible`, for a fulfillment named by ref."""
    if info.context.principal.channels is None:
        return
    channel_code = await reads.channel_of_fulfillment(info.context.hub, ref)
    if channel_code is None or not sees(info, channel_code):
        raise OmnimanError(ErrorCode.NOT_FOUND, f"No fulfillment {ref!r}.", field=tuple(field))
