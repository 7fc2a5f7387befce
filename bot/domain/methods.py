"""How WhatsApp can deliver a registration code."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeliveryMethod"]


class DeliveryMethod(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    WA_OLD = "wa_old"  # the pop-up in WhatsApp on the phone that holds the number now
