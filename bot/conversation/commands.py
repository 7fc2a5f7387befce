"""The members' commands, in one table: the handlers, the menu (setMyCommands) and /help are
all built from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import BotCommand, Update
from telegram.ext import ContextTypes

from bot.conversation.texts import Catalog

if TYPE_CHECKING:
    from bot.conversation.handlers import RegistrationHandlers

__all__ = ["COMMANDS", "Command", "command_menu", "help_text"]

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True, slots=True)
class Command:
    """A member's command: its name, its line in the menu and in /help, and what runs it."""

    name: str
    describe: Callable[[Catalog], str]
    run: Callable[[RegistrationHandlers, Update, Context], Awaitable[None]]
    in_help: bool = True


# The one list of members' commands: the handlers, the menu (setMyCommands) and /help.
COMMANDS: tuple[Command, ...] = (
    Command("register", lambda t: t.command_register, lambda h, u, c: h.register(u, c)),
    Command("status", lambda t: t.command_status, lambda h, u, c: h.status(u, c)),
    Command("back", lambda t: t.command_back, lambda h, u, c: h.back_command(u, c)),
    Command("cancel", lambda t: t.command_cancel, lambda h, u, c: h.cancel(u, c)),
    Command("setup", lambda t: t.setup.command_setup, lambda h, u, c: h.setup(u, c)),
    Command("language", lambda t: t.command_language, lambda h, u, c: h.language(u, c)),
    Command("help", lambda t: t.command_help, lambda h, u, c: h.help_command(u, c), False),
    Command("start", lambda t: t.command_start, lambda h, u, c: h.start_command(u, c), False),
)


def command_menu(texts: Catalog) -> list[BotCommand]:
    return [BotCommand(command.name, command.describe(texts)) for command in COMMANDS]


def help_text(texts: Catalog) -> str:
    lines = [f"/{c.name} — {c.describe(texts)}" for c in COMMANDS if c.in_help]
    return "\n".join(lines) + f"\n\n{texts.help_footer}"
