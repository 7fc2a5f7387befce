"""The Telegram edge of what the bot says: replies into Bot API calls, keyboards into inline
keyboards, and the callback data their buttons carry."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.conversation.keyboards import format_wait
from bot.conversation.replies import Button, Keyboard, Reply
from bot.conversation.texts import catalog_for
from bot.domain.steps import Action

__all__ = [
    "ButtonPress",
    "Pressed",
    "answer_quietly",
    "edit",
    "formatted",
    "inline_keyboard",
    "send",
    "take_buttons_away",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """Callback data, `flow_id:version:action:argument` (at most 64 bytes). The flow id makes
    buttons of older flows recognisable; the version (of the flow when the keyboard was shown)
    makes a second tap, or a tap on an older keyboard, recognisable after the first one changed
    the flow."""

    flow_id: str
    version: int
    action: Action
    argument: str = ""

    def encode(self) -> str:
        return f"{self.flow_id}:{self.version}:{self.action.value}:{self.argument}"

    @classmethod
    def decode(cls, data: str | None) -> ButtonPress | None:
        parts = (data or "").split(":", 3)
        if len(parts) != 4 or not parts[1].isdigit() or len(parts[1]) > 9:
            return None
        try:
            action = Action(parts[2])
        except ValueError:
            return None
        return cls(parts[0], int(parts[1]), action, parts[3])


# Phone numbers as the bot writes them (+55 44 99999-9999) and ids (five digits or more): shown
# as code, they copy with a tap.
_COPYABLE = re.compile(
    r"(?<![\w.+/@-])(?:\+\d{1,3}(?:[ -]?\d){4,16}|\d{5,})(?![\w/@.+-]*@)(?![\w/])"
)


def formatted(reply: Reply) -> str:
    """The reply as Telegram HTML: everything escaped first, then the header in bold and the
    numbers as code (the tags wrap only what the escaping left alone, so they always match)."""
    escaped = html.escape(reply.text, quote=False)
    escaped = _COPYABLE.sub(lambda match: f"<code>{match.group(0)}</code>", escaped)
    if reply.headed:
        header, newline, body = escaped.partition("\n")
        escaped = f"<b>{header}</b>{newline}{body}"
    return escaped


def inline_keyboard(keyboard: Keyboard | None, now: datetime) -> InlineKeyboardMarkup | None:
    """The keyboard as shown at `now` (a wait on a button counts down to it)."""
    if keyboard is None:
        return None
    texts = catalog_for(keyboard.language)

    def wait(seconds: int) -> str:
        return format_wait(seconds, texts)

    def shown(button: Button) -> InlineKeyboardButton:
        if button.action is None:
            return InlineKeyboardButton(button.label, url=button.url)
        press = ButtonPress(keyboard.flow_id, keyboard.version, button.action, button.argument)
        return InlineKeyboardButton(button.shown(now, wait), callback_data=press.encode())

    return InlineKeyboardMarkup([[shown(button) for button in row] for row in keyboard.rows])


@dataclass(frozen=True, slots=True)
class Pressed:
    """The message a button was pressed on: the first reply to the press takes its place (its
    text, or its caption when it is a photo, and its keyboard)."""

    message_id: int
    photo: bool = False


def _unchanged(error: BadRequest) -> bool:
    return "not modified" in error.message.lower()


async def send(bot: Bot, chat_id: int, reply: Reply, now: datetime) -> int:
    """One reply, as a photo with its caption or as a message; the new message's id."""
    markup = inline_keyboard(reply.keyboard, now)
    text = formatted(reply)
    if reply.photo is not None:
        sent = await bot.send_photo(
            chat_id, photo=reply.photo, caption=text, reply_markup=markup, parse_mode=ParseMode.HTML
        )
    else:
        sent = await bot.send_message(
            chat_id,
            text,
            reply_markup=markup,
            parse_mode=ParseMode.HTML,
            message_thread_id=reply.thread,
        )
    return sent.message_id


async def edit(bot: Bot, chat_id: int, pressed: Pressed, reply: Reply, now: datetime) -> bool:
    """Put a reply (without a photo) in place of the pressed message; False when Telegram will
    not edit that message (gone, too old…): send the reply as a new one instead. An edit found
    already made (a retry) counts as made."""
    markup = inline_keyboard(reply.keyboard, now)
    text = formatted(reply)
    try:
        if pressed.photo:
            await bot.edit_message_caption(
                chat_id=chat_id,
                message_id=pressed.message_id,
                caption=text,
                reply_markup=markup,
                parse_mode=ParseMode.HTML,
            )
        else:
            await bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=pressed.message_id,
                reply_markup=markup,
                parse_mode=ParseMode.HTML,
            )
    except BadRequest as error:
        if _unchanged(error):
            return True
        logger.info("Could not edit message %s in chat %s: %s", pressed.message_id, chat_id, error)
        return False
    return True


async def take_buttons_away(bot: Bot, chat_id: int, message_id: int) -> None:
    """Remove a message's keyboard; one already without it, or gone, is as good."""
    try:
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
    except BadRequest as error:
        if not _unchanged(error):
            logger.info(
                "Could not take the buttons off message %s in chat %s: %s",
                message_id,
                chat_id,
                error,
            )


async def answer_quietly(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press; a press Telegram no longer accepts answers for (too old, say,
    after a restart) must still be acted on, so a failure here is only logged."""
    try:
        await query.answer(text)
    except TelegramError as error:
        logger.info("Could not answer a button press: %s", error)
