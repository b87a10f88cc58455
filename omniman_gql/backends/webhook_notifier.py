"""A notifier that POSTs each notification as JSON to a URL, signed with HMAC-SHA256 and bounded by a timeout."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Omniman-Signature"


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the exact body bytes; receivers recompute it to trust the call."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Raises on a timeout, a connection failure or a non-2xx answer, so the directive is retried.

    The body carries `delivery_id` (the directive id): a retried delivery repeats it, so receivers can drop
    duplicates (directives are at-least-once)."""

    def __init__(self, url: str, secret: str, *, timeout_s: float) -> None:
        if not secret:
            raise ValueError("a webhook needs a signing secret (OMNIMAN_WEBHOOK_SECRET)")
        self.url = url
        self._secret = secret
        self._timeout = httpx.Timeout(timeout_s)

    async def send(self, *, topic: str, recipient: str, message: Mapping[str, Any]) -> None:
        document = {"topic": topic, "recipient": recipient, "message": dict(message)}
        body = json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body),
                   "X-Omniman-Topic": topic, "User-Agent": "omniman-webhook"}
        if "delivery_id" in message:
            headers["X-Omniman-Delivery"] = str(message["delivery_id"])
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
            response = await client.post(self.url, content=body, headers=headers)
        response.raise_for_status()
