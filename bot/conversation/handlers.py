"""Telegram handlers: parse the update, call the flow, send its replies. Nothing else."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any, assert_never

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.conversation.flow import (
    BusySignal,
    FlowGone,
    LeaseLost,
    Outcome,
    RegistrationFlow,
    StorageUnavailable,
)
from bot.conversation.keyboards import ACTS_ON_ZAPI, Action, ButtonPress
from bot.conversation.replies import Reply
from bot.conversation.states import RegistrationStep
from bot.conversation.texts import Catalog, catalog_for
from bot.delivery import Courier
from bot.storage.records import FlowRecord
from bot.telegram_utils import answer_quietly

__all__ = ["CONVERSATION_NAME", "RegistrationHandlers"]

logger = logging.getLogger(__name__)

CONVERSATION_NAME = "registration"
Step = RegistrationStep
Context = ContextTypes.DEFAULT_TYPE
END = ConversationHandler.END
# Longer texts are no answer to any step (the appeal, the longest, allows 500 characters).
MAX_TEXT_LENGTH = 1000

# The steps each button belongs to; a press from another step is stale (BACK, CANCEL and RETRY
# work at every step).
_BUTTON_STEPS: dict[Action, frozenset[RegistrationStep]] = {
    Action.INSTANCE: frozenset({Step.INSTANCE}),
    Action.METHOD: frozenset({Step.METHOD, Step.CODE}),
    Action.YES: frozenset({Step.PHONE_CONFIRM}),
    Action.NO: frozenset({Step.PHONE_CONFIRM}),
    Action.APPEAL: frozenset({Step.BANNED}),
    Action.CHANGE_NUMBER: frozenset({Step.BANNED, Step.CODE, Step.METHOD}),
    Action.RESEND: frozenset({Step.CODE, Step.CAPTCHA}),
    Action.DEVICE_ACCEPTED: frozenset({Step.DEVICE}),
    Action.FORGOT_PIN: frozenset({Step.PIN}),
}


def _fits(step: RegistrationStep, press: ButtonPress) -> bool:
    if press.action in (Action.BACK, Action.RETRY):
        return press.argument == step.value  # shown at this very step
    steps = _BUTTON_STEPS.get(press.action)
    return steps is None or step in steps


StepAction = Callable[[FlowRecord, str, BusySignal], Awaitable[Outcome]]


def _text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


class RegistrationHandlers:
    """The /register conversation and the commands around it."""

    def __init__(self, flow: RegistrationFlow, courier: Courier) -> None:
        self.flow = flow
        self.courier = courier

    # -- sending ---------------------------------------------------------------------------

    def _busy_signal(self, context: Context, chat_id: int) -> BusySignal:
        def signal() -> None:
            context.application.create_task(
                self._typing(context, chat_id), name=f"typing:{chat_id}"
            )

        return signal

    @staticmethod
    async def _typing(context: Context, chat_id: int) -> None:
        with contextlib.suppress(TelegramError):  # cosmetic only
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def _finish(self, update: Update, context: Context, outcome: Outcome) -> object:
        """Say what the step said: committed messages at least once (retried if Telegram fails
        now), the others once."""
        chat_id = update.effective_chat.id if update.effective_chat else 0
        message = update.effective_message
        if outcome.delete_message and message is not None and update.callback_query is None:
            await self._delete_secret(update, chat_id)
        if outcome.owed:
            await self.courier.deliver(outcome.owed)
        if outcome.replies:
            await self.courier.send(chat_id, outcome.replies)
        return outcome.step if outcome.step is not None else END

    async def _delete_secret(self, update: Update, chat_id: int) -> None:
        """The member's message with the PIN goes; if it cannot, the member is asked to."""
        message = update.effective_message
        assert message is not None
        try:
            await message.delete()
        except TelegramError as error:
            logger.warning("Could not delete a PIN message in chat %s: %s", chat_id, error)
            user = update.effective_user
            texts = catalog_for(user.language_code if user else None)
            try:
                await message.reply_text(texts.pin_not_deleted)
            except TelegramError:
                logger.warning("Could not ask chat %s to delete its PIN message", chat_id)

    async def _gone(self, update: Update, context: Context) -> object:
        user = update.effective_user
        texts = catalog_for(user.language_code if user else None)
        if update.callback_query is not None:
            await answer_quietly(update.callback_query, texts.stale_button)
        elif update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, texts.no_flow)
        return END

    # -- wrappers: load the flow's row, check it, run the step -----------------------------

    async def on_text(self, update: Update, context: Context) -> object:
        """A typed answer, handled by the step the flow's row is at."""
        chat = update.effective_chat
        assert chat is not None
        text = _text(update)

        async def answer(reg: FlowRecord) -> Outcome:
            if len(text) > MAX_TEXT_LENGTH:
                texts = self.flow.texts(reg)
                hint = texts.too_long.format(expected=texts.step_hints[reg.step])
                return await self.flow.repeat(reg, hint)
            action = self._text_actions[Step(reg.step)]
            return await action(reg, text, self._busy_signal(context, chat.id))

        return await self._with_flow(update, context, answer)

    def _on_button(
        self, action: Callable[[FlowRecord, ButtonPress, BusySignal], Awaitable[Outcome]]
    ) -> Any:
        async def callback(update: Update, context: Context) -> object:
            query = update.callback_query
            chat = update.effective_chat
            assert query is not None and chat is not None
            press = ButtonPress.decode(query.data)
            reg = await self.flow.load(chat.id)
            if (
                reg is None
                or press is None
                or press.flow_id != reg.flow_id
                or not _fits(Step(reg.step), press)
            ):
                await answer_quietly(query, catalog_for(reg.language if reg else None).stale_button)
                return Step(reg.step) if reg is not None else END
            if press.action in ACTS_ON_ZAPI and press.version != reg.version:
                # A second tap, or a keyboard older than the flow's last change: Z-API was (or
                # is being) asked already.
                await answer_quietly(query, self.flow.texts(reg).button_used)
                return Step(reg.step)
            await answer_quietly(query)
            return await self._run(
                update,
                context,
                reg,
                lambda: action(reg, press, self._busy_signal(context, chat.id)),
            )

        return callback

    # -- commands --------------------------------------------------------------------------

    async def register(self, update: Update, context: Context) -> object:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        outcome = await self.flow.start(chat.id, user.id, user.language_code)
        return await self._finish(update, context, outcome)

    async def cancel(self, update: Update, context: Context) -> object:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        try:
            outcome = await self.flow.cancel(chat.id, user.language_code)
        except FlowGone:
            return await self._gone(update, context)
        return await self._finish(update, context, outcome)

    async def status(self, update: Update, context: Context) -> object:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        outcome = await self.flow.status(chat.id, user.language_code)
        await self.courier.send(chat.id, outcome.replies)
        return None  # the conversation stays where it is

    async def _with_flow(
        self,
        update: Update,
        context: Context,
        step: Callable[[FlowRecord], Awaitable[Outcome]],
    ) -> object:
        """Load the chat's flow, run `step` on it, send what it says; the one place that turns a
        missing or ended flow into "no registration in progress"."""
        chat = update.effective_chat
        assert chat is not None
        reg = await self.flow.load(chat.id)
        if reg is None:
            return await self._gone(update, context)
        return await self._run(update, context, reg, lambda: step(reg))

    async def _run(
        self,
        update: Update,
        context: Context,
        reg: FlowRecord,
        step: Callable[[], Awaitable[Outcome]],
    ) -> object:
        """Run a step of the flow and say what it says; a flow that ended meanwhile, or lost its
        instance, says so instead."""
        try:
            outcome = await step()
        except FlowGone:
            return await self._gone(update, context)
        except StorageUnavailable:
            if reg.pending_call is None:
                raise  # nothing was done: the error handler's "try again" is the truth
            # Z-API answered a call whose outcome the database refused to keep.
            outcome = Outcome(Step(reg.step), replies=[Reply(self.flow.texts(reg).step_unsaved)])
        except LeaseLost as lost:
            try:
                outcome = await self.flow.lease_lost(reg, lost.instance)
            except FlowGone:
                return await self._gone(update, context)
        return await self._finish(update, context, outcome)

    async def back_command(self, update: Update, context: Context) -> object:
        return await self._with_flow(update, context, self.flow.back)

    async def start_command(self, update: Update, context: Context) -> None:
        await self._general(update, context, lambda texts: texts.start)

    async def help_command(self, update: Update, context: Context) -> None:
        await self._general(update, context, lambda texts: texts.help)

    async def _general(
        self, update: Update, context: Context, text: Callable[[Catalog], str]
    ) -> None:
        user, chat = update.effective_user, update.effective_chat
        assert chat is not None
        await context.bot.send_message(
            chat.id, text(catalog_for(user.language_code if user else None))
        )
        await self._remind(context, chat.id)

    async def _remind(self, context: Context, chat_id: int) -> None:
        """After /start or /help in the middle of a flow: the question the member is at."""
        reg = await self.flow.load(chat_id)
        if reg is not None:
            await self.courier.send(chat_id, await self.flow.prompt(reg))

    async def outside_flow(self, update: Update, context: Context) -> None:
        """Any message when no registration is in progress."""
        user, chat = update.effective_user, update.effective_chat
        assert chat is not None
        texts = catalog_for(user.language_code if user else None)
        if update.callback_query is not None:
            await answer_quietly(update.callback_query, texts.stale_button)
            return
        await context.bot.send_message(chat.id, texts.no_flow)

    async def not_text(self, update: Update, context: Context) -> object:
        """Stickers, photos, voice notes… in the middle of a step: say what the step expects."""

        async def hint(reg: FlowRecord) -> Outcome:
            texts = self.flow.texts(reg)
            if Step(reg.step) is Step.PIN:
                # A photo captioned with the PIN is as secret as the PIN typed.
                outcome = await self.flow.repeat(reg, texts.bad_pin)
                outcome.delete_message = True
                return outcome
            expected = texts.step_hints[reg.step]
            return await self.flow.repeat(reg, texts.text_only.format(expected=expected))

        return await self._with_flow(update, context, hint)

    async def other_command(self, update: Update, context: Context) -> object:
        async def hint(reg: FlowRecord) -> Outcome:
            texts = self.flow.texts(reg)
            expected = texts.step_hints[reg.step]
            return await self.flow.repeat(reg, texts.command_here.format(expected=expected))

        return await self._with_flow(update, context, hint)

    # -- button actions --------------------------------------------------------------------

    async def _press(self, reg: FlowRecord, press: ButtonPress, busy: BusySignal) -> Outcome:
        """A button that fits the flow's step (checked by `_fits` before this runs)."""
        flow = self.flow
        match press.action:
            case Action.INSTANCE:
                return await flow.choose_instance(reg, press.argument)
            case Action.METHOD:
                return await flow.choose_method(reg, press.argument, busy)
            case Action.BACK:
                return await flow.back(reg)
            case Action.CANCEL:
                return await flow.cancel(reg.chat_id, reg.language)
            case Action.RETRY:
                return await flow.retry(reg, busy)
            case Action.YES:
                return await flow.confirm_phone(reg, True, busy)
            case Action.NO:
                return await flow.confirm_phone(reg, False, busy)
            case Action.APPEAL:
                return await flow.start_appeal(reg)
            case Action.CHANGE_NUMBER:
                return await flow.change_number(reg)
            case Action.RESEND:
                return await flow.resend(reg)
            case Action.DEVICE_ACCEPTED:
                return await flow.device_accepted(reg, busy)
            case Action.FORGOT_PIN:
                return await flow.forgot_pin(reg, busy)
        assert_never(press.action)

    # -- the conversation ------------------------------------------------------------------

    @cached_property
    def _text_actions(self) -> dict[RegistrationStep, StepAction]:
        flow = self.flow

        async def instance(reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
            return await flow.choose_instance(reg, text)

        async def banned(reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
            return await flow.banned_reply(reg, text)

        return {
            Step.INSTANCE: instance,
            Step.DDI: flow.receive_ddi,
            Step.PHONE: flow.receive_phone,
            Step.PHONE_CONFIRM: flow.phone_confirmation,
            Step.BANNED: banned,
            Step.APPEAL: flow.receive_appeal,
            Step.METHOD: flow.method_reply,
            Step.CAPTCHA: flow.receive_captcha,
            Step.CODE: flow.receive_code,
            Step.DEVICE: flow.device_reply,
            Step.PIN: flow.receive_pin,
        }

    def conversation(self) -> ConversationHandler[Context]:
        """The flow's steps as a ConversationHandler whose state mirrors the database row.

        The row is the truth: each answer is handled by the step the row is at, and an update
        the conversation has no state for (after a crash, say) is adopted the same way.
        """
        text = MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text)
        buttons = CallbackQueryHandler(self._on_button(self._press))
        states: dict[object, list[BaseHandler[Update, Context, object]]] = {
            step: [text, buttons] for step in RegistrationStep
        }
        fallbacks: list[BaseHandler[Update, Context, object]] = [
            CommandHandler("register", self.register),
            CommandHandler("cancel", self.cancel),
            CommandHandler("back", self.back_command),
            CommandHandler("status", self.status),
            CommandHandler("start", self.start_command),
            CommandHandler("help", self.help_command),
            MessageHandler(filters.COMMAND, self.other_command),
            MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL, self.not_text),
        ]
        # Buttons are tracked per chat on purpose (every keyboard carries its flow id), so PTB's
        # hint about per_message=False does not apply.
        warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("register", self.register), text, buttons],
            states=states,
            fallbacks=fallbacks,
            allow_reentry=False,
            name=CONVERSATION_NAME,
            persistent=True,
        )

    def outside_handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        """Updates the conversation does not take: commands and media with no flow."""
        return [
            CommandHandler("start", self.start_command),
            CommandHandler("help", self.help_command),
            CommandHandler("status", self.status),
            CommandHandler("cancel", self.cancel),
            CommandHandler("back", self.back_command),
            MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, self.outside_flow),
        ]
