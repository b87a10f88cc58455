"""A notifier that writes each notification to the process's standard output (the default without a webhook)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import Any


class ConsoleNotifier:
    """One line per notification on stdout, where `omniman serve` (or `omniman worker`) shows it: readable by
    default, a JSON object (the shape of the JSON log lines) when JSON logs are on. Not through `logging`: a
    notification is output the operator asked for, not a log record a log level may hide."""

    def __init__(self, *, json_lines: bool = False) -> None:
        self.json_lines = json_lines

    async def send(self, *, topic: str, recipient: str, message: Mapping[str, Any]) -> None:
        if self.json_lines:
            line = json.dumps({
                "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "level": "info",
                "logger": "omniman.notifications", "event": "notification", "topic": topic,
                "recipient": recipient or None, "message": dict(message),
            }, default=str, separators=(",", ":"), ensure_ascii=False)
        else:
            line = f"notification {topic} to {recipient or '-'}: {json.dumps(message, default=str, ensure_ascii=False)}"
        # One write per line, so lines of concurrent notifications never interleave.
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
