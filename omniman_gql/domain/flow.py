"""Order status flows: the default one, a channel's own, allowed transitions and status timestamps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STATUSES = ("new", "confirmed", "processing", "ready", "dispatched", "delivered", "completed", "cancelled", "returned")

DEFAULT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("confirmed", "cancelled"),
    "confirmed": ("processing", "ready", "cancelled"),
    "processing": ("ready", "cancelled"),
    "ready": ("dispatched", "completed"),
    "dispatched": ("delivered", "returned"),
    "delivered": ("completed", "returned"),
    "returned": ("completed",),
}
DEFAULT_TERMINAL = ("completed", "cancelled")

# The status → column of its first-time timestamp (I8).
TIMESTAMP_FIELDS = {
    "confirmed": "confirmed_at",
    "processing": "processing_at",
    "ready": "ready_at",
    "dispatched": "dispatched_at",
    "delivered": "delivered_at",
    "completed": "completed_at",
    "cancelled": "cancelled_at",
}


@dataclass(frozen=True, slots=True)
class OrderFlow:
    initial_status: str
    transitions: Mapping[str, tuple[str, ...]]
    terminal_statuses: frozenset[str]

    @classmethod
    def default(cls) -> OrderFlow:
        return cls("new", DEFAULT_TRANSITIONS, frozenset(DEFAULT_TERMINAL))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> OrderFlow:
        """A channel's `order_flow` config, with every missing part taken from the default flow."""
        flow = (config or {}).get("order_flow") or {}
        default = cls.default()
        transitions = flow.get("transitions")
        return cls(
            initial_status=flow.get("initial_status") or default.initial_status,
            transitions={k: tuple(v) for k, v in transitions.items()} if transitions else default.transitions,
            terminal_statuses=frozenset(flow.get("terminal_statuses") or default.terminal_statuses),
        )

    def is_terminal(self, status: str) -> bool:
        return status in self.terminal_statuses

    def allowed(self, current: str) -> tuple[str, ...]:
        if self.is_terminal(current):
            return ()
        return tuple(self.transitions.get(current, ()))

    def can_move(self, current: str, requested: str) -> bool:
        return requested in self.allowed(current)
