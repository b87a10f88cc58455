"""payment on the order (`order_payments`), the mock gateway's intents (`mock_payment_intents`), live token names

A live token's name is the actor on the events it causes, so names become unique among live tokens (a partial
unique index). Live tokens already sharing a name keep the oldest as it is; the others get `-<id>` appended (logged),
so the upgrade never stops on them and their secrets keep working.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omniman_gql.models._base

log = logging.getLogger('alembic.runtime.migration')

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A separate table, not columns on `orders`: a commit writes no payment row (the state before the first move is
    # derived from the snapshot), so the checkout's statements stay as they are.
    op.create_table('mock_payment_intents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('intent_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('captured_q', sa.BigInteger(), nullable=False),
    sa.Column('refunded_q', sa.BigInteger(), nullable=False),
    sa.Column('references', sa.JSON(), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mock_payment_intents')),
    sa.UniqueConstraint('intent_id', name=op.f('uq_mock_payment_intents_intent_id'))
    )
    op.create_table('order_payments',
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('intent_id', sa.String(length=200), nullable=True),
    sa.Column('method', sa.String(length=64), nullable=True),
    sa.Column('amount_q', sa.BigInteger(), nullable=False),
    sa.Column('captured_q', sa.BigInteger(), nullable=False),
    sa.Column('refunded_q', sa.BigInteger(), nullable=False),
    sa.Column('pending_refund_q', sa.BigInteger(), nullable=False),
    sa.Column('refunds_count', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_order_payments_order'),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_payments'))
    )
    tokens = sa.table('api_tokens', sa.column('id', sa.Integer), sa.column('name', sa.String),
                      sa.column('revoked_at', sa.DateTime))
    bind = op.get_bind()
    seen: set[str] = set()
    for token_id, name in bind.execute(sa.select(tokens.c.id, tokens.c.name)
                                       .where(tokens.c.revoked_at.is_(None)).order_by(tokens.c.id)).all():
        if name in seen:
            renamed = f"{name[:190]}-{token_id}"
            log.warning("api token %s shares its name %r with an older live token: renamed %r", token_id, name, renamed)
            bind.execute(sa.update(tokens).where(tokens.c.id == token_id).values(name=renamed))
        seen.add(name)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index('uq_api_tokens_live_name', ['name'], unique=True,
                              sqlite_where=sa.text('revoked_at IS NULL'),
                              postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index('uq_api_tokens_live_name', sqlite_where=sa.text('revoked_at IS NULL'),
                            postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_table('order_payments')
    op.drop_table('mock_payment_intents')
