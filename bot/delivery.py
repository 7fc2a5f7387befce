"""Delivering what the bot owes members: committed messages go out at least once, in order.

A step commits its messages to the outbox with its state (see `FlowStore.commit`). The courier
sends them at once; when Telegram cannot take one (a 5xx, a 429, a timeout, the network), that
message and every later one for the chat wait in the chat's backlog, which is sent again with
growing pauses, in order, until Telegram takes it. A message Telegram confirmed is acknowledged
(deleted from the outbox) and never sent again; one Telegram refuses for good (the member blocked
the bot, a bad request) is dropped with a warning. After a restart every message still in the
outbox is sent first. A crash in the instant between Telegram's confirmation and the
acknowledgement's commit sends that one message again: delivery is at least once.

One message per chat has working buttons, the question the member is at. A button press's
first reply takes the place of the message pressed (`bot.render.edit`); any other message takes
the buttons off the one that had them before it is sent, unless it is said aside. Which message
has them is recorded with the acknowledgements, so a restart keeps to that too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections import deque
from collections.abc import Coroutine, Iterable, Sequence
from datetime import timedelta
from typing import Any, Final

from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.conversation.ports import OutboxStorage, OwedMessage
from bot.conversation.replies import Reply
from bot.domain.clock import Clock
from bot.render import Pressed, edit, send, take_buttons_away

__all__ = ["RETRY_DELAYS", "Courier"]

logger = logging.getLogger(__name__)

# Pauses before each new attempt at a chat's backlog: about an hour in all. A backlog still
# refused then stays in the outbox and is tried again at the next start.
RETRY_DELAYS: Final = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0)
# Sends at once for messages nobody waits on (notices, the backlog after a restart).
BACKGROUND_SENDS: Final = 8


class _Later:
    """Telegram could not take the message now; `after`: the pause it asked for, if it did."""

    __slots__ = ("after",)

    def __init__(self, after: float | None = None) -> None:
        self.after = after


_DONE: Final = None


def _retry_after(error: RetryAfter) -> float:
    """The pause Telegram asked for, in seconds (PTB 22 warns that the attribute will become a
    timedelta; both forms are read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: float | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Courier:
    def __init__(
        self,
        bot: Bot,
        store: OutboxStorage,
        *,
        clock: Clock,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        background_sends: int = BACKGROUND_SENDS,
    ) -> None:
        self.bot = bot
        self.store = store
        self.clock = clock
        self.retry_delays = tuple(retry_delays)
        self._backlogs: dict[int, deque[OwedMessage]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._background = asyncio.Semaphore(background_sends)
        self._acks: list[int] = []
        self._acking: asyncio.Task[None] | None = None
        self._live: dict[int, int] = {}  # chat → the message whose buttons work
        self._live_changes: dict[int, int | None] = {}

    # -- sending ---------------------------------------------------------------------------

    async def send(
        self, chat_id: int, replies: Iterable[Reply], *, pressed: Pressed | None = None
    ) -> None:
        """Send messages about nothing committed, once; Telegram's errors reach the caller.
        `pressed`: the message whose button was pressed (the first reply takes its place)."""
        for reply in replies:
            await self._send(chat_id, reply, pressed)
            pressed = None

    async def _send(self, chat_id: int, reply: Reply, pressed: Pressed | None = None) -> None:
        live = self._live.get(chat_id)
        edited = (
            pressed is not None
            and reply.photo is None
            and await edit(self.bot, chat_id, pressed, reply, self.clock.now())
        )
        if edited and pressed is not None:
            if live is not None and live != pressed.message_id:
                await self._take_buttons_away(chat_id, live)
            self._note_live(chat_id, pressed.message_id if reply.keyboard else None)
            return
        if reply.aside:
            await send(self.bot, chat_id, reply, self.clock.now())
            return
        if live is not None:
            await self._take_buttons_away(chat_id, live)
        message_id = await send(self.bot, chat_id, reply, self.clock.now())
        self._note_live(chat_id, message_id if reply.keyboard else None)

    async def _take_buttons_away(self, chat_id: int, message_id: int) -> None:
        try:
            await take_buttons_away(self.bot, chat_id, message_id)
        except TelegramError as error:  # cosmetic: the old buttons only answer "stale"
            logger.info("Buttons of a message in chat %s not taken away (%s)", chat_id, error)
        self._note_live(chat_id, None)

    def _note_live(self, chat_id: int, message_id: int | None) -> None:
        if self._live.get(chat_id) == message_id:
            return
        if message_id is None:
            del self._live[chat_id]
        else:
            self._live[chat_id] = message_id
        self._live_changes[chat_id] = message_id
        self._start_flush()

    async def deliver(
        self,
        owed: Sequence[OwedMessage],
        *,
        background: bool = False,
        pressed: Pressed | None = None,
    ) -> None:
        """Send committed messages now, in order per chat, behind any a chat is still owed;
        what Telegram cannot take now is retried later. Never raises for Telegram's sake.

        `background`: nobody waits on these (at most BACKGROUND_SENDS sends at once).
        `pressed`: the message a button was pressed on, in the one chat of `owed`."""
        by_chat: dict[int, list[OwedMessage]] = {}
        for item in owed:
            by_chat.setdefault(item.chat_id, []).append(item)
        if len(by_chat) == 1:
            [(chat_id, items)] = by_chat.items()
            await self._deliver_chat(chat_id, items, background=background, pressed=pressed)
            return
        await asyncio.gather(
            *(
                self._deliver_chat(chat_id, items, background=background)
                for chat_id, items in by_chat.items()
            )
        )

    def backlog_size(self) -> int:
        """How many messages wait in chats' backlogs for Telegram to take them."""
        return sum(len(backlog) for backlog in self._backlogs.values())

    def post(self, owed: Sequence[OwedMessage]) -> None:
        """Deliver in the background (for callers that must not wait on Telegram)."""
        if owed:
            self._spawn(self.deliver(owed, background=True), name="deliver")

    async def _deliver_chat(
        self,
        chat_id: int,
        items: list[OwedMessage],
        *,
        background: bool,
        pressed: Pressed | None = None,
    ) -> None:
        backlog = self._backlogs.get(chat_id)
        if backlog is not None:  # older messages first: the backlog's task sends these too
            backlog.extend(items)
            return
        for index, item in enumerate(items):
            result = await self._attempt(item, background=background, pressed=pressed)
            pressed = None  # a retry sends the reply as a new message
            if isinstance(result, _Later):
                self._backlogs[chat_id] = deque(items[index:])
                self._spawn(self._drain(chat_id, result), name=f"backlog:{chat_id}")
                return

    async def _attempt(
        self, item: OwedMessage, *, background: bool, pressed: Pressed | None = None
    ) -> _Later | None:
        """One try at one owed message; _Later when Telegram could not take it now."""
        if not isinstance(item.message, Reply):  # pragma: no cover - the outbox holds Replies
            raise TypeError(type(item.message).__name__)
        try:
            if background:
                async with self._background:
                    await self._send(item.chat_id, item.message, pressed)
            else:
                await self._send(item.chat_id, item.message, pressed)
        except RetryAfter as error:
            logger.warning("Telegram asked to wait before a message to chat %s", item.chat_id)
            return _Later(_retry_after(error))
        except BadRequest as error:  # a NetworkError subclass in PTB, but final
            logger.warning("Message to chat %s refused for good: %s", item.chat_id, error)
        except NetworkError as error:  # timeouts, 5xx, connection trouble
            logger.warning(
                "Message to chat %s not delivered (%s); will retry",
                item.chat_id,
                type(error).__name__,
            )
            return _Later()
        except TelegramError as error:  # the member blocked the bot, the chat is gone…
            logger.warning("Message to chat %s refused for good: %s", item.chat_id, error)
        self._acknowledge(item.id)
        return _DONE

    async def _drain(self, chat_id: int, first: _Later) -> None:
        """Send the chat's backlog in order, pausing more after each failed attempt."""
        backlog = self._backlogs[chat_id]
        failures = 1
        later: _Later | None = first
        try:
            while backlog:
                if failures > len(self.retry_delays):
                    logger.error(
                        "Giving up for now on %d message(s) to chat %s; they stay owed and are "
                        "sent again at the next start",
                        len(backlog),
                        chat_id,
                    )
                    return
                pause = self.retry_delays[failures - 1]
                if later is not None and later.after is not None:
                    pause = max(pause, later.after)
                await self.clock.sleep(pause)
                result = await self._attempt(backlog[0], background=True)
                if isinstance(result, _Later):
                    failures, later = failures + 1, result
                    continue
                backlog.popleft()
                failures, later = 1, None
                while backlog:  # the rest at once while Telegram takes them
                    result = await self._attempt(backlog[0], background=True)
                    if isinstance(result, _Later):
                        later = result
                        break
                    backlog.popleft()
        finally:
            del self._backlogs[chat_id]

    # -- acknowledging ---------------------------------------------------------------------

    def _acknowledge(self, message_id: int) -> None:
        self._acks.append(message_id)
        self._start_flush()

    def _start_flush(self) -> None:
        if self._acking is None:
            self._acking = asyncio.get_running_loop().create_task(self._flush(), name="acks")

    async def _flush(self) -> None:
        """Delete delivered messages from the outbox, many per statement, and record which
        message of each chat has working buttons."""
        try:
            while self._acks or self._live_changes:
                ids, self._acks = self._acks, []
                live, self._live_changes = self._live_changes, {}
                try:
                    await self.store.acknowledge(ids, live)
                except Exception as error:  # they would only be sent again after a restart
                    logger.warning("Could not record %d delivery(ies): %s", len(ids), error)
                    self._acks[:0] = ids
                    self._live_changes = {**live, **self._live_changes}
                    await self.clock.sleep(self.retry_delays[0])
        finally:
            self._acking = None

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> int:
        """Send what the outbox still owes (a restart cut its delivery); how many messages."""
        self._live = await self.store.live_keyboards()
        owed: list[OwedMessage] = []
        for message_id, chat_id, stored in await self.store.owed_messages():
            try:
                owed.append(OwedMessage(message_id, chat_id, Reply.from_json(stored)))
            except (ValueError, KeyError, TypeError):
                logger.error("Unreadable message %s in the outbox; dropped", message_id)
                self._acknowledge(message_id)
        self.post(owed)
        return len(owed)

    async def stop(self, *, ack_timeout: float = 2.0) -> None:
        """Stop sending; record the deliveries still unrecorded if the database lets us within
        `ack_timeout` (else those messages are sent again at the next start)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        acking = self._acking
        if acking is not None:
            limit = asyncio.ensure_future(self.clock.sleep(ack_timeout))
            await asyncio.wait({acking, limit}, return_when=asyncio.FIRST_COMPLETED)
            limit.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await limit
            recorded = acking.done() and not acking.cancelled() and acking.exception() is None
            if not recorded:  # out of time, or the database still refusing (the buttons
                # recorded as working may be off already: taking them off again is harmless)
                acking.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await acking
                logger.warning(
                    "%d delivery(ies) not recorded; resent at the next start", len(self._acks)
                )

    def _spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
