"""The instance monitor: every INSTANCE_CHECK_SECONDS, each instance's `status`, all at once;
a change between connected and disconnected is alerted (bot/alerts.py), nothing else.

What was seen is stored (`instance_states`) with the alert that tells of it, in one
transaction: after a restart only what changed while the bot was down is alerted, and an
instance seen for the first time is only recorded. A probe without an answer (a timeout, an
outage, refused credentials) changes nothing. Z-API's `connected` and `disconnected` webhooks
feed the same `observe`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts import AdminAlerts
from bot.config import InstanceConfig, Settings
from bot.domain.clock import Clock
from bot.domain.instances import Connection, Flip, InstanceState, Probe, flip
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.zapi import ZapiAuthError, ZapiClient, ZapiError

__all__ = ["InstanceMonitor"]

logger = logging.getLogger(__name__)


class InstanceMonitor:
    def __init__(
        self,
        settings: Settings,
        zapi: ZapiClient,
        database: Database,
        alerts: AdminAlerts,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.zapi = zapi
        self.db = database
        self.alerts = alerts
        self.clock = clock
        self._states: dict[str, InstanceState] | None = None
        self._observing = asyncio.Lock()  # one comparison at a time: a flip is told once

    def state(self, instance: str) -> InstanceState | None:
        """The instance as last seen (None before the first look, or never answered)."""
        return (self._states or {}).get(instance)

    def runs_a_number(self, instance: str) -> bool:
        """Whether the instance was last seen connected (registering there would replace it)."""
        state = self.state(instance)
        return state is not None and state.connected

    async def check(self) -> None:
        probes = await self.probe_all(device=False)
        await self.observe({name: probe.connection for name, probe in probes.items()}, probes)

    async def probe_all(self, *, device: bool) -> dict[str, Probe]:
        """Every instance's status at once (and, with `device`, the number each connected one
        runs), each bounded by ZAPI_TIMEOUT_SECONDS whatever the client's retries."""
        instances = self.settings.instances
        probes = await asyncio.gather(*(self._probe(item, device=device) for item in instances))
        return {item.name: probe for item, probe in zip(instances, probes, strict=True)}

    async def _probe(self, instance: InstanceConfig, *, device: bool) -> Probe:
        try:
            async with asyncio.timeout(self.settings.zapi_timeout_seconds):
                status = await self.zapi.status(instance)
                if not status.connected:
                    return Probe(Connection.DISCONNECTED, status.message)
                phone = None
                if device:
                    try:
                        phone = (await self.zapi.device(instance)).phone
                    except ZapiError as error:
                        logger.info("No device of %s: %s", instance.name, type(error).__name__)
                return Probe(Connection.CONNECTED, status.message, phone)
        except ZapiAuthError as error:
            self.alerts.credentials_refused(instance.name, error.endpoint)
            return Probe(Connection.REFUSED)
        except (ZapiError, TimeoutError) as error:
            logger.info("No status of %s: %s", instance.name, type(error).__name__)
            return Probe(Connection.NO_ANSWER)

    async def observe(
        self, seen: Mapping[str, Connection], probes: Mapping[str, Probe] | None = None
    ) -> list[tuple[str, Flip]]:
        """Compare what was `seen` with what is stored; store it, with an alert of every
        flip. The flips, as told."""
        async with self._observing:
            if self._states is None:
                async with self.db.reader() as session:
                    self._states = await repo.instance_states(session)
            now = self.clock.now()
            changed: list[InstanceState] = []
            flips: list[tuple[str, Flip, str | None]] = []
            for name, connection in seen.items():
                if connection not in (Connection.CONNECTED, Connection.DISCONNECTED):
                    continue
                before = self._states.get(name)
                reason = probes[name].reason if probes and name in probes else None
                connected = connection is Connection.CONNECTED
                if before is not None and before.connected == connected:
                    continue
                change = flip(before, connection)
                changed.append(InstanceState(name, connected, reason, now))
                if change is not None:
                    flips.append((name, change, reason))
            if not changed:
                return []
            told = await self._commit(changed, flips, now)
            self._states.update({state.instance: state for state in changed})
            return told

    async def _commit(
        self,
        changed: list[InstanceState],
        flips: list[tuple[str, Flip, str | None]],
        now: datetime,
    ) -> list[tuple[str, Flip]]:
        """The new states with the alerts of the flips, in one transaction."""
        told: list[tuple[str, Flip]] = []
        builds = []
        for name, change, reason in flips:
            async with self.db.reader() as session:
                last = await repo.last_connected_on(session, name)
            before = self.state(name)
            if (
                change is Flip.RECONNECTED
                and last is not None
                and before is not None
                and last.at >= before.changed_at
            ):
                continue  # a registration connected it: the feed told of it
            if name in self.settings.sandboxes:
                continue  # a sandbox's number never drops: its rehearsals are no team news
            who = None if last is None else (last.user_id, last.number)
            builds.append(self.alerts.flip_alert(name, change, reason, who))
            told.append((name, change))
            logger.warning("Instance %s %s", name, change.value)

        async def save(session: AsyncSession) -> None:
            await repo.save_instance_states(session, changed, checked_at=now)

        await self.alerts.post(builds, save)
        return told
