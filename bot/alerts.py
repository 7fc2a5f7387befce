"""Alerts: what members cannot fix, and what the team should know, told to the admins.

They go to the alerts chat (ALERT_CHAT_ID, a group or a forum topic of it, in ALERT_LANGUAGE),
else to each admin's private chat (in that admin's language):

- refused credentials on an instance (at once, at most once per instance per hour);
- an instance that dropped its connection, or came back (the monitor, bot/monitor.py);
- the team feed (ALERT_FEED): a number connected, banned, an appeal and its outcome, a
  registration that timed out.

Flips and the feed are committed to the outbox (delivered at least once, like members'
messages); the credentials alert is sent at once, since whether it reached anyone decides what
the member is told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import Forbidden, TelegramError

from bot.config import Settings
from bot.conversation.replies import Button, Keyboard, Reply
from bot.conversation.texts import Catalog, catalog_for
from bot.delivery import Courier
from bot.domain.clock import Clock
from bot.domain.instances import Flip, reason_key
from bot.domain.parsing import masked_number
from bot.domain.record import FlowRecord
from bot.languages import LanguageChoices
from bot.people import People
from bot.storage.writes import Writer

__all__ = ["AdminAlerts", "register_link"]

logger = logging.getLogger(__name__)

ALERT_INTERVAL = timedelta(hours=1)
# The audit events the feed tells of, by (action, outcome); "*": any outcome.
_FEED_APPEALS = frozenset({"in_review", "refused", "unbanned"})

Build = Callable[[Catalog], Reply]


def register_link(bot_username: str, instance_position: int) -> str:
    """The deep link that opens a registration on the instance at `instance_position` (from 1,
    in ZAPI_INSTANCES' order: names may hold characters a start parameter cannot)."""
    return f"https://t.me/{bot_username}?start=register-{instance_position}"


class AdminAlerts:
    def __init__(
        self,
        settings: Settings,
        courier: Courier,
        languages: LanguageChoices,
        clock: Clock,
        *,
        store: Writer,
        people: People,
        bot_username: Callable[[], str | None] = lambda: None,
        interval: timedelta = ALERT_INTERVAL,
    ) -> None:
        self.settings = settings
        self.courier = courier
        self.languages = languages
        self.clock = clock
        self.store = store
        self.people = people
        self.bot_username = bot_username
        self.interval = interval
        self._last: dict[tuple[str, str], datetime] = {}
        self._unreachable: set[int] = set()  # chats Telegram refused to write to
        self._sending: set[asyncio.Task[None]] = set()

    # -- where they go ----------------------------------------------------------------------

    def _recipients(self) -> list[tuple[int, str, int | None]]:
        """(chat, language, forum topic) of everyone an alert goes to, reachable or not."""
        if self.settings.alert_chat_id is not None:
            return [
                (
                    self.settings.alert_chat_id,
                    self.settings.alert_language,
                    self.settings.alert_thread_id,
                )
            ]
        return [
            (admin, self.languages.chosen(admin) or self.settings.alert_language, None)
            for admin in sorted(self.settings.admin_user_ids)
        ]

    def _messages(self, builds: Sequence[Build]) -> list[tuple[int, Reply]]:
        messages: list[tuple[int, Reply]] = []
        for chat, language, thread in self._recipients():
            for build in builds:
                said = build(catalog_for(language))
                messages.append((chat, Reply(said.text, said.keyboard, aside=True, thread=thread)))
        return messages

    async def post(
        self, builds: Sequence[Build], work: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> None:
        """Commit the alerts (with `work`, the state they tell of) and deliver them."""
        owed = await self.store.commit_messages(self._messages(builds), work)
        self.courier.post(owed)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _member(self, texts: Catalog, user_id: int) -> str:
        return self.people.name(user_id, texts.admin.member_unknown)

    # -- refused credentials ----------------------------------------------------------------

    def credentials_refused(self, instance: str, endpoint: str) -> bool:
        """Z-API refused the bot's credentials on `instance`: the admins are told (unless they
        were within the hour). Whether anyone the bot can write to is there to be told."""
        recipients = [r for r in self._recipients() if r[0] not in self._unreachable]
        if not recipients:
            return False
        now = self.clock.now()
        last = self._last.get(("credentials", instance))
        if last is None or now - last >= self.interval:
            self._last[("credentials", instance)] = now
            logger.warning("Z-API refused the credentials on %s: alerting the admins", instance)
            self._spawn(self._tell(recipients, instance, endpoint), "alert-credentials")
        return True

    async def _tell(
        self, recipients: list[tuple[int, str, int | None]], instance: str, endpoint: str
    ) -> None:
        for chat, language, thread in recipients:
            text = catalog_for(language).alert_credentials.format(
                instance=instance, endpoint=endpoint
            )
            try:
                await self.courier.send(chat, [Reply(text, aside=True, thread=thread)])
            except Forbidden:
                # Never started the bot, blocked it, or removed it from the group: members
                # hear "tell an admin" instead.
                logger.warning("Alerts cannot be written to chat %s (start the bot there)", chat)
                self._unreachable.add(chat)
            except TelegramError as error:
                logger.warning("Could not alert chat %s: %s", chat, type(error).__name__)

    # -- instances dropping and coming back ---------------------------------------------------

    def flip_alert(
        self,
        instance: str,
        change: Flip,
        reason: str | None,
        last: tuple[int, str] | None,
    ) -> Build:
        """The alert of `instance`'s change; `last`: who last connected a number there, and
        the number."""
        position = next(
            (n for n, item in enumerate(self.settings.instances, 1) if item.name == instance), 1
        )
        username = self.bot_username()

        def build(texts: Catalog) -> Reply:
            admin = texts.admin
            if change is Flip.RECONNECTED:
                return Reply(admin.alert_reconnected.format(instance=instance))
            key = reason_key(reason)
            said = admin.board_reasons[key] if key is not None else (reason or "—")
            lines = [admin.alert_dropped.format(instance=instance, reason=said)]
            if last is not None:
                user_id, number = last
                lines.append(
                    admin.alert_dropped_number.format(
                        number=masked_number(number), member=self._member(texts, user_id)
                    )
                )
            keyboard = None
            if username:
                label = admin.button_register_again.format(instance=instance)
                link = Button.link(label, register_link(username, position))
                keyboard = Keyboard("", 0, ((link,),), texts.language)
            return Reply("\n".join(lines), keyboard)

        return build

    # -- the team feed ----------------------------------------------------------------------

    def flow_event(self, reg: FlowRecord, action: str, outcome: str) -> None:
        """A flow's audit event, as committed: told in the feed if it is one of its kind."""
        if not self.settings.alert_feed:
            return
        build = self._feed(reg, action, outcome)
        if build is not None:
            self._spawn(self._post_quietly(build), "feed")

    async def _post_quietly(self, build: Build) -> None:
        try:
            await self.post([build])
        except Exception as error:  # the feed is news, not a promise to anyone
            logger.warning("Could not post to the feed: %s", type(error).__name__)

    def _feed(self, reg: FlowRecord, action: str, outcome: str) -> Build | None:
        build = self._feed_line(reg, action, outcome)
        if build is None or reg.instance not in self.settings.sandboxes:
            return build
        told = build

        def marked(texts: Catalog) -> Reply:
            reply = told(texts)
            return replace(reply, text=f"{texts.sandbox.mark} · {reply.text}")

        return marked

    def _feed_line(self, reg: FlowRecord, action: str, outcome: str) -> Build | None:
        number = masked_number(reg.phone, reg.ddi)
        instance = reg.instance or "—"
        if (action, outcome) == ("register", "connected"):
            return lambda t: Reply(
                t.admin.feed_connected.format(
                    member=self._member(t, reg.user_id), number=number, instance=instance
                )
            )
        if outcome == "banned" and action in ("check", "request_code"):
            return lambda t: Reply(
                t.admin.feed_banned.format(
                    member=self._member(t, reg.user_id), number=number, instance=instance
                )
            )
        if action == "appeal" and outcome in _FEED_APPEALS:
            return lambda t: Reply(
                t.admin.feed_appeal.format(
                    member=self._member(t, reg.user_id),
                    number=number,
                    outcome=t.admin.appeal_outcomes[outcome],
                )
            )
        if action == "timeout":
            return lambda t: Reply(
                t.admin.feed_timed_out.format(
                    member=self._member(t, reg.user_id),
                    instance=instance,
                    step=t.step_names.get(reg.step, reg.step),
                )
            )
        return None

    async def stop(self) -> None:
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
