"""The service's side of storage: what a write is, what it can meet, and the two small
interfaces the service talks to (`FlowStorage`, `OutboxStorage`).

`bot.storage.flow_store.FlowStore` implements both: it owns its caches, and that its writes
share transactions with other chats' (group commit) is its own business. The service computes a
step's `Change` itself (a pure function of the flow, Z-API's waits and the time) and hands it
over whole: the row, the lease, the waits, the audit event and the messages commit together or
not at all.

Refusals, the write declined for the flow's sake and nothing of it committed::

    WriteRefused
    ├── FlowGone          the flow ended meanwhile (cancelled, timed out, ended by an admin)
    ├── InstanceBusy      another flow holds the instance
    ├── LeaseLost         the flow no longer holds its instance: stop, never call Z-API again
    └── AlreadyCommitted  a retried write finds its first attempt committed
    StorageUnavailable    the database refused, also when tried again
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.domain.record import FlowRecord
from bot.zapi.models import DeliveryMethod, MethodWaits

__all__ = [
    "AlreadyCommitted",
    "Change",
    "EndedWait",
    "FlowGone",
    "FlowStorage",
    "InstanceBusy",
    "LeaseLost",
    "Message",
    "OpenedFlow",
    "OutboxStorage",
    "OwedMessage",
    "ReportedWaits",
    "StorageUnavailable",
    "TimerScheduler",
    "WriteRefused",
]


class WriteRefused(Exception):
    """A write declined (e.g. a version check failed); it wrote nothing."""


@dataclass(frozen=True, slots=True)
class ReportedWaits:
    """Waits Z-API reported; `retry_after` applies to the method that was requested."""

    waits: MethodWaits
    retry_after: int | None = None
    method: DeliveryMethod | None = None

    def seconds(self) -> dict[DeliveryMethod, int]:
        seconds = dict(self.waits.seconds)
        if self.method is not None and self.retry_after is not None and self.retry_after > 0:
            seconds[self.method] = max(seconds.get(self.method, 0), self.retry_after)
        return seconds


class FlowGone(WriteRefused):
    """The flow ended (cancelled, timed out) while this update was being handled."""


class InstanceBusy(WriteRefused):
    """Another flow holds the instance."""


class LeaseLost(WriteRefused):
    """The flow no longer holds its instance: it must stop and never call Z-API again."""

    def __init__(self, instance: str) -> None:
        super().__init__(instance)
        self.instance = instance


class StorageUnavailable(Exception):
    """The database refused a write, also when tried again: nothing of it was committed."""


class AlreadyCommitted(WriteRefused):
    """A write tried again finds its own earlier attempt committed (its answer was lost)."""


class Message(Protocol):
    """What the outbox stores of a message (`bot.conversation.replies.Reply`)."""

    def to_json(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OwedMessage:
    """A message committed to the outbox, to be delivered at least once."""

    id: int
    chat_id: int
    message: Message


@dataclass(slots=True)
class Change:
    """A step's change to its flow, computed before it is committed: the replies of the step
    are built from `after` (its version is the one their buttons carry)."""

    before: FlowRecord
    after: FlowRecord
    ready_at: dict[str, datetime | None] = field(default_factory=dict)
    audit: tuple[str, str] | None = None
    instance_changes: bool = False
    lease_needed: datetime | None = None

    @classmethod
    def of(
        cls,
        reg: FlowRecord,
        *,
        now: datetime,
        idle_timeout: timedelta,
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        hold_for: timedelta | None = None,
        **changes: Any,
    ) -> Change:
        """The flow as `changes` (and Z-API's waits) would leave it at `now`.

        `hold_for`: the instance lease must last at least that long from now (a Z-API call is
        about to be made)."""
        new = reg.copy(**changes, updated_at=now, version=reg.version + 1)
        ready_at: dict[str, datetime | None] = {}
        if waits is not None:
            blocked = set(filter(None, new.blocked_methods.split(",")))
            for method, seconds in waits.seconds().items():
                if seconds < 0:
                    blocked.add(method.value)
                    continue
                blocked.discard(method.value)
                ready_at[method.value] = now + timedelta(seconds=seconds) if seconds > 0 else None
            new.blocked_methods = ",".join(sorted(blocked))
        # The lease outlives the flow's idle deadline, which a pending wait pushes out.
        needed = max([now, *filter(None, ready_at.values())]) + idle_timeout
        if hold_for is not None:
            needed = max(needed, now + hold_for)
        return cls(
            before=reg,
            after=new,
            ready_at=ready_at,
            audit=audit,
            instance_changes="instance" in changes,
            lease_needed=needed,
        )


class TimerScheduler(Protocol):
    def schedule(self, ready_at: datetime) -> None:
        """Make sure waits ending at `ready_at` get announced then."""


@dataclass(frozen=True, slots=True)
class OpenedFlow:
    registration: FlowRecord
    resumed: bool


class EndedWait(Protocol):
    """A wait Z-API set on a number's method (ended, or still pending), as storage hands it to
    the service; `chat_id`: the chat that was told to wait."""

    @property
    def chat_id(self) -> int: ...
    @property
    def instance(self) -> str: ...
    @property
    def ddi(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def ready_at(self) -> datetime: ...


# Given the waits that ended, the open flows of their numbers by chat and the waits of those
# numbers still pending: which chat is told what.
ComposeNotices = Callable[
    [Sequence[EndedWait], dict[int, FlowRecord], Sequence[EndedWait]],
    Sequence[tuple[int, Message]],
]


class OutboxStorage(Protocol):
    """The messages owed to members (committed with their steps, delivered at least once)."""

    async def acknowledge(
        self, ids: Sequence[int], live: Mapping[int, int | None] | None = None
    ) -> None:
        """Telegram confirmed these messages (or they can never be delivered): never again.
        `live`: each chat's message whose buttons now work (None: none any more)."""
        ...

    async def live_keyboards(self) -> dict[int, int]:
        """Each chat's message whose buttons work, by chat."""
        ...

    async def owed_messages(self) -> list[tuple[int, int, str]]:
        """Every message still owed, as (id, chat_id, stored form), oldest first."""
        ...


class FlowStorage(OutboxStorage, Protocol):
    """Open flows, their instance leases and their numbers' waits."""

    async def load(self, chat_id: int) -> FlowRecord | None: ...

    async def open(
        self, new: FlowRecord, messages: Sequence[Message] = ()
    ) -> tuple[OpenedFlow, list[OwedMessage]] | None:
        """Open `new` (or find the chat's open flow); None when its instance is taken."""
        ...

    async def commit(self, change: Change, messages: Sequence[Message] = ()) -> list[OwedMessage]:
        """Commit the change and its messages in one transaction, or raise a refusal."""
        ...

    async def end(
        self,
        reg: FlowRecord,
        action: str,
        outcome: str,
        messages: Sequence[Message] = (),
        *,
        by: int | None = None,
    ) -> list[OwedMessage]:
        """End the flow, free its instance, audit how it ended, owe its last messages."""
        ...

    async def ready_times(
        self, reg: FlowRecord, pending: Mapping[str, datetime | None] | None = None
    ) -> dict[DeliveryMethod, datetime]:
        """When each method of the flow's number may be requested again."""
        ...

    async def held_instances(self) -> dict[str, int]:
        """Instance → the chat whose flow holds it."""
        ...

    async def interrupted(self) -> list[FlowRecord]:
        """Flows whose Z-API call a stop cut off."""
        ...

    async def idle_chats(self) -> list[int]: ...

    async def end_if_idle(
        self, chat_id: int, say: Callable[[FlowRecord], tuple[str, Sequence[Message]]]
    ) -> tuple[FlowRecord, list[OwedMessage]] | None:
        """End the chat's flow if it is still idle; `say`: the audit's action and the
        messages."""
        ...

    async def last_connected(self, user_id: int) -> tuple[str, str] | None:
        """The instance and number (digits, with the country code) of the member's last
        registration that connected."""
        ...

    async def last_number_on(self, instance: str) -> str | None:
        """The number a registration last connected on `instance`."""
        ...

    async def claim_ended_waits(
        self, compose: ComposeNotices
    ) -> tuple[list[OwedMessage], datetime | None]:
        """Claim every ended wait with the notices `compose` makes of them, in one
        transaction; returns those and when the next wait ends."""
        ...
