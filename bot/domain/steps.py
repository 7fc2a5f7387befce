"""The registration's vocabulary: its steps, what its buttons ask for, the Z-API calls it makes.

What each step asks, accepts and leads to is declared once, in `bot/conversation/steps.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["Action", "Step", "ZapiCall"]


class Step(StrEnum):
    """Where a registration stands; the value is what its row stores."""

    INSTANCE = "instance"
    DDI = "ddi"
    PHONE = "phone"
    PHONE_CONFIRM = "phone_confirm"
    BANNED = "banned"
    APPEAL = "appeal"
    METHOD = "method"
    CAPTCHA = "captcha"
    CODE = "code"
    DEVICE = "device"
    PIN = "pin"


class Action(StrEnum):
    """What a button asks for; the value travels in its callback data."""

    INSTANCE = "i"
    DDI = "p"  # the country code offered (DEFAULT_DDI)
    METHOD = "m"
    BACK = "b"
    RETRY = "r"
    YES = "y"
    NO = "n"
    APPEAL = "a"
    CHANGE_NUMBER = "c"
    RESEND = "s"
    DEVICE_ACCEPTED = "d"
    FORGOT_PIN = "f"
    CANCEL = "x"  # with the argument "sure": confirmed
    KEEP = "k"  # "No, keep going" at the cancel confirmation


# The Z-API call a flow has under way, as written in its row before the call.
ZapiCall = Literal[
    "check", "request_code", "captcha", "confirm_code", "device", "confirm_pin", "recover_pin",
    "appeal",
]  # fmt: skip
