"""customers and price lists: `customers`, `customer_orders`, `orders.customer_code`, prices per channel and list

Price rows were keyed by SKU alone; they are now keyed by (sku, channel_code, price_list), "" meaning "any channel"
and "no price list", so every existing row keeps meaning what it meant (the price for every channel, no list).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omniman_gql.models._base

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = omniman_gql.models._base.UtcDateTime
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'customers',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('name_key', sa.String(length=200), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('phone_digits', sa.String(length=15), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('tax_id', sa.String(length=32), nullable=True),
        sa.Column('price_list', sa.String(length=64), nullable=True),
        sa.Column('notes', sa.String(length=2000), nullable=True),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('orders_count', sa.Integer(), nullable=False),
        sa.Column('total_spent_q', sa.BigInteger(), nullable=False),
        sa.Column('last_order_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
        sa.UniqueConstraint('code', name=op.f('uq_customers_code')),
        sa.UniqueConstraint('phone_digits', name=op.f('uq_customers_phone_digits')),
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_name_key', ['name_key'], unique=False)
        batch_op.create_index('ix_customers_email', ['email'], unique=False)
    op.create_table(
        'customer_orders',
        sa.Column('order_ref', sa.String(length=32), nullable=False),
        sa.Column('customer_code', sa.String(length=64), nullable=False),
        sa.Column('total_q', sa.BigInteger(), nullable=False),
        sa.Column('ordered_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('counted', sa.Boolean(), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('order_ref', name=op.f('pk_customer_orders')),
    )
    with op.batch_alter_table('customer_orders', schema=None) as batch_op:
        batch_op.create_index('ix_customer_orders_customer_code', ['customer_code'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_code', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_orders_customer_created', ['customer_code', 'created_at', 'id'], unique=False)
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_code', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('price_list', sa.String(length=64), server_default='', nullable=False))
        batch_op.drop_constraint('pk_prices', type_='primary')
        batch_op.create_primary_key('pk_prices', ['sku', 'channel_code', 'price_list'])
    # The defaults only filled the existing rows: new rows always say which channel and list they are for.
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.alter_column('channel_code', server_default=None)
        batch_op.alter_column('price_list', server_default=None)


def downgrade() -> None:
    # Only the rows for any channel without a list mean something to the older schema (one price per SKU).
    op.execute(sa.text("DELETE FROM prices WHERE channel_code <> '' OR price_list <> ''"))
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.drop_constraint('pk_prices', type_='primary')
        batch_op.create_primary_key('pk_prices', ['sku'])
        batch_op.drop_column('price_list')
        batch_op.drop_column('channel_code')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_customer_created')
        batch_op.drop_column('customer_code')
    with op.batch_alter_table('customer_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_orders_customer_code')
    op.drop_table('customer_orders')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_email')
        batch_op.drop_index('ix_customers_name_key')
    op.drop_table('customers')
