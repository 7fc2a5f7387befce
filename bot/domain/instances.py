"""What an instance is doing, as Z-API's `status` reports it, and which changes the admins hear
of. No I/O here: the monitor (bot/monitor.py) probes, stores and says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Connection",
    "Flip",
    "InstanceState",
    "Probe",
    "connection_event",
    "flip",
    "reason_key",
]


class Connection(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NO_ANSWER = "no_answer"  # timed out or failed: nothing known either way
    REFUSED = "refused"  # Z-API refused the bot's credentials: nothing known either


@dataclass(frozen=True, slots=True)
class InstanceState:
    """An instance as last seen: connected or not (and Z-API's reason), since when."""

    instance: str
    connected: bool
    reason: str | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class Probe:
    """One look at an instance: `reason` is Z-API's status message, `phone` the number it
    runs (when asked for and connected)."""

    connection: Connection
    reason: str | None = None
    phone: str | None = None


class Flip(StrEnum):
    DROPPED = "dropped"  # connected → disconnected
    RECONNECTED = "reconnected"  # disconnected → connected


def flip(before: InstanceState | None, seen: Connection) -> Flip | None:
    """The change worth an alert: only between two known states. The first look at an instance
    (nothing stored: a first start) and a probe without an answer say nothing."""
    if before is None or seen in (Connection.NO_ANSWER, Connection.REFUSED):
        return None
    if before.connected and seen is Connection.DISCONNECTED:
        return Flip.DROPPED
    if not before.connected and seen is Connection.CONNECTED:
        return Flip.RECONNECTED
    return None


# Z-API's `error` strings of `status`, by the key of their plain words in the catalogs.
_REASONS = {
    "you are already connected.": "connected",
    "you need to restore the session.": "restore_session",
    "you are not connected.": "not_connected",
}


def reason_key(message: str | None) -> str | None:
    """The catalog key of Z-API's status message; None for one the bot does not know (shown
    as Z-API wrote it, to the admins only)."""
    if message is None:
        return None
    return _REASONS.get(message.strip().casefold())


def connection_event(event: str, body: object) -> tuple[str, Probe] | None:
    """Z-API's `connected` or `disconnected` webhook: the instance id it names and what it says;
    None for anything else (another event, a body that is not such a callback). `momment` and
    unknown fields are not needed and not checked."""
    if not isinstance(body, dict):
        return None
    instance_id = body.get("instanceId")
    if not isinstance(instance_id, str) or not instance_id.strip():
        return None
    if event == "connected" and body.get("connected") is True:
        phone = body.get("phone")
        return instance_id, Probe(
            Connection.CONNECTED, phone=phone if isinstance(phone, str) else None
        )
    if event == "disconnected" and body.get("disconnected") is True:
        error = body.get("error")
        return instance_id, Probe(
            Connection.DISCONNECTED, error if isinstance(error, str) else None
        )
    return None
