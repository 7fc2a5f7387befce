"""Who people are, as they are named on Telegram, and when each was last seen: what admins read
in place of numeric ids (the board, alerts, the feed, /members)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from telegram import User

from bot.domain.clock import Clock
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["People", "Seen"]

logger = logging.getLogger(__name__)

# A later sighting is written only once it is this much newer than the one written: "last
# activity" is shown to the minute, and a member's every message must not cost a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# Rows per statement when sightings are written: a crowd's first sightings are written in
# several small statements rather than one that costs memory the size of the crowd.
FLUSH_BATCH = 100


@dataclass(frozen=True, slots=True)
class Seen:
    first_name: str
    username: str | None
    first_seen: datetime
    last_seen: datetime

    def label(self) -> str:
        """ "Ana (@ana)", or "Ana" without a username."""
        return f"{self.first_name} (@{self.username})" if self.username else self.first_name


class People:
    """Read once at start, kept in memory (one bot process per database); sightings are noted
    in memory by every update and written in batches (`flush`, run every few seconds and at
    stop), off the path of the reply."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.db = database
        self.clock = clock
        self._seen: dict[int, Seen] = {}
        self._written: dict[int, Seen] = {}
        self._dirty: set[int] = set()

    async def load(self) -> None:
        async with self.db.reader() as session:
            rows = await repo.people(session)
        self._seen = {
            row.user_id: Seen(row.first_name, row.username, row.first_seen, row.last_seen)
            for row in rows
        }
        self._written = dict(self._seen)

    def saw(self, user: User) -> None:
        now = self.clock.now()
        known = self._seen.get(user.id)
        first_name = (user.first_name or "").strip()[:64] or str(user.id)
        username = (user.username or None) and user.username[:32]
        if known is None:
            seen = Seen(first_name, username, now, now)
        else:
            seen = replace(known, first_name=first_name, username=username, last_seen=now)
        self._seen[user.id] = seen
        written = self._written.get(user.id)
        if (
            written is None
            or (written.first_name, written.username) != (first_name, username)
            or now - written.last_seen >= LAST_SEEN_RESOLUTION
        ):
            self._dirty.add(user.id)

    def everyone(self) -> dict[int, Seen]:
        return dict(self._seen)

    def get(self, user_id: int) -> Seen | None:
        return self._seen.get(user_id)

    def name(self, user_id: int, unknown: str) -> str:
        """The person's first name (and @username); `unknown` (formatted with the id) for
        someone never seen."""
        seen = self._seen.get(user_id)
        return seen.label() if seen is not None else unknown.format(user_id=user_id)

    async def flush(self) -> None:
        """Write the sightings not yet written; on failure they stay for the next flush."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        rows = [
            {
                "user_id": user_id,
                "first_name": seen.first_name,
                "username": seen.username,
                "first_seen": seen.first_seen,
                "last_seen": seen.last_seen,
            }
            for user_id in sorted(dirty)
            if (seen := self._seen.get(user_id)) is not None
        ]
        try:
            async with self.db.session() as session:
                for start in range(0, len(rows), FLUSH_BATCH):
                    await repo.save_people(session, rows[start : start + FLUSH_BATCH])
        except Exception as error:
            logger.warning("Could not record %d sighting(s): %s", len(rows), type(error).__name__)
            self._dirty |= dirty
            return
        for user_id in dirty:
            self._written[user_id] = self._seen[user_id]
