"""Rows as plain values: what the checkout's statements read and write without building ORM instances."""

import datetime as dt
from collections import namedtuple
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SessionRow:
    """A sessions row. Same attribute names as `models.Session`, so whatever reads a session reads either."""

    id: int
    channel_code: str
    session_key: str
    handle_type: str | None
    handle_ref: str | None
    open_handle: str | None
    state: str
    pricing_policy: str
    edit_policy: str
    rev: int
    items: list[dict[str, Any]]
    data: dict[str, Any]
    pricing: dict[str, Any]
    pricing_trace: list[dict[str, Any]]
    opened_at: Any
    updated_at: Any
    committed_at: Any
    commit_token: str | None


SESSION_COLUMNS = tuple(SessionRow.__dataclass_fields__)

# The channel as the checkout's use cases read it (their rules): attribute access like `models.Channel`, without the
# columns they never read.
ChannelRow = namedtuple("ChannelRow", ["code", "pricing_policy", "edit_policy", "currency", "is_active", "config"])


@dataclass(slots=True)
class OrderRow:
    """A new order (the attributes of `models.Order`): written once and only read afterwards."""

    id: int
    ref: str
    channel_code: str
    session_key: str
    handle_type: str | None
    handle_ref: str | None
    external_ref: str | None
    status: str
    currency: str
    total_q: int
    items_count: int
    snapshot: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    processing_at: dt.datetime | None = None
    ready_at: dt.datetime | None = None
    dispatched_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    customer_code: str | None = None


ORDER_COLUMNS = tuple(name for name in OrderRow.__dataclass_fields__ if name != "id")
