"""The registration service: every step of the flow, as one object the handlers call.

What each step asks and accepts is declared in `bot/conversation/steps.py`; the steps are
implemented in `number_steps.py` (to the method question), `code_steps.py` (to "Connected"),
`setup_steps.py` (the number's set-up after it) and `notices.py` (what is said unprompted), on
the shared core in `core.py`.
"""

from __future__ import annotations

from bot.conversation.code_steps import CodeSteps
from bot.conversation.core import Courier, Outcome, Reply, WorkingSignal
from bot.conversation.notices import Notices
from bot.conversation.ports import FlowGone, LeaseLost, StorageUnavailable, TimerScheduler

__all__ = [
    "Courier",
    "FlowGone",
    "LeaseLost",
    "Outcome",
    "RegistrationFlow",
    "Reply",
    "StorageUnavailable",
    "TimerScheduler",
    "WorkingSignal",
]


class RegistrationFlow(Notices, CodeSteps):
    """The registration flow as a service: checks input, calls Z-API, commits, says what to say."""
