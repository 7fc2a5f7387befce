"""What the bot says: one message (text, keyboard, photo), and its stored form in the outbox."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Self

from telegram import InlineKeyboardMarkup

__all__ = ["Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    keyboard: InlineKeyboardMarkup | None = None
    photo: bytes | None = None

    def to_json(self) -> str:
        stored: dict[str, Any] = {"text": self.text}
        if self.keyboard is not None:
            stored["keyboard"] = self.keyboard.to_dict()
        if self.photo is not None:
            stored["photo"] = base64.b64encode(self.photo).decode("ascii")
        return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, stored: str) -> Self:
        data = json.loads(stored)
        keyboard = data.get("keyboard")
        photo = data.get("photo")
        return cls(
            text=data["text"],
            keyboard=InlineKeyboardMarkup.de_json(keyboard, None) if keyboard else None,
            photo=base64.b64decode(photo) if photo else None,
        )
