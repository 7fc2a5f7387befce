"""What the bot says, as the service builds it: text, an optional photo, and a keyboard of
buttons that each ask for an `Action`. Telegram's own objects are made from it at the edge
(`bot/render.py`); the outbox stores it as JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from bot.domain.steps import Action
from bot.domain.waits import seconds_left

__all__ = ["Button", "Keyboard", "Reply"]


@dataclass(frozen=True, slots=True)
class Button:
    """`label`; or, until `ready_at`, `waiting` with the time left in place of `{wait}`
    (worked out when the button is shown, so a message sent late still counts down right).
    A button with a `url` (and no action) is a link: it opens that address."""

    label: str
    action: Action | None
    argument: str = ""  # the instance's position, the method…
    waiting: str | None = None
    ready_at: datetime | None = None
    url: str | None = None

    @classmethod
    def link(cls, label: str, url: str) -> Self:
        return cls(label, None, url=url)

    def shown(self, now: datetime, wait: Callable[[int], str]) -> str:
        """The label at `now`; `wait` writes a number of seconds as the member reads it."""
        if self.waiting is None or self.ready_at is None:
            return self.label
        left = seconds_left(self.ready_at, now)
        return self.waiting.replace("{wait}", wait(left)) if left > 0 else self.label

    def to_data(self) -> list[str]:
        if self.url is not None:
            return [self.label, "", "", "", "", self.url]
        assert self.action is not None
        data = [self.label, self.action.value, self.argument]
        if self.waiting is not None and self.ready_at is not None:
            data += [self.waiting, self.ready_at.isoformat()]
        return data

    @classmethod
    def from_data(cls, data: list[str]) -> Self:
        label, action, argument, *rest = data
        if len(rest) == 3:
            return cls.link(label, rest[2])
        if len(rest) == 2:
            return cls(label, Action(action), argument, rest[0], datetime.fromisoformat(rest[1]))
        return cls(label, Action(action), argument)


@dataclass(frozen=True, slots=True)
class Keyboard:
    """Rows of buttons, shown with one question of one flow at one version (a button acts on
    the flow it was shown for, and those that make Z-API act, only at that version)."""

    flow_id: str
    version: int
    rows: tuple[tuple[Button, ...], ...]
    language: str = "en"  # of its labels

    def to_data(self) -> dict[str, Any]:
        rows = [[button.to_data() for button in row] for row in self.rows]
        return {"flow": self.flow_id, "version": self.version, "rows": rows, "lang": self.language}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        rows = tuple(tuple(Button.from_data(button) for button in row) for row in data["rows"])
        return cls(str(data["flow"]), int(data["version"]), rows, str(data.get("lang", "en")))


@dataclass(frozen=True, slots=True)
class Reply:
    """One message, in plain text (the edge formats it). A chat has at most one message with
    working buttons: a new message takes them off the one before, unless it is said `aside`
    (/status: the question stays). `headed`: the first line is a header (the step's)."""

    text: str
    keyboard: Keyboard | None = None
    photo: bytes | None = None
    aside: bool = False
    headed: bool = False
    thread: int | None = None  # the forum topic of a group chat it goes to (alerts)

    def to_json(self) -> str:
        stored: dict[str, Any] = {"text": self.text}
        if self.keyboard is not None:
            stored["keyboard"] = self.keyboard.to_data()
        if self.photo is not None:
            stored["photo"] = base64.b64encode(self.photo).decode("ascii")
        if self.aside:
            stored["aside"] = True
        if self.headed:
            stored["headed"] = True
        if self.thread is not None:
            stored["thread"] = self.thread
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
            headed=bool(data.get("headed")),
            thread=int(data["thread"]) if data.get("thread") is not None else None,
        )
