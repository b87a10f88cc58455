"""Dataloaders, built per request (and per event for subscriptions): one query per batch, no N+1."""

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from omniman_gql import models
from omniman_gql.runtime import Hub
from omniman_gql.services import reads

K = TypeVar("K", bound=Hashable)


Fetch = Callable[[Hub, Sequence[Any]], Awaitable[dict[Any, Any]]]


def _loader(hub: Hub, fetch: Fetch, default: Any) -> DataLoader[Any, Any]:
    """A loader over a batch read returning {key: value}; missing keys get `default()` (or None)."""

    async def load(keys: list[Any]) -> list[Any]:
        found = await fetch(hub, keys)
        return [found.get(key, default() if default else None) for key in keys]

    return DataLoader(load_fn=load)


@dataclass(frozen=True, slots=True)
class Loaders:
    channel_by_code: DataLoader[str, models.Channel | None]
    order_by_ref: DataLoader[str, models.Order | None]
    order_by_session: DataLoader[tuple[str, str], models.Order | None]
    session_by_key: DataLoader[tuple[str, str], models.Session | None]
    # lists come as plain rows with the models' column names (reads.Row): much cheaper than ORM objects
    items_by_order_id: DataLoader[int, list[reads.Row]]
    events_by_order_id: DataLoader[int, list[reads.Row]]
    fulfillments_by_order_id: DataLoader[int, list[tuple[reads.Row, list[reads.Row]]]]
    directives_by_order_ref: DataLoader[str, list[reads.Row]]


def create_loaders(hub: Hub) -> Loaders:
    return Loaders(
        channel_by_code=_loader(hub, reads.channels_by_codes, None),
        order_by_ref=_loader(hub, reads.orders_by_refs, None),
        order_by_session=_loader(hub, reads.orders_by_sessions, None),
        session_by_key=_loader(hub, reads.sessions_by_keys, None),
        items_by_order_id=_loader(hub, reads.items_for_orders, list),
        events_by_order_id=_loader(hub, reads.events_for_orders, list),
        fulfillments_by_order_id=_loader(hub, reads.fulfillments_for_orders, list),
        directives_by_order_ref=_loader(hub, reads.directives_for_orders, list),
    )
