"""The registration's vocabulary: its steps, what its buttons ask for, the Z-API calls it makes.

What each step asks, accepts and leads to is declared once, in `bot/conversation/steps.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["SETUP_STEPS", "Action", "Step", "ZapiCall"]


class Step(StrEnum):
    """Where a registration stands; the value is what its row stores."""

    INSTANCE = "instance"
    REPLACE = "replace"  # the instance chosen runs a number: registering another drops it
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
    # The optional set-up of a connected number; each step can be skipped.
    PROFILE_NAME = "profile_name"
    PROFILE_ABOUT = "profile_about"
    TWO_FA = "two_fa"
    TWO_FA_AGAIN = "two_fa_again"
    EMAIL = "email"
    EMAIL_CODE = "email_code"


class Action(StrEnum):
    """What a button asks for; the value travels in its callback data."""

    INSTANCE = "i"
    REPLACE = "h"  # "Yes, replace it": register on an instance that runs a number
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
    SET_UP = "u"  # opens the set-up of the number just connected (its flow has ended)
    SKIP = "o"  # a set-up step left out (the argument: the step it was shown at)
    FINISH = "e"  # the set-up ends here, with its summary
    EMAIL_AGAIN = "g"  # the e-mail's verification code mailed again
    # Letting people in (no flow: the argument is the person's user id).
    REQUEST_ACCESS = "q"
    ALLOW = "w"
    DENY = "z"


# The Z-API call a flow has under way, as written in its row before the call.
ZapiCall = Literal[
    "check", "request_code", "captcha", "confirm_code", "device", "confirm_pin", "recover_pin",
    "appeal", "profile_name", "profile_about", "two_fa_check", "two_fa_set", "email_set",
    "email_verify",
]  # fmt: skip


SETUP_STEPS = frozenset(
    {
        Step.PROFILE_NAME,
        Step.PROFILE_ABOUT,
        Step.TWO_FA,
        Step.TWO_FA_AGAIN,
        Step.EMAIL,
        Step.EMAIL_CODE,
    }
)
