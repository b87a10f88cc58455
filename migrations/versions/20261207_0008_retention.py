"""retention: indexes for the purge and the idle-session sweep (concepts.md §17)

The sweeper and `omniman purge` look for idempotency keys by age, `done` directives and abandoned sessions by
status and age, and open sessions by age; without these each pass would read the whole table.

Revision ID: 0008_retention
Revises: 0007_channel_history
Create Date: 2026-12-07
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008_retention'
down_revision: str | None = '0007_channel_history'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'])
    op.create_index('ix_directives_status_updated', 'directives', ['status', 'updated_at'])
    op.create_index('ix_sessions_state_updated', 'sessions', ['state', 'updated_at'])


def downgrade() -> None:
    op.drop_index('ix_sessions_state_updated', table_name='sessions')
    op.drop_index('ix_directives_status_updated', table_name='directives')
    op.drop_index('ix_idempotency_keys_created_at', table_name='idempotency_keys')
