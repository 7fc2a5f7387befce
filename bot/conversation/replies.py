"""What the bot says, as the service builds it: text, an optional photo, and a keyboard of
buttons that each ask for an `Action`. Telegram's own objects are made from it at the edge
(`bot/render.py`); the outbox stores it as JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Self

from bot.domain.steps import Action

__all__ = ["Button", "Keyboard", "Reply"]


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: Action
    argument: str = ""  # the instance's position, the method…


@dataclass(frozen=True, slots=True)
class Keyboard:
    """Rows of buttons, shown with one question of one flow at one version (a button acts on
    the flow it was shown for, and those that make Z-API act, only at that version)."""

    flow_id: str
    version: int
    rows: tuple[tuple[Button, ...], ...]

    def to_data(self) -> dict[str, Any]:
        rows = [[[b.label, b.action.value, b.argument] for b in row] for row in self.rows]
        return {"flow": self.flow_id, "version": self.version, "rows": rows}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        rows = tuple(
            tuple(Button(label, Action(action), argument) for label, action, argument in row)
            for row in data["rows"]
        )
        return cls(str(data["flow"]), int(data["version"]), rows)


@dataclass(frozen=True, slots=True)
class Reply:
    """One message. A chat has at most one message with working buttons: a new message takes
    them off the one before, unless it is said `aside` (/status: the question stays)."""

    text: str
    keyboard: Keyboard | None = None
    photo: bytes | None = None
    aside: bool = False

    def to_json(self) -> str:
        stored: dict[str, Any] = {"text": self.text}
        if self.keyboard is not None:
            stored["keyboard"] = self.keyboard.to_data()
        if self.photo is not None:
            stored["photo"] = base64.b64encode(self.photo).decode("ascii")
        if self.aside:
            stored["aside"] = True
        return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, stored: str) -> Self:
        data = json.loads(stored)
        keyboard = data.get("keyboard")
        photo = data.get("photo")
        return cls(
            text=data["text"],
            keyboard=Keyboard.from_data(keyboard) if keyboard else None,
            photo=base64.b64decode(photo) if photo else None,
            aside=bool(data.get("aside")),
        )
