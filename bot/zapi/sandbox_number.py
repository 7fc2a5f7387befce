"""The sandbox's connected number: status, device, profile and security endpoints, once a
registration connected a number on a sandbox instance (bot/zapi/sandbox.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.zapi.sandbox_state import InstanceState, SandboxMessage, digits_from

__all__ = ["ConnectedNumber"]

Answer = tuple[int, Mapping[str, Any]]


class ConnectedNumber:
    """The endpoints of the connected number, for `SandboxZapi` to inherit (with its `_tell`,
    which passes on what the phone would get)."""

    _tell: Callable[[InstanceState, SandboxMessage], Awaitable[None]]

    async def _status(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        connected = instance.connected is not None
        said = "You are already connected." if connected else "You are not connected."
        return 200, {"connected": connected, "error": said, "smartphoneConnected": connected}

    async def _device(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.connected is None:
            return 400, {"error": "You are not connected."}
        return 200, {
            "phone": "".join(instance.connected),
            "name": instance.profile.get("profile-name", ""),
            "about": instance.profile.get("profile-description", ""),
            "imgUrl": instance.profile.get("profile-picture", ""),
            "isBusiness": False,
            "originalDevice": "android",
            "sessionId": 1,
            "device": {"sessionName": "Z-API sandbox", "device_model": "sandbox"},
        }

    async def _me(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        connected = instance.connected is not None
        return 200, {"name": instance.name, "connected": connected, "paymentStatus": "SANDBOX"}

    async def _disconnect(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        instance.connected = None
        return 200, {"value": True}

    async def _restart(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        return 200, {"value": True}

    async def _set_value(self, instance: InstanceState, body: dict[str, str], key: str) -> Answer:
        if key.startswith("profile-"):
            if instance.connected is None:
                return 200, {"value": False}
            instance.profile[key] = body["value"]
        return 200, {"value": True}

    async def _two_fa(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.connected is None:
            return 400, {"error": "You are not connected."}
        if not body:
            return 200, {"success": True, "hasCode": instance.has_pin}
        if not re.fullmatch(r"\d{6}", body["code"]):
            return 400, {"error": "the PIN must be 6 digits"}
        instance.has_pin = True
        return 200, {"success": True}

    async def _two_fa_remove(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        instance.has_pin = False
        return 200, {"success": True}

    async def _email(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.connected is None:
            return 400, {"error": "You are not connected."}
        if not body:
            return 200, {
                "success": True,
                "hasEmail": instance.email is not None,
                "email": instance.email or "",
                "verified": instance.email_verified,
            }
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", body["email"]):
            return 400, {"error": "invalid e-mail"}
        instance.email, instance.email_verified = body["email"], False
        instance.email_code_sent = True
        code = digits_from(f"email:{body['email']}", 6)
        await self._tell(instance, SandboxMessage("email_code", code=code))
        return 200, {"success": True, "message": "VERIFY_EMAIL"}

    async def _verify_email(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if not instance.email_code_sent or instance.email is None:
            return 400, {"error": "no e-mail to verify"}
        if body["verificationCode"] != digits_from(f"email:{instance.email}", 6):
            return 200, {"success": False}
        instance.email_verified, instance.email_code_sent = True, False
        return 200, {"success": True}

    async def _email_remove(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        instance.email, instance.email_verified = None, False
        return 200, {"success": True, "message": "REMOVED"}
