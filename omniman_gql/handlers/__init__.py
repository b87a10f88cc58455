"""Directive handlers, one module per topic family; `register_standard_handlers` installs the shipped ones."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .customer import customer_record_order
from .notification import notification_send
from .payment import payment_capture, payment_refund
from .stock import stock_commit, stock_hold, stock_release, stock_restock

if TYPE_CHECKING:
    from ..registry import Registry
    from ..settings import Settings

STANDARD = {
    "stock.hold": stock_hold,
    "stock.commit": stock_commit,
    "stock.release": stock_release,
    "stock.restock": stock_restock,
    "payment.capture": payment_capture,
    "payment.refund": payment_refund,
    "notification.send": notification_send,
    "customer.record_order": customer_record_order,
}


def register_standard_handlers(registry: Registry, settings: Settings) -> None:
    """Register the spec's standard handlers and the webhook notifier (when configured), then the plugins named in
    `settings.extra_handler_modules`: each module's `register_handlers(registry, settings)` is called."""
    for topic, handler in STANDARD.items():
        registry.add_handler(topic, handler)
    if settings.webhook_url:
        from ..backends.webhook_notifier import WebhookNotifier

        registry.notifiers["webhook"] = WebhookNotifier(settings.webhook_url, settings.webhook_secret or "",
                                                        timeout_s=settings.webhook_timeout_s)
    for name in settings.extra_handler_modules:
        module = importlib.import_module(name)
        register = getattr(module, "register_handlers", None)
        if register is None:
            raise ImportError(f"handler plugin {name!r} has no register_handlers(registry, settings)")
        register(registry, settings)
