"""The keyboards of the questions, as the service builds them (rendered at the edge)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from bot.conversation.replies import Button, Keyboard
from bot.conversation.texts import Catalog
from bot.domain.methods import DeliveryMethod
from bot.domain.steps import Action
from bot.domain.waits import Availability, MethodState

__all__ = ["Keyboards", "format_wait"]


# The argument of a Cancel that was confirmed.
CANCEL_SURE = "sure"


def format_wait(seconds: int, texts: Catalog) -> str:
    """`45 s`, `1 min 5 s`, `15 min`, `2 h 5 min`, `2 h`: no part that is zero."""
    seconds = max(0, seconds)
    if seconds < 60:
        return texts.seconds.format(s=seconds)
    if seconds < 3600:
        m, s = divmod(seconds, 60)
        return texts.minutes_seconds.format(m=m, s=s) if s else texts.minutes.format(m=m)
    h, m = seconds // 3600, (seconds % 3600) // 60
    return texts.hours_minutes.format(h=h, m=m) if m else texts.hours.format(h=h)


class FlowView(Protocol):
    """What the keyboards need to know of a flow (read when a keyboard is built)."""

    flow_id: str
    step: str
    version: int


class Keyboards:
    """Builds the keyboards of one flow in one language.

    Back and Try again carry the step they were shown at, so a second tap, or a tap on an older
    message, is recognised as stale instead of going back twice.
    """

    def __init__(self, texts: Catalog, flow: FlowView) -> None:
        self.texts = texts
        self.flow = flow

    def _button(self, text: str, action: Action, argument: str = "") -> Button:
        return Button(text, action, argument)

    def _keyboard(self, rows: Iterable[Iterable[Button]]) -> Keyboard:
        built = tuple(tuple(row) for row in rows)
        return Keyboard(self.flow.flow_id, self.flow.version, built, self.texts.language)

    def _navigation(self, *, back: bool = True) -> list[Button]:
        row = [self._button(self.texts.button_back, Action.BACK, self.flow.step)] if back else []
        return [*row, self._button(self.texts.button_cancel, Action.CANCEL)]

    def instances(
        self,
        names: Iterable[str],
        busy: Iterable[str],
        connected: Iterable[str] = (),
        sandboxes: Iterable[str] = (),
    ) -> Keyboard:
        """Buttons carry the instance's position, not its name (Telegram's callback data is
        64 bytes); a busy instance says so, one that runs a number, and a sandbox."""
        busy_names, connected_names, sandbox_names = set(busy), set(connected), set(sandboxes)

        def label(name: str) -> str:
            shown = self.texts.sandbox.instance.format(instance=name)
            shown = shown if name in sandbox_names else name
            if name in busy_names:
                return self.texts.button_busy.format(name=shown)
            if name in connected_names:
                return self.texts.button_connected.format(name=shown)
            return shown

        rows = [
            [self._button(label(name), Action.INSTANCE, str(position))]
            for position, name in enumerate(names)
        ]
        return self._keyboard([*rows, self._navigation(back=False)])

    def replace(self, *, back: bool) -> Keyboard:
        return self._keyboard(
            [[self._button(self.texts.button_replace, Action.REPLACE)], self._navigation(back=back)]
        )

    def navigation(self, *, back: bool = True) -> Keyboard:
        return self._keyboard([self._navigation(back=back)])

    def ddi(self, offered: str | None, *, back: bool) -> Keyboard:
        """The country-code question: the team's usual code as one tap, if it has one."""
        rows = [[self._button(f"+{offered}", Action.DDI, offered)]] if offered else []
        return self._keyboard([*rows, self._navigation(back=back)])

    def retry(self, *, back: bool = True) -> Keyboard:
        return self._keyboard(
            [
                [self._button(self.texts.button_try_again, Action.RETRY, self.flow.step)],
                self._navigation(back=back),
            ]
        )

    def yes_no(self) -> Keyboard:
        return self._keyboard(
            [
                [
                    self._button(self.texts.button_yes, Action.YES),
                    self._button(self.texts.button_no, Action.NO),
                ],
                self._navigation(),
            ]
        )

    def cancel_confirm(self) -> Keyboard:
        return self._keyboard(
            [
                [self._button(self.texts.button_cancel_sure, Action.CANCEL, CANCEL_SURE)],
                [self._button(self.texts.button_keep_going, Action.KEEP)],
            ]
        )

    def banned(self, *, can_appeal: bool) -> Keyboard:
        rows = [[self._button(self.texts.button_appeal, Action.APPEAL)]] if can_appeal else []
        rows.append([self._button(self.texts.button_change_number, Action.CHANGE_NUMBER)])
        return self._keyboard([*rows, self._navigation(back=False)])

    def methods(self, states: Mapping[DeliveryMethod, MethodState]) -> Keyboard:
        """One button per method offered: its name, its wait, or that it is not available."""
        rows = []
        for method, state in states.items():
            name = self.texts.method_names[method.value]
            match state.availability:
                case Availability.NOT_OFFERED:
                    continue
                case Availability.BLOCKED:
                    label = self.texts.button_unavailable.format(method=name)
                case Availability.WAITING:
                    # The time left is written when the button is shown (bot/render.py).
                    waiting = self.texts.button_wait.format(method=name, wait="{wait}")
                    rows.append(
                        [Button(name, Action.METHOD, method.value, waiting, state.ready_at)]
                    )
                    continue
                case Availability.USABLE:
                    label = name
            rows.append([self._button(label, Action.METHOD, method.value)])
        return self._keyboard([*rows, self._navigation()])

    def code(self) -> Keyboard:
        return self._keyboard(
            [
                [
                    self._button(self.texts.button_didnt_get_it, Action.RESEND),
                    self._button(self.texts.button_change_number, Action.CHANGE_NUMBER),
                ],
                self._navigation(back=False),
            ]
        )

    def captcha(self) -> Keyboard:
        return self._keyboard(
            [[self._button(self.texts.button_didnt_get_it, Action.RESEND)], self._navigation()]
        )

    def device(self) -> Keyboard:
        return self._keyboard(
            [
                [self._button(self.texts.button_device_accepted, Action.DEVICE_ACCEPTED)],
                self._navigation(),
            ]
        )

    def pin(self) -> Keyboard:
        return self._keyboard(
            [[self._button(self.texts.button_forgot_pin, Action.FORGOT_PIN)], self._navigation()]
        )

    # -- the set-up of a connected number ---------------------------------------------------

    def set_up(self, number: str) -> Keyboard:
        """Under "Connected": opens the set-up of `number` (its digits; the registration's flow
        has ended by then)."""
        return self._keyboard(
            [[self._button(self.texts.setup.button_set_up, Action.SET_UP, number)]]
        )

    def setup_step(self, *, back: bool = True, email_again: bool = False) -> Keyboard:
        """A set-up question: Skip, then Back and Finish (Finish, not Cancel: the number is
        connected, nothing is thrown away)."""
        step = self.flow.step
        rows = []
        if email_again:
            rows.append([self._button(self.texts.setup.button_email_again, Action.EMAIL_AGAIN)])
        rows.append([self._button(self.texts.setup.button_skip, Action.SKIP, step)])
        back_button = [self._button(self.texts.button_back, Action.BACK, step)] if back else []
        rows.append(
            [*back_button, self._button(self.texts.setup.button_finish_setup, Action.FINISH)]
        )
        return self._keyboard(rows)
