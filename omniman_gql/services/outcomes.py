"""What one delivery of a directive did: the outcome the worker acts on (ack, send again later)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunOutcome:
    """What one delivery of a directive id did. `retry_in_ms` is set when the directive should be sent again later."""

    directive_id: int
    status: str  # "done" | "queued" (backing off) | "failed" | "skipped" (someone else has it, or it is finished)
    retry_in_ms: int | None = None
    # Set when this delivery claimed the directive (a run), for logs and metrics; not part of the outcome's value.
    topic: str = field(default="", compare=False)
    attempts: int = field(default=0, compare=False)
    duration_s: float = field(default=0.0, compare=False)  # the handler's run, for metrics
