"""A notifier that writes each notification to the log (the default when no webhook is configured)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("omniman.notifications")


class ConsoleNotifier:
    async def send(self, *, topic: str, recipient: str, message: Mapping[str, Any]) -> None:
        log.info("notification %s to %s: %s", topic, recipient or "-", json.dumps(message, default=str))
