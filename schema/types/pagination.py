"""Relay-style connections with opaque keyset cursors, newest first."""

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from omniman_gql.domain.limits import MAX_ROW_ID
from omniman_gql.services.reads import Page, Position

from ..errors import ClientError

T = TypeVar("T")
CURSOR_PREFIX = "v1:"


@strawberry.type(description="Where a page sits in the list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether older items follow this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page; null when empty.")


@strawberry.type(description="One item of a page and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item; pass as `after` to continue after it.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, newest first.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, newest first.")
    page_info: PageInfo = strawberry.field(description="Whether there is more, and where to continue.")

    @classmethod
    def of(cls, page: Page[object], node: Callable[[object], T], position: Callable[[object], Position]
           ) -> "Connection[T]":
        edges = [Edge(cursor=encode_cursor(position(row)), node=node(row)) for row in page.rows]
        return cls(edges=edges, page_info=PageInfo(has_next_page=page.has_next,
                                                    end_cursor=edges[-1].cursor if edges else None))


def encode_cursor(position: Position) -> str:
    ts, row_id = position
    raw = f"{CURSOR_PREFIX}{ts.isoformat() if ts else ''}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, max_id: int = MAX_ROW_ID) -> Position | None:
    """The position a cursor names; a cursor this server did not make is a clear top-level error. `max_id`: the
    largest id of the list's table (its column's type)."""
    if cursor is None:
        return None
    try:
        if len(cursor) > 200:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(CURSOR_PREFIX):
            raise ValueError
        ts, _, row_id = raw[len(CURSOR_PREFIX):].partition("|")
        position = _instant(ts) if ts else None, int(row_id)
        if not 0 <= position[1] <= max_id:  # the databases cannot compare a bigger id (an error, not a page)
            raise ValueError
        return position
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ClientError("`after` is not a cursor of this list; use a `cursor` or `endCursor` it returned.") from None


def _instant(text: str) -> dt.datetime:
    """A cursor's time as the lists compare it: aware, in UTC (a naive or unconvertible one is no cursor of ours)."""
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError
    return when.astimezone(dt.UTC)  # OverflowError at the ends of the calendar


DEFAULT_PAGE_SIZE = 25


def check_first(first: int | None, max_page_size: int) -> int:
    """A page size within bounds, or a clear top-level error (never a silently shortened page)."""
    if first is None:
        return min(DEFAULT_PAGE_SIZE, max_page_size)
    if not 1 <= first <= max_page_size:
        raise ClientError(f"`first` must be between 1 and {max_page_size}; got {first}.")
    return first
