"""Sealing a draft into an order: the order row, its items, its first events and its post-commit directives."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import ids
from ..domain.flow import OrderFlow
from ..domain.ops import CUSTOMER_KEY
from ..models import Channel, Session, utcnow
from ..models.rows import ORDER_COLUMNS, OrderRow
from ..uow import DoneKey, UnitOfWork
from .events import announce_events
from .outbox import enqueue_many
from .refs import add_order_refs, next_ticket

SNAPSHOT_VERSION = 1
RECORD_ORDER = "customer.record_order"
ITEM_KEYS = ("line_id", "sku", "name", "qty", "unit_price_q", "line_total_q", "meta")


def clean_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines as orders keep them: the public keys only."""
    return [{key: line.get(key) for key in ITEM_KEYS} for line in items]


async def create_order(
    uow: UnitOfWork,
    *,
    channel: Channel | Any,
    session: Session | Any,
    actor: str,
    external_ref: str | None = None,
    directive_extras: dict[str, dict[str, Any]] | None = None,
    done_key: DoneKey | None = None,
    customer: dict[str, Any] | None = None,
    timezone: str = "UTC",
    close_refs: bool = False,
) -> OrderRow:
    """Create the order of `session` (already validated), with items, `created` and `price_override` events (I5),
    and the channel's post-commit directives, all inside the caller's transaction. `done_key`: a commit's key,
    recorded as done with the order (see DoneKey). `customer`: the session's customer as it is now ({code, name,
    phone}): the snapshot keeps it, and `customer.record_order` counts the order in its figures. A channel with
    `ticket` config gives the order its business day's next ticket (`timezone`: the hub's, for the business day).
    `close_refs`: the session's refs move to the order or end (a commit), with the order's own statements."""
    flow = OrderFlow.from_config(channel.config)
    now = utcnow()
    ticket = await next_ticket(uow, channel, now, timezone)
    items = clean_items(session.items)
    data = session.data
    if CUSTOMER_KEY in data:  # the hub's own link: the snapshot says who the customer was, in full, instead
        data = {key: value for key, value in data.items() if key != CUSTOMER_KEY}
    order = OrderRow(
        id=0, ref=ids.order_ref(now), channel_code=channel.code, session_key=session.session_key,
        handle_type=session.handle_type, handle_ref=session.handle_ref, external_ref=external_ref,
        status=flow.initial_status, currency=channel.currency, total_q=session.pricing.get("total_q", 0),
        items_count=len(items), created_at=now, updated_at=now,
        snapshot={"_v": SNAPSHOT_VERSION, "items": items, "data": data, "pricing": session.pricing,
                  "rev": session.rev, "channel_code": channel.code, "pricing_policy": session.pricing_policy},
        customer_code=customer["code"] if customer else None,
    )
    if ticket is not None:
        order.snapshot["ticket"] = ticket[1]
    if customer:
        order.snapshot["customer"] = {"code": customer["code"], "name": customer.get("name") or "",
                                      "phone": customer.get("phone")}
    events: list[tuple[str, dict[str, Any]]] = [("created", {
        "status": order.status, "total_q": order.total_q, "items_count": order.items_count,
        "session_key": session.session_key, **({"external_ref": external_ref} if external_ref else {}),
    })]
    for trace in session.pricing_trace or []:
        if trace.get("source") == "override":
            events.append(("price_override", {
                "line_id": trace["line_id"], "sku": trace["sku"], "given_q": trace["given_q"],
                "backend_q": trace.get("backend_q"), "actor": trace.get("actor", actor),
            }))
    # Plain values, not ORM instances: these rows are written once and never touched again here.
    lines = [{"line_id": line["line_id"], "sku": line["sku"], "name": line["name"] or line["sku"],
              "qty": Decimal(line["qty"]), "unit_price_q": line["unit_price_q"],
              "line_total_q": line["line_total_q"], "meta": line["meta"] or {}} for line in items]
    written_at = utcnow()
    event_rows = [{"channel_code": order.channel_code, "type": type_, "actor": actor, "payload": dict(payload),
                   "created_at": written_at} for type_, payload in events]
    order.id, event_ids = await uow.orders.create({name: getattr(order, name) for name in ORDER_COLUMNS}, lines,
                                                  event_rows, done_key=done_key, close_refs=close_refs)
    if ticket is not None or external_ref:
        await add_order_refs(uow, channel_code=channel.code, order_ref=order.ref, ticket=ticket,
                             external_ref=external_ref, now=now)
    announce_events(uow, order, event_ids, events)
    base = {"order_ref": order.ref, "channel_code": channel.code, "session_key": session.session_key}
    extras = directive_extras or {}
    topics = channel.config.get("post_commit_directives") or []
    work: list[tuple[str, Mapping[str, Any]]] = [(topic, {**base, **extras.get(topic, {})}) for topic in topics]
    if customer:  # only the code travels: a directive's payload is shown to admins and may be logged
        work.append((RECORD_ORDER, {**base, "customer_code": customer["code"]}))
    await enqueue_many(uow, work, order_ref=order.ref)
    return order
