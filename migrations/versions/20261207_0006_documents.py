"""persisted documents: `persisted_documents` (APQ store and trusted documents, by SHA-256)

Revision ID: 0006_documents
Revises: 0005
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omniman_gql.models._base

revision: str = '0006_documents'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = omniman_gql.models._base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'persisted_documents',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('trusted', sa.Boolean(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_persisted_documents')),
    )


def downgrade() -> None:
    op.drop_table('persisted_documents')
