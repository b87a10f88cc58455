"""Dataloaders, built per request (and per event for subscriptions): one query per batch, no N+1."""

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from omniman_gql import models
from omniman_gql.protocols import CustomerInfo
from omniman_gql.runtime import Hub
from omniman_gql.services import customers, payments, reads, refs

K = TypeVar("K", bound=Hashable)


Fetch = Callable[[Hub, Sequence[Any]], Awaitable[dict[Any, Any]]]


def _loader(hub: Hub, fetch: Fetch, default: Any) -> DataLoader[Any, Any]:
    """A loader over a batch read returning {key: value}; missing keys get `default()` (or None)."""

    async def load(keys: list[Any]) -> list[Any]:
        found = await fetch(hub, keys)
        return [found.get(key, default() if default else None) for key in keys]

    return DataLoader(load_fn=load)


# name -> (batch read, default for a missing key); lists come as plain rows with the models' column names
# (reads.Row): much cheaper than ORM objects
LOADERS: dict[str, tuple[Fetch, Any]] = {
    "channel_by_code": (reads.channels_by_codes, None),
    "order_by_ref": (reads.orders_by_refs, None),
    "order_by_session": (reads.orders_by_sessions, None),
    "session_by_key": (reads.sessions_by_keys, None),
    "items_by_order_id": (reads.items_for_orders, list),
    "events_by_order_id": (reads.events_for_orders, list),
    "fulfillments_by_order_id": (reads.fulfillments_for_orders, list),
    "directives_by_order_ref": (reads.directives_for_orders, list),
    "customer_by_code": (customers.customers_by_codes, None),
    "payment_by_order_id": (payments.payments_for_orders, None),
    "refs_by_session": (refs.refs_for_sessions, list),
    "refs_by_order_ref": (refs.refs_for_orders, list),
}


class Loaders:
    """The dataloaders of one request (or one event), each made on first use: most operations use one or two, and a
    websocket connection keeps its context (and so this) for as long as it is open."""

    __slots__ = ("_hub", *LOADERS)

    channel_by_code: DataLoader[str, models.Channel | None]
    order_by_ref: DataLoader[str, models.Order | None]
    order_by_session: DataLoader[tuple[str, str], models.Order | None]
    session_by_key: DataLoader[tuple[str, str], models.Session | None]
    items_by_order_id: DataLoader[int, list[reads.Row]]
    events_by_order_id: DataLoader[int, list[reads.Row]]
    fulfillments_by_order_id: DataLoader[int, list[tuple[reads.Row, list[reads.Row]]]]
    directives_by_order_ref: DataLoader[str, list[reads.Row]]
    customer_by_code: DataLoader[str, CustomerInfo | None]
    payment_by_order_id: DataLoader[int, models.OrderPayment | None]
    refs_by_session: DataLoader[tuple[str, str], list[reads.Row]]
    refs_by_order_ref: DataLoader[str, list[reads.Row]]

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def __getattr__(self, name: str) -> DataLoader[Any, Any]:
        # Only called for a slot not set yet (or an unknown name).
        spec = LOADERS.get(name)
        if spec is None:
            raise AttributeError(name)
        loader = _loader(self._hub, *spec)
        object.__setattr__(self, name, loader)
        return loader


def create_loaders(hub: Hub) -> Loaders:
    return Loaders(hub)
