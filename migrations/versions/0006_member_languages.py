"""member_languages: the language each member chose with /language

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_languages",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_member_languages")),
    )


def downgrade() -> None:
    op.drop_table("member_languages")
