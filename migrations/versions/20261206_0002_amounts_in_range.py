"""amounts in range: refuse to go on while a stored order has an amount a GraphQL Int cannot carry

Before this revision a total up to 2**53 - 1 could be stored (issue 16); one such order makes every `orders`
list that selects it answer `data: null`. The hub now refuses those amounts (`amount_out_of_range`); this
revision checks the orders already stored. Orders are immutable and nothing here may guess a right amount, so it
changes no data: it logs every offending order and stops the upgrade until an operator has dealt with them (§18:
no stored row can make a list unreadable). No schema change, so the downgrade has nothing to undo.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The GraphQL Int, frozen here: a migration must keep meaning what it meant when it landed.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
SHOWN = 20  # refs named in the error itself; the log has them all

log = logging.getLogger("alembic.runtime.migration")  # alembic.ini shows this logger at INFO


def out_of_range_orders(connection: sa.Connection) -> list[tuple[str, int]]:
    """(ref, total_q) of every order whose total, or a line's price or total, lies outside the GraphQL Int."""
    orders = sa.table("orders", sa.column("id"), sa.column("ref"), sa.column("total_q"))
    items = sa.table("order_items", sa.column("order_id"), sa.column("unit_price_q"), sa.column("line_total_q"))

    def outside(column: sa.ColumnClause[int]) -> sa.ColumnElement[bool]:
        return sa.or_(column > INT_MAX, column < INT_MIN)

    bad_lines = sa.select(items.c.order_id).where(sa.or_(outside(items.c.unit_price_q), outside(items.c.line_total_q)))
    query = (sa.select(orders.c.ref, orders.c.total_q)
             .where(sa.or_(outside(orders.c.total_q), orders.c.id.in_(bad_lines)))
             .order_by(orders.c.id))
    return [(ref, total) for ref, total in connection.execute(query)]


def upgrade() -> None:
    found = out_of_range_orders(op.get_bind())
    for ref, total in found:
        log.error("order %s has an amount outside the GraphQL Int range (total_q=%s)", ref, total)
    if found:
        refs = ", ".join(ref for ref, _ in found[:SHOWN]) + (" …" if len(found) > SHOWN else "")
        raise RuntimeError(
            f"{len(found)} stored order(s) have amounts beyond {INT_MAX} minor units, which the API cannot send "
            f"(every orders list showing one fails): {refs}. Remove or correct them (see docs/deploy.md, "
            "\"Orders with out-of-range amounts\") and run the migration again.")


def downgrade() -> None:
    pass  # the upgrade only checks
