"""Database schema: registration state, wait timers, instance leases, members, audit events."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.clock import utcnow

__all__ = [
    "AccessRequest",
    "AuditEvent",
    "Base",
    "InstanceLease",
    "InstanceStateRow",
    "Invite",
    "Member",
    "OutboxMessage",
    "Person",
    "Registration",
    "SandboxStateRow",
    "UTCDateTime",
    "WaitTimer",
    "utcnow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Registration(Base):
    """One registration flow in progress, per private chat. The row is the flow's only state."""

    __tablename__ = "registrations"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger)
    flow_id: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8), default="en")
    step: Mapped[str] = mapped_column(String(24))
    instance: Mapped[str | None] = mapped_column(String(32), default=None)
    ddi: Mapped[str | None] = mapped_column(String(4), default=None)
    phone: Mapped[str | None] = mapped_column(String(15), default=None)
    method: Mapped[str | None] = mapped_column(String(8), default=None)
    wrong_code_count: Mapped[int] = mapped_column(Integer, default=0)
    wa_old_eligible: Mapped[bool | None] = mapped_column(Boolean, default=None)
    blocked_methods: Mapped[str] = mapped_column(String(32), default="")
    appeal_token: Mapped[str | None] = mapped_column(Text, default=None)
    # The Z-API call this flow has under way (written before the call, cleared with its outcome):
    # a restart that finds it set knows the call was interrupted.
    pending_call: Mapped[str | None] = mapped_column(String(24), default=None)
    # The set-up of the connected number: what became of each part (bot/domain/setup.py), and
    # the e-mail address whose code is awaited (gone with the row when the set-up ends).
    setup_parts: Mapped[str] = mapped_column(String(64), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class WaitTimer(Base):
    """A delivery method Z-API told us to wait for, for one number on one instance."""

    __tablename__ = "wait_timers"
    __table_args__ = (
        UniqueConstraint("instance", "ddi", "phone", "method"),
        # The timer job asks for unannounced waits by deadline.
        Index("ix_wait_timers_pending", "notified", "ready_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance: Mapped[str] = mapped_column(String(32))
    ddi: Mapped[str] = mapped_column(String(4))
    phone: Mapped[str] = mapped_column(String(15))
    method: Mapped[str] = mapped_column(String(8))
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    ready_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)


class InstanceLease(Base):
    """Which chat holds which instance; the primary key makes it one flow per instance."""

    __tablename__ = "instance_leases"

    instance: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InstanceStateRow(Base):
    """Each instance as the monitor last saw it (connected or not, Z-API's reason, since
    when): a restart compares with it, so only real changes are alerted."""

    __tablename__ = "instance_states"

    instance: Mapped[str] = mapped_column(String(32), primary_key=True)
    connected: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxStateRow(Base):
    """What a sandbox instance (bot/zapi/sandbox.py) remembers, by instance id, as JSON: it
    outlives a restart, as Z-API's state does. Never a code, PIN or captcha answer (the sandbox
    derives those)."""

    __tablename__ = "sandbox_states"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Member(Base):
    """Members added (allowed=True) or removed (allowed=False) by admins at runtime."""

    __tablename__ = "members"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    allowed: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How they were let in or out: "allow" (/allow, /deny), "request" (an answered request),
    # "invite" (an invite link of `changed_by`).
    source: Mapped[str] = mapped_column(String(16), default="allow", server_default="allow")


class AccessRequest(Base):
    """A stranger asked for access; answered once (allowed or not) by one admin."""

    __tablename__ = "access_requests"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    language: Mapped[str] = mapped_column(String(8), default="en")  # of the answer to them
    allowed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    answered_by: Mapped[int | None] = mapped_column(BigInteger, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Invite(Base):
    """A one-time invite link: only its token's SHA-256 is kept; whoever opens it first, before
    it expires, becomes a member."""

    __tablename__ = "invites"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(BigInteger, default=None)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Person(Base):
    """Someone who wrote to the bot, named as they are on Telegram; when they were last seen."""

    __tablename__ = "people"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(32), default=None)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberLanguage(Base):
    """The language a member chose with /language (else their Telegram app's is used)."""

    __tablename__ = "member_languages"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(String(8))


class AuditEvent(Base):
    """Who did what with which number. Never codes, captcha answers or PINs."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    instance: Mapped[str | None] = mapped_column(String(32), default=None)
    number: Mapped[str | None] = mapped_column(String(20), default=None)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    # The registration it belongs to, and when that began (/stats: outcomes per registration,
    # the time from /register to connected); none on events from before they were kept.
    flow_id: Mapped[str | None] = mapped_column(String(16), default=None)
    flow_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # On a sandbox instance (a rehearsal): marked, and left out of the totals.
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LiveKeyboard(Base):
    """The one message of a chat whose buttons still work (the question the member is at);
    written when Telegram confirmed it, so that the next question can take its buttons away,
    also after a restart."""

    __tablename__ = "live_keyboards"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger)


class OutboxMessage(Base):
    """A message the bot owes a chat: written with the step that says it, deleted once Telegram
    confirmed it. Never holds codes, captcha answers or PINs (no reply repeats them)."""

    __tablename__ = "outbox"

    # Given by the bot, increasing: a chat's messages go out in this order.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # JSON: text, keyboard (Bot API InlineKeyboardMarkup), photo (base64).
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
