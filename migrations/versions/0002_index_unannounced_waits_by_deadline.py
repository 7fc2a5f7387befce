"""index unannounced waits by deadline

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 01:55:44.124558
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wait_timers", schema=None) as batch_op:
        batch_op.create_index("ix_wait_timers_pending", ["notified", "ready_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wait_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_wait_timers_pending")
