"""What the sandbox (bot/zapi/sandbox.py) remembers, and its rules: the scenarios by the
number's last digits, the codes it "sends"."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Final, Literal, Protocol

__all__ = [
    "METHODS",
    "SCENARIOS",
    "SLOW_SECONDS",
    "WAIT_SECONDS",
    "Deliver",
    "InstanceState",
    "NumberState",
    "SandboxMemory",
    "SandboxMessage",
    "Scenario",
    "appeal_token",
    "captcha_answer",
    "digits_from",
    "dump_instance",
    "load_instance",
    "registration_code",
    "scenario_of",
    "two_step_pin",
    "wait_field_of",
]


class Scenario(enum.Enum):
    SUCCESS = "success"
    CAPTCHA = "captcha"
    TWO_STEP_PIN = "pin"
    DEVICE_TRANSFER = "device"
    BANNED_IN_REVIEW = "banned_review"
    BANNED_UNBANNED = "banned_unbanned"
    HIDDEN_BAN = "hidden_ban"
    NO_POPUP = "no_popup"
    GROWING_WAITS = "growing_waits"
    SLOW = "slow"
    SERVER_ERROR = "server_error"


# The number's last two digits → what the sandbox does (any other ending: SUCCESS).
SCENARIOS: Final[Mapping[str, Scenario]] = {
    "00": Scenario.SUCCESS,
    "01": Scenario.CAPTCHA,
    "02": Scenario.TWO_STEP_PIN,
    "03": Scenario.DEVICE_TRANSFER,
    "04": Scenario.BANNED_IN_REVIEW,
    "05": Scenario.BANNED_UNBANNED,
    "06": Scenario.HIDDEN_BAN,
    "07": Scenario.NO_POPUP,
    "08": Scenario.GROWING_WAITS,
    "09": Scenario.SLOW,
    "99": Scenario.SERVER_ERROR,
}
METHODS: Final = ("sms", "voice", "wa_old")
WAIT_SECONDS = 30  # after each code request, before another (GROWING_WAITS: 60, 120, 240…)
SLOW_SECONDS = 8.0  # how long every answer takes for a SLOW number


def scenario_of(phone: str) -> Scenario:
    return SCENARIOS.get(phone[-2:], Scenario.SUCCESS)


def digits_from(seed: str, count: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    return f"{number % 10**count:0{count}d}"


def registration_code(ddi: str, phone: str) -> str:
    """The code the sandbox "sends" for a number: the same each time."""
    return digits_from(f"code:{ddi}{phone}", 6)


def captcha_answer(ddi: str, phone: str) -> str:
    return digits_from(f"captcha:{ddi}{phone}", 4)


def two_step_pin(phone: str) -> str:
    """The two-step PIN of a TWO_STEP_PIN number: its last six digits."""
    return phone[-6:].rjust(6, "0")


@dataclass(frozen=True, slots=True)
class SandboxMessage:
    """What WhatsApp would send the member outside Telegram."""

    kind: Literal["code", "pin_reset", "device_prompt", "email_code"]
    code: str = ""
    method: str = ""


Deliver = Callable[[str, SandboxMessage], Awaitable[None]]


@dataclass(slots=True)
class NumberState:
    scenario: Scenario
    banned: bool
    requests: int = 0
    ready_at: dict[str, datetime] = field(default_factory=dict)
    captcha_solved: bool = False


@dataclass(slots=True)
class InstanceState:
    name: str
    checked: tuple[str, str] | None = None
    code_sent: bool = False
    captcha: bool = False  # a captcha awaits its answer
    method: str = "sms"
    awaiting: Literal["pin", "device"] | None = None
    device_checks: int = 0
    connected: tuple[str, str] | None = None
    profile: dict[str, str] = field(default_factory=dict)
    has_pin: bool = False  # (never the PIN itself: what this keeps is written down)
    email: str | None = None
    email_verified: bool = False
    email_code_sent: bool = False
    # "DDI:PHONE" → what WhatsApp remembers of a number, on this instance
    numbers: dict[str, NumberState] = field(default_factory=dict)


class SandboxMemory(Protocol):
    """Where the sandbox keeps what it remembers (instance id → JSON), so that a restart of the
    bot forgets no registration under way, as Z-API's own state outlives it."""

    async def recall(self) -> Mapping[str, str]: ...

    async def keep(self, states: Mapping[str, str]) -> None: ...


def dump_instance(state: InstanceState) -> str:
    values = asdict(state)
    values["numbers"] = {key: _number_values(number) for key, number in state.numbers.items()}
    return json.dumps(values)


def load_instance(text: str) -> InstanceState:
    """Raises ValueError (or KeyError, TypeError) for a text that is not `dump_instance`'s."""
    values = json.loads(text)
    for pair in ("checked", "connected"):
        values[pair] = tuple(values[pair]) if values[pair] else None
    values["numbers"] = {key: _load_number(number) for key, number in values["numbers"].items()}
    return InstanceState(**values)


def _number_values(state: NumberState) -> dict[str, object]:
    values = asdict(state)
    values["scenario"] = state.scenario.value
    values["ready_at"] = {method: when.isoformat() for method, when in state.ready_at.items()}
    return values


def _load_number(values: dict[str, object]) -> NumberState:
    ready_at = values["ready_at"]
    assert isinstance(ready_at, dict)
    values["scenario"] = Scenario(values["scenario"])
    values["ready_at"] = {m: datetime.fromisoformat(w) for m, w in ready_at.items()}
    return NumberState(**values)  # type: ignore[arg-type]


def wait_field_of(method: str) -> str:
    """The field of the answers that says how long `method` waits."""
    return {"sms": "smsWaitSeconds", "voice": "voiceWaitSeconds", "wa_old": "waOldWaitSeconds"}[
        method
    ]


def appeal_token(ddi: str, phone: str) -> str:
    return "Sbx_" + hashlib.sha256(f"appeal:{ddi}{phone}".encode()).hexdigest() * 3
