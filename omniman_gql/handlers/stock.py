"""Stock directives: `stock.hold` (the session's stock check), `stock.commit`, `stock.release`, and hold expiry."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_

from ..backends.db_stock import DatabaseStock
from ..errors import OmnimanError
from ..models import Directive, Order, Session, StockHold, utcnow
from ..money import qty_str
from ..protocols import Availability, Hold
from ..runtime import Hub
from ..services.common import lock_order, lock_session
from ..services.events import record_event
from ..services.sessions import write_back_check

log = logging.getLogger("omniman.directives.stock")

INSUFFICIENT = "stock.insufficient"


def hold_reference(channel_code: str, session_key: str) -> str:
    """Every hold of a session carries this reference, so later checks and releases find them."""
    return f"{channel_code}:{session_key}"


def _wanted(items: list[dict[str, Any]]) -> dict[str, Decimal]:
    wanted: dict[str, Decimal] = {}
    for line in items:
        wanted[line["sku"]] = wanted.get(line["sku"], Decimal(0)) + Decimal(str(line["qty"]))
    return wanted


def insufficient_issues(items: list[dict[str, Any]], availability: list[Availability]) -> list[dict[str, Any]]:
    """One blocking issue per line that does not fit. The stock of a SKU goes to its lines in order; a short line is
    offered "adjust to N" (what is left for it, when N > 0) and "remove item", in the API's op shape."""
    left = {a.sku: a.available for a in availability if not a.ok}
    issues = []
    for line in items:
        sku = line["sku"]
        if sku not in left:
            continue
        qty = Decimal(str(line["qty"]))
        fits = min(qty, left[sku])
        left[sku] -= fits
        if fits >= qty:
            continue
        actions = []
        if fits > 0:
            actions.append({"label": f"Adjust to {qty_str(fits)}",
                            "ops": [{"setQty": {"lineId": line["line_id"], "qty": qty_str(fits)}}]})
        actions.append({"label": "Remove item", "ops": [{"removeLine": {"lineId": line["line_id"]}}]})
        issues.append({
            "code": INSUFFICIENT, "blocking": True,
            "message": f"Only {qty_str(fits)} of {sku} available for this line ({qty_str(qty)} requested).",
            "context": {"line_id": line["line_id"], "sku": sku, "requested": qty_str(qty),
                        "available": qty_str(fits), "actions": actions},
        })
    return issues


def _hold_doc(hold: Hold) -> dict[str, Any]:
    return {"hold_id": hold.hold_id, "sku": hold.sku, "qty": qty_str(hold.qty),
            "expires_at": hold.expires_at.isoformat()}


async def stock_hold(hub: Hub, directive: Directive) -> None:
    """Check availability of the session's lines at the payload's `rev` and hold them for `hold_ttl_seconds`.

    Idempotent: a stale rev, a session no longer open, or a check already written at this rev are all "done, nothing
    to do". The earlier holds of the session are released in the same transaction (session row locked, so a commit
    cannot slip in between); holds whose write-back was refused (the session moved on) are released again."""
    payload = directive.payload
    channel_code, session_key, rev = payload["channel_code"], payload["session_key"], int(payload["rev"])
    check = payload.get("check") or "stock"
    stock = hub.registry.stock
    reference = hold_reference(channel_code, session_key)
    async with hub.transaction() as uow:
        try:
            session, _ = await lock_session(uow.db, channel_code, session_key)
        except OmnimanError:
            log.info("stock.hold %s: session %s/%s is gone", directive.id, channel_code, session_key)
            return
        if session.state != "open" or session.rev != rev:
            log.info("stock.hold %s: not applied (session %s at rev %s, %s)", directive.id, session_key, session.rev,
                     session.state)
            return
        if ((session.data.get("checks") or {}).get(check) or {}).get("rev") == rev:
            return  # an earlier delivery of this directive already did it
        items = list(session.items)
        await stock.release_holds_for_reference(uow.db, reference)
        wanted = _wanted(items)
        availability = await stock.check_availability(uow.db, wanted) if wanted else []
        holds: list[Hold] = []
        short = [a for a in availability if not a.ok]
        expires_at = utcnow() + dt.timedelta(seconds=hub.settings.hold_ttl_seconds)
        if not short:  # a cart that cannot be committed holds nothing back from other buyers
            for a in availability:
                holds.append(await stock.create_hold(uow.db, sku=a.sku, qty=a.requested, reference=reference,
                                                     expires_at=expires_at))
    result = {
        "items": [{"sku": a.sku, "qty": qty_str(a.requested), "available": qty_str(a.available), "ok": a.ok}
                  for a in availability],
        "holds": [_hold_doc(h) for h in holds],
        "hold_expires_at": expires_at.isoformat() if holds else None,
    }
    applied = await write_back_check(hub, channel_code=channel_code, session_key=session_key, check_code=check,
                                     expected_rev=rev, result=result, issues=insufficient_issues(items, availability))
    if not applied and holds:
        async with hub.transaction() as uow:
            for hold in holds:
                await stock.release_hold(uow.db, hold.hold_id)


async def _order_status(db: Any, order_ref: str | None) -> str | None:
    if not order_ref:
        return None
    # Locked: a cancel committing meanwhile waits for this commit, so its restock sees the holds fulfilled.
    return (await db.execute(select(Order.status).where(Order.ref == order_ref)  # type: ignore[no-any-return]
                             .with_for_update())).scalar_one_or_none()


async def stock_commit(hub: Hub, directive: Directive) -> None:
    """Turn the order's holds into sales (on hand goes down), all or none. Already fulfilled is fine; a hold that
    cannot be fulfilled raises, so the directive is retried and finally `failed` with the reason. A cancelled order
    commits nothing (its `stock.release` gives the holds back)."""
    payload = directive.payload
    holds = [h for h in payload.get("holds") or [] if isinstance(h, dict) and h.get("hold_id")]
    async with hub.transaction() as uow:
        if await _order_status(uow.db, payload.get("order_ref")) in ("cancelled", "returned"):
            log.info("stock.commit %s: order %s is closed; nothing to commit", directive.id, payload["order_ref"])
            return
        refused = [h["hold_id"] for h in holds if not await hub.registry.stock.fulfill_hold(uow.db, h["hold_id"])]
        if refused:  # raising rolls back the holds fulfilled above: all or none
            raise RuntimeError(f"holds {', '.join(refused)} could not be fulfilled (released, expired and released, "
                               "or their SKU has no stock level)")


async def stock_release(hub: Hub, directive: Directive) -> None:
    """Give back the active holds of the session (abandoned session, cancelled order). Fulfilled holds stay sold."""
    payload = directive.payload
    reference = hold_reference(payload["channel_code"], payload["session_key"])
    async with hub.transaction() as uow:
        released = await hub.registry.stock.release_holds_for_reference(uow.db, reference)
    log.info("stock.release %s: released %s hold(s) of %s", directive.id, released, reference)


async def stock_restock(hub: Hub, directive: Directive) -> None:
    """Put back on hand what the order's commit took (a cancelled or returned order), once per order: each fulfilled
    hold is marked `restocked` in the same transaction, so a second run, or a concurrent one, restocks nothing. Appends
    a `stock.restocked` event with what went back."""
    payload = directive.payload
    reference = hold_reference(payload["channel_code"], payload["session_key"])
    async with hub.transaction() as uow:
        back = await hub.registry.stock.restock_for_reference(uow.db, reference)
        if back and payload.get("order_ref"):
            order, _ = await lock_order(uow.db, payload["order_ref"])
            await record_event(uow, order, "stock.restocked", {
                "items": [{"sku": sku, "qty": qty_str(qty)} for sku, qty in back], "directive_id": directive.id,
            }, actor="system")
    log.info("stock.restock %s: put back %s hold(s) of %s", directive.id, len(back), reference)


async def release_expired_holds(hub: Hub, *, page: int = 500, max_pages: int = 20) -> int:
    """Mark expired, still active holds of the database stock backend `released` (the sweeper calls this).

    Holds of committed sessions are left alone: their order's `stock.commit` may still be on its way, and it fulfills
    them even late. Other stock backends expire their holds themselves."""
    stock = hub.registry.stock
    if not isinstance(stock, DatabaseStock):
        return 0
    released, after = 0, 0
    for _ in range(max_pages):  # keyset pages, so kept-back holds never hide the ones behind them
        async with hub.transaction() as uow:
            expired = (await uow.db.execute(
                select(StockHold.id, StockHold.hold_id, StockHold.reference)
                .where(StockHold.status == "active", StockHold.expires_at <= utcnow(), StockHold.id > after)
                .order_by(StockHold.id).limit(page)
            )).all()
            if not expired:
                break
            after = expired[-1][0]
            committed = await _committed_sessions(uow.db, {ref for _, _, ref in expired})
            for _, hold_id, ref in expired:
                if ref not in committed:
                    released += await stock.release_hold(uow.db, hold_id)
        if len(expired) < page:
            break
    return released


async def _committed_sessions(db: Any, references: set[str]) -> set[str]:
    pairs = sorted(tuple(ref.split(":", 1)) for ref in references if ":" in ref)
    if not pairs:
        return set()
    rows = (await db.execute(select(Session.channel_code, Session.session_key).where(
        tuple_(Session.channel_code, Session.session_key).in_(pairs), Session.state == "committed"))).all()
    return {hold_reference(c, k) for c, k in rows}
