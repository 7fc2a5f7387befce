"""The registration flow's steps: the typed state the database row and the handlers share."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RegistrationStep"]


class RegistrationStep(StrEnum):
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

    def previous(self, *, several_instances: bool) -> RegistrationStep | None:
        """The step "Back" returns to; None when there is nothing before this one."""
        if self is RegistrationStep.DDI:
            return RegistrationStep.INSTANCE if several_instances else None
        return _PREVIOUS.get(self)


_PREVIOUS: dict[RegistrationStep, RegistrationStep] = {
    RegistrationStep.PHONE: RegistrationStep.DDI,
    RegistrationStep.PHONE_CONFIRM: RegistrationStep.PHONE,
    RegistrationStep.BANNED: RegistrationStep.PHONE,
    RegistrationStep.APPEAL: RegistrationStep.BANNED,
    RegistrationStep.METHOD: RegistrationStep.PHONE,
    RegistrationStep.CAPTCHA: RegistrationStep.METHOD,
    RegistrationStep.CODE: RegistrationStep.METHOD,
    RegistrationStep.DEVICE: RegistrationStep.CODE,
    RegistrationStep.PIN: RegistrationStep.CODE,
}
