"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may render SQLModel's types)
from alembic import op

import omniman_gql.models._base

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('pricing_policy', sa.String(length=16), nullable=False),
    sa.Column('edit_policy', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('display_order', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('code', name=op.f('uq_channels_code'))
    )
    op.create_table('directives',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('order_ref', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('available_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directives'))
    )
    with op.batch_alter_table('directives', schema=None) as batch_op:
        batch_op.create_index('ix_directives_order_ref', ['order_ref'], unique=False)
        batch_op.create_index('ix_directives_status_available', ['status', 'available_at'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('session_key', sa.String(length=200), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('scope', 'key', name='uq_idempotency_keys_scope_key')
    )
    op.create_table('prices',
    sa.Column('sku', sa.String(length=200), nullable=False),
    sa.Column('unit_price_q', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku', name=op.f('pk_prices'))
    )
    op.create_table('stock_holds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('hold_id', sa.String(length=32), nullable=False),
    sa.Column('sku', sa.String(length=200), nullable=False),
    sa.Column('qty', omniman_gql.models._base.Qty(precision=15, scale=3), nullable=False),
    sa.Column('reference', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_holds')),
    sa.UniqueConstraint('hold_id', name=op.f('uq_stock_holds_hold_id'))
    )
    with op.batch_alter_table('stock_holds', schema=None) as batch_op:
        batch_op.create_index('ix_stock_holds_reference', ['reference'], unique=False)
        batch_op.create_index('ix_stock_holds_sku_status', ['sku', 'status'], unique=False)

    op.create_table('stock_levels',
    sa.Column('sku', sa.String(length=200), nullable=False),
    sa.Column('on_hand', omniman_gql.models._base.Qty(precision=15, scale=3), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku', name=op.f('pk_stock_levels'))
    )
    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ref', sa.String(length=32), nullable=False),
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('session_key', sa.String(length=200), nullable=False),
    sa.Column('handle_type', sa.String(length=64), nullable=True),
    sa.Column('handle_ref', sa.String(length=200), nullable=True),
    sa.Column('external_ref', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_q', sa.BigInteger(), nullable=False),
    sa.Column('items_count', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('processing_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ready_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['channel_code'], ['channels.code'], name='fk_orders_channel'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('channel_code', 'external_ref', name='uq_orders_channel_external_ref'),
    sa.UniqueConstraint('ref', name=op.f('uq_orders_ref'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_channel_created', ['channel_code', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_created', ['created_at', 'id'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('session_key', sa.String(length=200), nullable=False),
    sa.Column('handle_type', sa.String(length=64), nullable=True),
    sa.Column('handle_ref', sa.String(length=200), nullable=True),
    sa.Column('open_handle', sa.String(length=270), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('pricing_policy', sa.String(length=16), nullable=False),
    sa.Column('edit_policy', sa.String(length=16), nullable=False),
    sa.Column('rev', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('pricing', sa.JSON(), nullable=False),
    sa.Column('pricing_trace', sa.JSON(), nullable=False),
    sa.Column('opened_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('committed_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('commit_token', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['channel_code'], ['channels.code'], name='fk_sessions_channel'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('channel_code', 'open_handle', name='uq_sessions_channel_open_handle'),
    sa.UniqueConstraint('channel_code', 'session_key', name='uq_sessions_channel_key')
    )
    op.create_table('fulfillments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ref', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('carrier', sa.String(length=200), nullable=False),
    sa.Column('tracking_code', sa.String(length=200), nullable=False),
    sa.Column('tracking_url', sa.String(length=2000), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('shipped_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_fulfillments_order'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillments')),
    sa.UniqueConstraint('ref', name=op.f('uq_fulfillments_ref'))
    )
    with op.batch_alter_table('fulfillments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fulfillments_order_id'), ['order_id'], unique=False)

    op.create_table('order_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', omniman_gql.models._base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_order_events_order'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events'))
    )
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.create_index('ix_order_events_channel_id', ['channel_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_events_order_id'), ['order_id'], unique=False)

    op.create_table('order_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line_id', sa.String(length=32), nullable=False),
    sa.Column('sku', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('qty', omniman_gql.models._base.Qty(precision=15, scale=3), nullable=False),
    sa.Column('unit_price_q', sa.BigInteger(), nullable=False),
    sa.Column('line_total_q', sa.BigInteger(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_order_items_order'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_items'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_items_order_id'), ['order_id'], unique=False)

    op.create_table('fulfillment_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('fulfillment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line_id', sa.String(length=32), nullable=False),
    sa.Column('qty', omniman_gql.models._base.Qty(precision=15, scale=3), nullable=False),
    sa.ForeignKeyConstraint(['fulfillment_id'], ['fulfillments.id'], name='fk_fulfillment_items_fulfillment'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillment_items'))
    )
    with op.batch_alter_table('fulfillment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fulfillment_items_fulfillment_id'), ['fulfillment_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('fulfillment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fulfillment_items_fulfillment_id'))

    op.drop_table('fulfillment_items')
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_items_order_id'))

    op.drop_table('order_items')
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_events_order_id'))
        batch_op.drop_index('ix_order_events_channel_id')

    op.drop_table('order_events')
    with op.batch_alter_table('fulfillments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fulfillments_order_id'))

    op.drop_table('fulfillments')
    op.drop_table('sessions')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_created')
        batch_op.drop_index('ix_orders_channel_created')

    op.drop_table('orders')
    op.drop_table('stock_levels')
    with op.batch_alter_table('stock_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_holds_sku_status')
        batch_op.drop_index('ix_stock_holds_reference')

    op.drop_table('stock_holds')
    op.drop_table('prices')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('directives', schema=None) as batch_op:
        batch_op.drop_index('ix_directives_status_available')
        batch_op.drop_index('ix_directives_order_ref')

    op.drop_table('directives')
    op.drop_table('channels')
    op.drop_table('api_tokens')

