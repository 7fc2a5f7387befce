"""The one rule for WhatsApp's waits: whether a delivery method can be used now, and if not, why.

Z-API reports a wait per method (seconds, or -1: the method is blocked for the number) and
whether the pop-up (`wa_old`) is offered at all; the bot keeps when each wait ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.domain.methods import DeliveryMethod

__all__ = ["Availability", "MethodState", "blocked_methods", "method_states", "seconds_left"]


class Availability(Enum):
    USABLE = "usable"
    WAITING = "waiting"  # WhatsApp's wait has not ended
    BLOCKED = "blocked"  # not for this number (a wait of -1)
    NOT_OFFERED = "not_offered"  # the pop-up, for a number WhatsApp does not offer it to


@dataclass(frozen=True, slots=True)
class MethodState:
    method: DeliveryMethod
    availability: Availability
    seconds_left: int = 0  # while WAITING
    ready_at: datetime | None = None  # while WAITING: when it ends

    @property
    def usable(self) -> bool:
        return self.availability is Availability.USABLE


def seconds_left(ready_at: datetime, now: datetime) -> int:
    """Whole seconds until `ready_at`, rounded up (0.2 s left is still 1 s); 0 once it passed."""
    return max(0, math.ceil((ready_at - now).total_seconds()))


def blocked_methods(stored: str) -> set[DeliveryMethod]:
    """The methods blocked for a number, from their stored form (`"voice,wa_old"`)."""
    return {DeliveryMethod(value) for value in stored.split(",") if value}


def method_states(
    *,
    ready_at: Mapping[DeliveryMethod, datetime],
    blocked: Iterable[DeliveryMethod],
    wa_old_eligible: bool | None,
    now: datetime,
) -> dict[DeliveryMethod, MethodState]:
    """Every method's state at `now`, in the order they are offered."""
    blocked_set = set(blocked)
    states: dict[DeliveryMethod, MethodState] = {}
    for method in DeliveryMethod:
        if method is DeliveryMethod.WA_OLD and wa_old_eligible is False:
            states[method] = MethodState(method, Availability.NOT_OFFERED)
        elif method in blocked_set:
            states[method] = MethodState(method, Availability.BLOCKED)
        elif (left := seconds_left(ready_at[method], now) if method in ready_at else 0) > 0:
            states[method] = MethodState(method, Availability.WAITING, left, ready_at[method])
        else:
            states[method] = MethodState(method, Availability.USABLE)
    return states
