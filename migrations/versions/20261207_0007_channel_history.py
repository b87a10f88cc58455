"""channel history: `channel_revisions`, one row per change of a channel's settings or config

Revision ID: 0007_channel_history
Revises: 0006_refs
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omniman_gql.models._base

revision: str = '0007_channel_history'
down_revision: str | None = '0006_refs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = omniman_gql.models._base.UtcDateTime
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'channel_revisions',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('channel_code', sa.String(length=64), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('before', sa.JSON(), nullable=False),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.Column('at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_revisions')),
    )
    with op.batch_alter_table('channel_revisions', schema=None) as batch_op:
        batch_op.create_index('ix_channel_revisions_channel_id', ['channel_code', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channel_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_channel_revisions_channel_id')
    op.drop_table('channel_revisions')
