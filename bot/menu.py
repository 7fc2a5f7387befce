"""What Telegram shows of the bot outside a conversation: the command menus, by scope and
language, and the descriptions of the empty chat and the profile.

- Members' commands in private chats only (BotCommandScopeAllPrivateChats); none in groups,
  where the bot does not converse (the default scope is cleared of what older versions set).
- Each admin's private chat (BotCommandScopeChat) shows the members' commands and the admins'.
- English by default, Portuguese for Telegram apps in Portuguese.

All of it is cosmetic: published in the background at start, and a refusal is logged, never
fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from bot.admin import ADMIN_COMMANDS
from bot.conversation.commands import command_menu
from bot.conversation.texts import CATALOGS, Catalog

__all__ = ["admin_menu", "publish"]

logger = logging.getLogger(__name__)

# Telegram's language for each catalog: None is every language without one of its own.
_LANGUAGES: tuple[tuple[str | None, Catalog], ...] = (
    (None, CATALOGS["en"]),
    ("pt", CATALOGS["pt"]),
)


def admin_menu(texts: Catalog) -> list[BotCommand]:
    """An admin's menu: the members' commands, then the admins'."""
    admins = [BotCommand(c.name, c.describe(texts)) for c in ADMIN_COMMANDS]
    return [*command_menu(texts), *admins]


async def publish(bot: Bot, admins: Iterable[int]) -> None:
    """Publish the menus and descriptions; what Telegram refuses is logged."""
    calls: list[tuple[str, Callable[[], Awaitable[bool]]]] = []
    for language, texts in _LANGUAGES:
        calls += [
            ("default menu", partial(bot.delete_my_commands, language_code=language)),
            (
                "members' menu",
                partial(
                    bot.set_my_commands,
                    command_menu(texts),
                    BotCommandScopeAllPrivateChats(),
                    language,
                ),
            ),
            ("description", partial(bot.set_my_description, texts.bot_description, language)),
            (
                "short description",
                partial(bot.set_my_short_description, texts.bot_short_description, language),
            ),
        ]
        calls += [
            (
                "an admin's menu",
                partial(
                    bot.set_my_commands, admin_menu(texts), BotCommandScopeChat(admin), language
                ),
            )
            for admin in sorted(admins)
        ]
    for what, call in calls:
        try:
            await call()
        except TelegramError as error:
            logger.warning("Could not publish the %s (%s)", what, type(error).__name__)
