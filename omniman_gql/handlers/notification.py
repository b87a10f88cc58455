"""The `notification.send` directive: deliver a message through a configured notifier (console, webhook)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from ..models import Channel, Directive
from ..runtime import Hub
from ..services.directives import DirectiveFailed, shared_read
from ..uow import UnitOfWork

ROUTING_KEYS = ("backend", "recipient", "event", "message")
_CHANNELS = Channel.__table__
_CHANNEL_CONFIG = select(_CHANNELS.c.config).where(_CHANNELS.c.code == bindparam("code"))
_CHANNEL_CONFIGS = select(_CHANNELS.c.code, _CHANNELS.c.config).where(
    _CHANNELS.c.code.in_(bindparam("codes", expanding=True)))


def _key(channel_code: str) -> tuple[str, str]:
    return ("channel.config", channel_code)


async def prefetch_channels(uow: UnitOfWork, directives: list[Directive]) -> dict[Any, Any]:
    """The channels of a delivery's notifications, read with the claim (see services.claims._prefetch)."""
    codes = sorted({code for d in directives if isinstance(code := d.payload.get("channel_code"), str) and code})
    if not codes:
        return {}
    if len(codes) == 1:
        configs = {codes[0]: (await uow.execute(_CHANNEL_CONFIG, {"code": codes[0]})).scalar_one_or_none()}
    else:
        configs = {row.code: row.config for row in await uow.execute(_CHANNEL_CONFIGS, {"codes": codes})}
    return {_key(code): configs.get(code) for code in codes}  # an unknown channel too: no settings, no second read


async def _channel_settings(hub: Hub, channel_code: str | None) -> dict[str, Any]:
    if not channel_code:
        return {}

    async def read() -> Any:
        async with hub.transaction(readonly=True) as uow:
            return (await uow.execute(_CHANNEL_CONFIG, {"code": channel_code})).scalar_one_or_none()

    # Prefetched with the claim (prefetch_channels); else read once for all the notifications of the delivery.
    config = await shared_read(_key(channel_code), read)
    notifications = (config or {}).get("notifications")
    return notifications if isinstance(notifications, dict) else {}


async def notification_send(hub: Hub, directive: Directive) -> None:
    """Payload: `backend?` (else the channel's `config.notifications.backend`, else webhook when configured, else
    console), `recipient?`, `event?`, `message?` (else the rest of the payload, e.g. an `on_status` order summary).
    The message gets `delivery_id` = the directive id, so receivers can drop repeated deliveries."""
    payload = dict(directive.payload)
    channel = await _channel_settings(hub, payload.get("channel_code"))
    notifiers = hub.registry.notifiers
    backend = payload.get("backend") or channel.get("backend") or ("webhook" if "webhook" in notifiers else "console")
    notifier = notifiers.get(backend)
    if notifier is None:
        raise DirectiveFailed(f"no notifier {backend!r} (configured: {', '.join(sorted(notifiers))})")
    message = payload.get("message")
    if not isinstance(message, dict):
        message = {k: v for k, v in payload.items() if k not in ROUTING_KEYS}
    event = payload.get("event") or (f"order.{payload['status']}" if payload.get("status") else "notification")
    recipient = str(payload.get("recipient") or channel.get("recipient") or "")
    await notifier.send(topic=str(event), recipient=recipient, message={**message, "delivery_id": directive.id})


notification_send.prefetch = prefetch_channels  # type: ignore[attr-defined]
