"""Telegram handlers: parse the update, find the flow's step, run it, send what it says.

Every update is routed by the step the flow's row is at, through the tables of
`bot/conversation/steps.py`; python-telegram-bot's ConversationHandler is not used: it would keep
a second copy of the step (in its persistence) that jobs ending flows, admins and restarts would
all have to keep in line with the row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.conversation.commands import COMMANDS, Command, help_text
from bot.conversation.flow import (
    FlowGone,
    LeaseLost,
    Outcome,
    RegistrationFlow,
    StorageUnavailable,
)
from bot.conversation.replies import Reply
from bot.conversation.steps import BUTTONS, FLOWLESS, STEPS, acts_at
from bot.conversation.texts import Catalog, catalog_for
from bot.conversation.updates import (
    NEW_MESSAGES,
    language_named,
    pressed_message,
    typed_text,
    typing_while,
)
from bot.delivery import Courier
from bot.domain.record import FlowRecord
from bot.domain.steps import Action, Step
from bot.languages import LanguageChoices
from bot.render import ButtonPress, answer_quietly

__all__ = ["RegistrationHandlers"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
# Longer texts are no answer to any step (the appeal, the longest, allows 500 characters).
MAX_TEXT_LENGTH = 1000


def _stale(step: Step, press: ButtonPress) -> bool:
    """A button that does not act where the flow now is (or Back shown at another step)."""
    if not acts_at(step, press.action):
        return True
    # Back and Skip name the step they were shown at: a second tap must not act twice.
    return press.action in (Action.BACK, Action.SKIP) and press.argument != step.value


class RegistrationHandlers:
    """The /register conversation and the commands around it."""

    def __init__(
        self, flow: RegistrationFlow, courier: Courier, languages: LanguageChoices
    ) -> None:
        self.flow = flow
        self.courier = courier
        self.languages = languages

    # -- sending ---------------------------------------------------------------------------

    async def _finish(
        self, update: Update, context: Context, outcome: Outcome, *, in_place: bool = True
    ) -> None:
        """Say what the step said: committed messages at least once (retried if Telegram fails
        now), the others once; a press's first reply in place of the message pressed (unless
        not `in_place`: that message stays, without its buttons)."""
        chat_id = update.effective_chat.id if update.effective_chat else 0
        message = update.effective_message
        if outcome.delete_message and message is not None and update.callback_query is None:
            await self._delete_secret(update, chat_id)
        pressed = pressed_message(update) if in_place else None
        if outcome.owed:
            await self.courier.deliver(outcome.owed, pressed=pressed)
            pressed = None
        if outcome.replies:
            await self.courier.send(chat_id, outcome.replies, pressed=pressed)

    async def _delete_secret(self, update: Update, chat_id: int) -> None:
        """The member's message with the PIN goes; if it cannot, the member is asked to."""
        message = update.effective_message
        assert message is not None
        try:
            await message.delete()
        except TelegramError as error:
            logger.warning("Could not delete a PIN message in chat %s: %s", chat_id, error)
            user = update.effective_user
            texts = catalog_for(self.languages.of(user))
            try:
                await message.reply_text(texts.pin_not_deleted)
            except TelegramError:
                logger.warning("Could not ask chat %s to delete its PIN message", chat_id)

    async def _gone(self, update: Update, context: Context) -> None:
        """No registration in progress (or it ended while this update waited)."""
        texts = catalog_for(self.languages.of(update.effective_user))
        if update.callback_query is not None:
            await answer_quietly(update.callback_query, texts.stale_button_ended)
        elif update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, texts.no_flow)

    # -- wrappers: load the flow's row, check it, run the step -----------------------------

    async def on_text(self, update: Update, context: Context) -> None:
        """A typed answer, handled by the step the flow's row is at."""
        chat = update.effective_chat
        assert chat is not None
        text = typed_text(update)

        async def answer(reg: FlowRecord) -> Outcome:
            spec = STEPS[Step(reg.step)]
            if spec.secret:
                # Deleted before the step runs: whatever becomes of it (a refused write, a lost
                # lease), the PIN does not stay in the chat.
                await self._delete_secret(update, chat.id)
            if len(text) > MAX_TEXT_LENGTH:
                texts = self.flow.texts(reg)
                hint = texts.too_long.format(expected=texts.step_hints[reg.step])
                return await self.flow.repeat(reg, hint)
            outcome = await spec.typed(self.flow, reg, text, typing.start)
            outcome.delete_message = False  # done above, where it had to be
            return outcome

        async with typing_while(context.bot, chat.id, self.courier.clock) as typing:
            await self._with_flow(update, context, answer)

    async def on_button(self, update: Update, context: Context) -> None:
        """A button press, checked against the flow's step (and version, for Z-API's)."""
        query = update.callback_query
        chat = update.effective_chat
        assert query is not None and chat is not None
        press = ButtonPress.decode(query.data)
        if press is not None and press.action in FLOWLESS:
            # Under "Connected": its flow has ended, the set-up opens a flow of its own, and
            # "Connected" stays in the chat.
            await answer_quietly(query)
            await self.setup(update, context, in_place=False, number=press.argument or None)
            return
        reg = await self.flow.load(chat.id)
        if reg is None:
            texts = catalog_for(self.languages.of(update.effective_user))
            await answer_quietly(query, texts.stale_button_ended)
            return
        if press is None or press.flow_id != reg.flow_id:
            await answer_quietly(query, self.flow.texts(reg).stale_button)
            return
        if _stale(Step(reg.step), press):
            await answer_quietly(query, self.flow.texts(reg).stale_button)
            return
        button = BUTTONS[press.action]
        if button.acts_on_zapi and press.version != reg.version:
            # A second tap, or a keyboard older than the flow's last change: Z-API was (or is
            # being) asked already.
            await answer_quietly(query, self.flow.texts(reg).button_used)
            return
        await answer_quietly(query)
        async with typing_while(context.bot, chat.id, self.courier.clock) as typing:
            await self._run(
                update,
                context,
                reg,
                lambda: button.press(self.flow, reg, press.argument, typing.start),
            )

    # -- commands --------------------------------------------------------------------------

    async def register(self, update: Update, context: Context, *, on: str | None = None) -> None:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        outcome = await self.flow.start(chat.id, user.id, self.languages.of(user), on=on)
        await self._finish(update, context, outcome)

    async def setup(
        self,
        update: Update,
        context: Context,
        *,
        in_place: bool = True,
        number: str | None = None,
    ) -> None:
        """/setup: the set-up of the member's last connected number (`number`: the one a
        button under "Connected" was shown for)."""
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        async with typing_while(context.bot, chat.id, self.courier.clock) as typing:
            typing.start()
            outcome = await self.flow.start_setup(
                chat.id, user.id, self.languages.of(user), number=number
            )
        await self._finish(update, context, outcome, in_place=in_place)

    async def cancel(self, update: Update, context: Context) -> None:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        try:
            # Typed, /cancel is taken as meant; the ✖ Cancel button, a tap that may have missed
            # its neighbour, asks first where a checked number would be lost.
            outcome = await self.flow.cancel(chat.id, self.languages.of(user), sure=True)
        except FlowGone:
            await self._gone(update, context)
            return
        await self._finish(update, context, outcome)

    async def status(self, update: Update, context: Context) -> None:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        outcome = await self.flow.status(chat.id, self.languages.of(user))
        await self.courier.send(chat.id, outcome.replies)

    async def _with_flow(
        self,
        update: Update,
        context: Context,
        step: Callable[[FlowRecord], Awaitable[Outcome]],
    ) -> None:
        """Load the chat's flow, run `step` on it, send what it says; the one place that turns a
        missing or ended flow into "no registration in progress"."""
        chat = update.effective_chat
        assert chat is not None
        reg = await self.flow.load(chat.id)
        if reg is None:
            await self._gone(update, context)
            return
        await self._run(update, context, reg, lambda: step(reg))

    async def _run(
        self,
        update: Update,
        context: Context,
        reg: FlowRecord,
        step: Callable[[], Awaitable[Outcome]],
    ) -> None:
        """Run a step of the flow and say what it says; a flow that ended meanwhile, or lost its
        instance, says so instead."""
        try:
            outcome = await step()
        except FlowGone:
            await self._gone(update, context)
            return
        except StorageUnavailable:
            if reg.pending_call is None:
                raise  # nothing was done: the error handler's "try again" is the truth
            # Z-API answered a call whose outcome the database refused to keep.
            outcome = Outcome(replies=[Reply(self.flow.texts(reg).step_unsaved)])
        except LeaseLost as lost:
            try:
                outcome = await self.flow.lease_lost(reg, lost.instance)
            except FlowGone:
                await self._gone(update, context)
                return
        await self._finish(update, context, outcome)

    async def language(self, update: Update, context: Context) -> None:
        """/language switches English ⇄ Portuguese (/language pt, /language en: that one),
        remembered; an open registration goes on in the new language."""
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        current = self.languages.of(user)
        wanted = language_named(" ".join(context.args or ()))
        language = wanted or ("en" if current == "pt" else "pt")
        await self.languages.choose(user.id, language)
        try:
            outcome = await self.flow.switch_language(chat.id, language)
        except FlowGone:
            outcome = Outcome(replies=[Reply(catalog_for(language).language_switched)])
        await self._finish(update, context, outcome)

    async def back_command(self, update: Update, context: Context) -> None:
        await self._with_flow(update, context, self.flow.back)

    async def start_command(self, update: Update, context: Context) -> None:
        """/start, or the deep links t.me/<bot>?start=register, which opens a registration,
        and ?start=register-N (an alert's "Register again"), one on the Nth instance."""
        instances = [instance.name for instance in self.flow.settings.instances]
        links = {"register": None} | {f"register-{n}": i for n, i in enumerate(instances, 1)}
        if context.args and len(context.args) == 1 and context.args[0] in links:
            await self.register(update, context, on=links[context.args[0]])
            return
        await self._general(update, context, lambda texts: texts.start)

    async def help_command(self, update: Update, context: Context) -> None:
        await self._general(update, context, help_text)

    async def _general(
        self, update: Update, context: Context, text: Callable[[Catalog], str]
    ) -> None:
        user, chat = update.effective_user, update.effective_chat
        assert chat is not None
        await context.bot.send_message(chat.id, text(catalog_for(self.languages.of(user))))
        await self._remind(context, chat.id)

    async def _remind(self, context: Context, chat_id: int) -> None:
        """After /start or /help in the middle of a flow: the question the member is at."""
        reg = await self.flow.load(chat_id)
        if reg is not None:
            await self.courier.send(chat_id, await self.flow.prompt(reg))

    async def _not_text(self, reg: FlowRecord) -> Outcome:
        texts = self.flow.texts(reg)
        if STEPS[Step(reg.step)].secret:
            # A photo captioned with the PIN is as secret as the PIN typed.
            outcome = await self.flow.repeat(reg, texts.bad_pin)
            outcome.delete_message = True
            return outcome
        expected = texts.step_hints[reg.step]
        return await self.flow.repeat(reg, texts.text_only.format(expected=expected))

    async def not_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice notes… in the middle of a step: say what the step expects."""
        await self._with_flow(update, context, self._not_text)

    async def on_contact(self, update: Update, context: Context) -> None:
        """A contact card shared (attach → Contact): its number, where the step takes one."""
        chat, message = update.effective_chat, update.effective_message
        assert chat is not None and message is not None and message.contact is not None
        number = message.contact.phone_number

        async def answer(reg: FlowRecord) -> Outcome:
            take = STEPS[Step(reg.step)].contact
            if take is None:
                return await self._not_text(reg)
            return await take(self.flow, reg, number, typing.start)

        async with typing_while(context.bot, chat.id, self.courier.clock) as typing:
            await self._with_flow(update, context, answer)

    async def on_edited(self, update: Update, context: Context) -> None:
        """A message edited after it was sent: the new answer where the step takes edits (the
        country code, the number), elsewhere a word that only new messages count. An edit when
        no registration is open (an old message corrected) gets no answer."""
        chat = update.effective_chat
        assert chat is not None
        reg = await self.flow.load(chat.id)
        if reg is None:
            return
        text = typed_text(update)

        async def answer(reg: FlowRecord) -> Outcome:
            spec = STEPS[Step(reg.step)]
            if spec.edits and text and len(text) <= MAX_TEXT_LENGTH:
                return await spec.typed(self.flow, reg, text, typing.start)
            outcome = await self.flow.repeat(reg, self.flow.texts(reg).edited_not_taken)
            outcome.delete_message = spec.secret  # an edit can carry a PIN too
            return outcome

        async with typing_while(context.bot, chat.id, self.courier.clock) as typing:
            await self._run(update, context, reg, lambda: answer(reg))  # loaded once, above

    async def other_command(self, update: Update, context: Context) -> None:
        async def hint(reg: FlowRecord) -> Outcome:
            texts = self.flow.texts(reg)
            expected = texts.step_hints[reg.step]
            return await self.flow.repeat(reg, texts.command_here.format(expected=expected))

        await self._with_flow(update, context, hint)

    # -- the routes ------------------------------------------------------------------------

    def _bound(self, command: Command) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
        async def run(update: Update, context: Context) -> None:
            await command.run(self, update, context)

        return run

    def handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        """Every update a member sends, first match wins; each handler finds the flow's step
        (or its absence) in the database row, so nothing here can drift from it."""
        commands: list[BaseHandler[Update, Context, Any]] = [
            CommandHandler(command.name, self._bound(command), filters=NEW_MESSAGES)
            for command in COMMANDS
        ]
        return [
            *commands,
            CallbackQueryHandler(self.on_button),
            MessageHandler(NEW_MESSAGES & filters.TEXT & ~filters.COMMAND, self.on_text),
            MessageHandler(NEW_MESSAGES & filters.COMMAND, self.other_command),
            MessageHandler(NEW_MESSAGES & filters.CONTACT, self.on_contact),
            MessageHandler(NEW_MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.not_text),
            MessageHandler(
                filters.UpdateType.EDITED_MESSAGE & filters.TEXT & ~filters.COMMAND,
                self.on_edited,
            ),
        ]
