"""audit_events: the registration each event belongs to, and when it began

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("flow_id", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("flow_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("flow_started_at")
        batch.drop_column("flow_id")
