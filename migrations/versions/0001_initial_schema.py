"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 00:45:08.859489
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("instance", sa.String(length=32), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_created_at", ["created_at"], unique=False)

    op.create_table(
        "instance_leases",
        sa.Column("instance", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_instance_leases")),
    )
    with op.batch_alter_table("instance_leases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instance_leases_chat_id"), ["chat_id"], unique=False)

    op.create_table(
        "members",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_members")),
    )
    op.create_table(
        "registrations",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("flow_id", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("instance", sa.String(length=32), nullable=True),
        sa.Column("ddi", sa.String(length=4), nullable=True),
        sa.Column("phone", sa.String(length=15), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("captcha_pending", sa.Boolean(), nullable=False),
        sa.Column("wrong_code_count", sa.Integer(), nullable=False),
        sa.Column("wa_old_eligible", sa.Boolean(), nullable=True),
        sa.Column("blocked_methods", sa.String(length=32), nullable=False),
        sa.Column("appeal_token", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_registrations")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registrations_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "wait_timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance", sa.String(length=32), nullable=False),
        sa.Column("ddi", sa.String(length=4), nullable=False),
        sa.Column("phone", sa.String(length=15), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wait_timers")),
        sa.UniqueConstraint(
            "instance", "ddi", "phone", "method", name=op.f("uq_wait_timers_instance")
        ),
    )
    with op.batch_alter_table("wait_timers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wait_timers_chat_id"), ["chat_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wait_timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wait_timers_chat_id"))

    op.drop_table("wait_timers")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrations_updated_at"))

    op.drop_table("registrations")
    op.drop_table("members")
    with op.batch_alter_table("instance_leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_leases_chat_id"))

    op.drop_table("instance_leases")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_created_at")

    op.drop_table("audit_events")
