"""directive leases: `directives.lease_expires_at`

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omniman_gql.models._base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: rows claimed by a release without leases have none, and the takeover falls back on
    # their `started_at` and the running timeout for them.
    with op.batch_alter_table('directives', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', omniman_gql.models._base.UtcDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('directives', schema=None) as batch_op:
        batch_op.drop_column('lease_expires_at')
