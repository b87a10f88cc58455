"""refs: ref types, refs on sessions and orders (unique while active per channel, type and scope), ticket counters,
and the indexes order search reads (external ref, handle, a session's order)

Revision ID: 0006_refs
Revises: 0005
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omniman_gql.models._base

revision: str = '0006_refs'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = omniman_gql.models._base.UtcDateTime
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
ACTIVE = sa.text('is_active')


def upgrade() -> None:
    op.create_table(
        'refs',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('channel_code', sa.String(length=64), nullable=False),
        sa.Column('ref_type', sa.String(length=32), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('scope_key', sa.String(length=10), nullable=False),
        sa.Column('session_key', sa.String(length=200), nullable=True),
        sa.Column('order_ref', sa.String(length=32), nullable=True),
        sa.Column('copy_to_order', sa.Boolean(), nullable=False),
        sa.Column('expires_on_close', sa.Boolean(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('deactivated_at', UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refs')),
    )
    with op.batch_alter_table('refs', schema=None) as batch_op:
        batch_op.create_index('uq_refs_active_value', ['channel_code', 'ref_type', 'scope_key', 'value'], unique=True,
                              sqlite_where=ACTIVE, postgresql_where=ACTIVE)
        batch_op.create_index('ix_refs_value', ['value'], unique=False)
        batch_op.create_index('ix_refs_session', ['channel_code', 'session_key'], unique=False)
        batch_op.create_index('ix_refs_order', ['order_ref'], unique=False)
    op.create_table(
        'ref_types',
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('target', sa.String(length=16), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('copy_to_order', sa.Boolean(), nullable=False),
        sa.Column('expires_on_close', sa.Boolean(), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_ref_types')),
    )
    op.create_table(
        'ticket_counters',
        sa.Column('channel_code', sa.String(length=64), nullable=False),
        sa.Column('business_day', sa.String(length=10), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('channel_code', 'business_day', name=op.f('pk_ticket_counters')),
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_external_ref', ['external_ref'], unique=False)
        batch_op.create_index('ix_orders_handle_ref', ['handle_ref'], unique=False)
        batch_op.create_index('ix_orders_channel_session', ['channel_code', 'session_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_channel_session')
        batch_op.drop_index('ix_orders_handle_ref')
        batch_op.drop_index('ix_orders_external_ref')
    op.drop_table('ticket_counters')
    op.drop_table('ref_types')
    with op.batch_alter_table('refs', schema=None) as batch_op:
        batch_op.drop_index('ix_refs_order')
        batch_op.drop_index('ix_refs_session')
        batch_op.drop_index('ix_refs_value')
        batch_op.drop_index('uq_refs_active_value')
    op.drop_table('refs')
