"""Benchmarks for issue 5, against the Telegram and Z-API doubles on loopback.

    python bench/run.py                                # every scenario, on SQLite
    python bench/run.py flows                          # one: startup, flows, burst, timers
    python bench/run.py flows burst --database both    # on SQLite, then on PostgreSQL

Each scenario prints its numbers and the ratio it is judged by, measured in the same run:

- startup: seconds from process start to the first getUpdates, first starts and restarts.
- flows:   30 members on 30 instances, every Z-API call answered after 1 s; the 30 whole flows
           (/register to code confirmed) against one member's flow alone; the median of
           three rounds. Target: ≤ 1.5×. Also what one registration costs in Bot API calls:
           messages, edits, chat actions, and how many keyboards it leaves live.
- burst:   1,000 members send /register at the same moment; p50/p99 latency from the update
           being offered to the bot to its reply, and the per-update cost against a bare
           python-telegram-bot handler that replies with the same question without touching a
           database (bench/bare_bot.py). Target: ≤ 1.3×. Five rounds, alternating, medians. Then
           the bot's resident memory with those 1,000 open conversations. Target: ≤ 100 MB.
- timers:  500 wait timers ending at the same moment (flows seeded in the database, the bot
           started on it); how late each "you can request now" notice is. Target: ≤ 1 s.

The bot runs as a subprocess (`python -m bot`), as in production; the doubles run here. On a
machine with two cores or more, flows and burst keep the doubles on core 0 and the bot on
core 1, so the doubles' own work (thirty members' worth, or a thousand) is not billed to the bot.
The outgoing rate limiter is off in every scenario (TELEGRAM_MAX_MESSAGES_PER_SECOND=0): Telegram's
own limit (about 30 messages a second) would otherwise be what is measured.

--database sqlite (the default), postgresql or both: what the bot runs on. Each bot process gets a
new, empty database: an SQLite file, or a PostgreSQL database `bot_bench_<random>` created on the
server of BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test, whose
user may create databases) and dropped afterwards. With both, every scenario runs on SQLite and
then on PostgreSQL, except the burst: its rounds alternate the bot on each database with the bare
handlers, which open no database and so are the one baseline of both ratios. The PostgreSQL server
is not pinned: it runs on whichever core is free, as a server on the bot's host would; the burst
also reports its CPU per update (when it runs on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from sqlalchemy import update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from bot.storage.models import Registration, WaitTimer, utcnow
from tests.doubles.telegram_api import TelegramDouble, TgUser
from tests.doubles.zapi import ZapiDouble

BOT_TOKEN = "123456:BENCH-bot-token-ABCDEFGHIJKLMNOP"
CLIENT_TOKEN = "bench-client-token-0123456789"
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def instance_names(count: int) -> dict[str, str]:
    return {f"i{n:03d}": f"tok-{n:03d}-bench-token-xxxxxxxx" for n in range(count)}


class BotProcess:
    def __init__(
        self, env: dict[str, str], log: Path, module: str = "bot", *, cpu: int | None = None
    ) -> None:
        self.env = env
        self.log = log
        self.module = module
        self.cpu = cpu
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0

    async def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        if self.cpu is not None:
            _pin(self.process.pid, self.cpu)

    @property
    def cpu_s(self) -> float:
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    @property
    def rss_mb(self) -> float:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    async def stop(self, *, kill: bool = False) -> None:
        """SIGTERM and a clean shutdown, or (`kill`) SIGKILL when only the time matters."""
        if self.process is None or self.process.returncode is not None:
            return
        if kill:
            self.process.kill()
            await self.process.wait()
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def bot_env(
    telegram: TelegramDouble, zapi: ZapiDouble, database: str, members: Sequence[int], **extra: str
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_BASE_URL": telegram.base_url,
        "ZAPI_BASE_URL": zapi.base_url,
        "ZAPI_CLIENT_TOKEN": CLIENT_TOKEN,
        "DATABASE_URL": database,
        "ALLOWED_USER_IDS": ",".join(str(m) for m in members),
        "TELEGRAM_MAX_MESSAGES_PER_SECOND": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


async def first_poll_after(telegram: TelegramDouble, since: float, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        polls = [c for c in telegram.calls_to("getUpdates") if c.timestamp >= since]
        if polls:
            return polls[0].timestamp
        await asyncio.sleep(0.005)
    raise TimeoutError("the bot never polled")


def users(count: int, first_id: int = 10_000) -> list[TgUser]:
    return [TgUser(id=first_id + n, first_name=f"M{n}", language_code="en") for n in range(count)]


def _pin(pid: int, cpu: int) -> None:
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {cpu})


@contextmanager
def doubles_on_their_own_core() -> Iterator[None]:
    """The doubles (this process) on core 0, the bot under test on core 1 (`BotProcess(cpu=1)`):
    in production Telegram and Z-API spend none of the bot's CPU, so here they should not
    either. Only on machines with two cores or more."""
    _pin(0, 0)
    try:
        yield
    finally:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, range(os.cpu_count() or 1))


# -- databases -----------------------------------------------------------------------------


def on(database: str, databases: Sequence[str]) -> str:
    """What a line adds to say which database it is about: nothing on a run on SQLite alone
    (the output it always had)."""
    return "" if list(databases) == ["sqlite"] else f" on {DATABASES[database]}"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_database(database: str, workdir: Path, stem: str) -> AsyncIterator[str]:
    """The URL of a new, empty database: the SQLite file `stem` in `workdir` (created by whoever
    opens it first), or a PostgreSQL database created here and dropped, connections and all, on
    the way out. Either way the bot migrates it when it starts, as on a first deployment."""
    if database == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / f'{stem}.sqlite3'}"
        return
    name = f"bot_bench_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def postgres_server_cpu_s() -> float | None:
    """CPU seconds the PostgreSQL server has spent so far: its processes alive now, plus the
    backends it has reaped (the postmaster's children's times). None when the server is not on
    this machine or its processes cannot be read."""
    if make_url(POSTGRES_URL).host not in ("127.0.0.1", "localhost", "::1"):
        return None
    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
    try:
        backend = await connection.fetchval("SELECT pg_backend_pid()")
        try:
            postmaster = psutil.Process(psutil.Process(backend).ppid())
            return _cpu_with_children(postmaster)
        except psutil.Error:
            return None
    finally:
        await connection.close()


def _cpu_with_children(process: psutil.Process) -> float:
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children():
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue  # reaped meanwhile: counted in the children's times next time
        total += child_times.user + child_times.system
    return float(total)


# -- scenarios -----------------------------------------------------------------------------


async def bench_startup(
    workdir: Path, databases: Sequence[str] = ("sqlite",), starts: int = 3
) -> dict[str, float]:
    """First starts (each creating and migrating a new database) and restarts on a migrated one;
    medians and the slowest. On each of `databases` in turn."""
    results: dict[str, float] = {}
    for database in databases:
        result = await _startups(workdir, database, starts)
        print(
            f"startup{on(database, databases)}: first poll {result['startup_first_s']:.2f} s "
            f"after a first start (migrating a new database), "
            f"{result['startup_restart_s']:.2f} s after a restart (medians of {starts}; slowest "
            f"{result['startup_slowest_s']:.2f} s); target ≤ 2 s"
        )
        results.update(_keyed(result, database))
    return results


def _keyed(result: dict[str, float], database: str) -> dict[str, float]:
    """The figures of one database: SQLite's under their own names, others' suffixed."""
    if database == "sqlite":
        return result
    return {f"{key}_{database}": value for key, value in result.items()}


async def _startups(workdir: Path, database: str, starts: int) -> dict[str, float]:
    instance = instance_names(1)
    firsts: list[float] = []
    restarts: list[float] = []
    async with (
        TelegramDouble(token=BOT_TOKEN) as telegram,
        ZapiDouble(client_token=CLIENT_TOKEN, instances=instance) as zapi,
    ):
        for number in range(starts):
            async with fresh_database(database, workdir, f"startup-{number}") as url:
                env = bot_env(
                    telegram, zapi, url, [1], ZAPI_INSTANCES=f"i000=i000:{instance['i000']}"
                )
                for times in (firsts, restarts):
                    # An update waiting makes the first getUpdates return at once: the double
                    # records a call (with the time it began) only when it returns.
                    telegram.send_text(TgUser(id=1, first_name="M", language_code="en"), "/start")
                    process = BotProcess(env, workdir / "startup.log")
                    await process.start()
                    polled = await first_poll_after(telegram, process.started_at)
                    times.append(polled - process.started_at)
                    await process.stop(kill=True)
    return {
        "startup_first_s": statistics.median(firsts),
        "startup_restart_s": statistics.median(restarts),
        "startup_slowest_s": max(firsts + restarts),
    }


async def _whole_flow(telegram: TelegramDouble, user: TgUser, instance: str, phone: str) -> float:
    started = time.monotonic()

    async def say(text: str) -> str:
        telegram.send_text(user, text)
        return (await telegram.next_reply(user.id, timeout=120)).text or ""

    async def tap(label: str) -> str:
        message_id, data = telegram.button(user.id, label)
        telegram.press(user, message_id, data)
        return (await telegram.next_reply(user.id, timeout=120)).text or ""

    await say("/register")
    await tap(instance)
    await say("55")
    await say(phone)
    await tap("SMS")
    final = await say("123456")
    assert "Connected" in final, final
    return time.monotonic() - started


async def bench_flows(
    workdir: Path,
    databases: Sequence[str] = ("sqlite",),
    count: int = 30,
    delay: float = 1.0,
    rounds: int = 3,
) -> dict[str, float]:
    """One member's whole flow alone, then `count` members' at once; on each of `databases` in
    turn, `rounds` times (a fresh bot process on a fresh database each time); medians."""
    results: dict[str, float] = {}
    for database in databases:
        measured = [await _flows(workdir, database, count, delay) for _ in range(rounds)]
        result = {key: statistics.median(m[key] for m in measured) for key in measured[0]}
        spread = ", ".join(f"{m['flow_ratio']:.2f}" for m in measured)
        print(
            f"flows{on(database, databases)}: one member alone {result['flow_single_s']:.2f} s; "
            f"{count} members at once {result['flow_all_s']:.2f} s (Z-API answering after "
            f"{delay:.0f} s) → ratio {result['flow_ratio']:.2f} (median of {rounds} rounds: "
            f"{spread}); target ≤ 1.5. The bot's CPU: "
            f"{result['flow_single_cpu_s'] * 1000:.0f} ms for one flow, "
            f"{result['flow_all_cpu_s'] * 1000 / count:.0f} ms per flow of the {count}"
        )
        if database == databases[0]:
            print(
                "  one registration (several instances, SMS): "
                f"{result['messages']:.0f} messages, {result['edits']:.0f} edited in place, "
                f"{result['buttons_taken_off']:.0f} keyboards taken off, "
                f"{result['chat_actions']:.0f} chat actions, "
                f"{result['button_answers']:.0f} button answers; "
                f"{result['live_keyboards_left']:.0f} live keyboards left"
            )
        results.update(_keyed(result, database))
    return results


async def _flows(workdir: Path, database: str, count: int, delay: float) -> dict[str, float]:
    instances = instance_names(count)
    members = users(count)
    async with (
        TelegramDouble(token=BOT_TOKEN) as telegram,
        ZapiDouble(client_token=CLIENT_TOKEN, instances=instances) as zapi,
        fresh_database(database, workdir, "flows") as url,
    ):
        zapi.set_delay(delay)
        env = bot_env(
            telegram,
            zapi,
            url,
            [m.id for m in members],
            ZAPI_INSTANCES=",".join(f"{n}={n}:{t}" for n, t in instances.items()),
        )
        process = BotProcess(env, workdir / f"flows-{database}.log", cpu=1)
        await process.start()
        await first_poll_after(telegram, process.started_at)
        names = list(instances)
        cpu = process.cpu_s
        single = await _whole_flow(telegram, members[0], names[0], "44 98888-0000")
        single_cpu, cpu = process.cpu_s - cpu, process.cpu_s
        chat = members[0].id
        api_calls = Counter(c.method for c in telegram.calls if c.ok and c.chat_id == chat)
        live_left = len(telegram.live_keyboards(chat))
        started = time.monotonic()
        await asyncio.gather(
            *(
                _whole_flow(telegram, member, name, f"44 98888-{n + 1:04d}")
                for n, (member, name) in enumerate(zip(members, names, strict=True))
            )
        )
        everyone = time.monotonic() - started
        everyone_cpu = process.cpu_s - cpu
        await process.stop()
    return {
        "flow_single_s": single,
        "flow_all_s": everyone,
        "flow_ratio": everyone / single,
        "flow_single_cpu_s": single_cpu,
        "flow_all_cpu_s": everyone_cpu,
        "messages": api_calls["sendMessage"] + api_calls["sendPhoto"],
        "edits": api_calls["editMessageText"] + api_calls["editMessageCaption"],
        "buttons_taken_off": api_calls["editMessageReplyMarkup"],
        "chat_actions": api_calls["sendChatAction"],
        "button_answers": api_calls["answerCallbackQuery"],
        "live_keyboards_left": live_left,
    }


async def _burst(telegram: TelegramDouble, members: Sequence[TgUser], text: str) -> list[float]:
    """Offer one update per member at once; seconds from offer to each member's reply."""
    chats = {member.id for member in members}
    scanned = len(telegram.calls)
    offered: dict[int, float] = {}
    for member in members:
        telegram.send_text(member, text)
        offered[member.id] = time.monotonic()
    answered: dict[int, float] = {}
    deadline = time.monotonic() + 300
    # One scan of new calls per tick: a waiter per member would cost the doubles' process
    # more than the bots being measured.
    while len(answered) < len(chats):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(answered)} of {len(chats)} members were answered")
        calls = telegram.calls
        for call in calls[scanned:]:
            if call.method == "sendMessage" and call.ok and call.chat_id in chats:
                answered.setdefault(int(call.chat_id), call.timestamp)
        scanned = len(calls)
        await asyncio.sleep(0.01)
    return sorted(answered[chat] - offered[chat] for chat in chats)


def _percentile(values: Sequence[float], fraction: float) -> float:
    index = min(len(values) - 1, max(0, round(fraction * (len(values) - 1))))
    return sorted(values)[index]


# The contenders of the burst: the bot (on each database measured), and python-telegram-bot
# handlers that reply without any state, one with the very message the bot sends for /register
# (the baseline the target is judged against: the difference is the conversation and its
# write-through state), one with a line of plain text (for reference: what the question's
# keyboard itself costs to send). The handlers open no database, so they are the baseline of
# every database's ratio; they are given an SQLite file's URL they never open.
BURST_BASELINES = {
    "bare": ("bench.bare_bot", {"BARE_REPLY": "question"}),
    "plain": ("bench.bare_bot", {"BARE_REPLY": "plain"}),
}
BURST_ROUNDS = 5

# label → (module, extra environment, database)
Contenders = dict[str, tuple[str, dict[str, str], str]]


def bot_label(database: str) -> str:
    return "bot" if database == "sqlite" else f"bot_{database}"


def burst_contenders(databases: Sequence[str]) -> Contenders:
    """The bot on each of `databases`, then the baselines: the order of every round."""
    contenders: Contenders = {bot_label(database): ("bot", {}, database) for database in databases}
    for label, (module, extra) in BURST_BASELINES.items():
        contenders[label] = (module, extra, "sqlite")
    return contenders


async def server_cpu_s(database: str) -> float | None:
    """CPU seconds the database server has spent so far; None for SQLite (it has none: its work
    is the bot's own) or a server whose processes this machine cannot see."""
    return None if database == "sqlite" else await postgres_server_cpu_s()


async def _burst_round(
    telegram: TelegramDouble,
    zapi: ZapiDouble,
    workdir: Path,
    label: str,
    contender: tuple[str, dict[str, str], str],
    members: Sequence[TgUser],
    instances: dict[str, str],
) -> dict[str, Any]:
    module, extra, database = contender
    async with fresh_database(database, workdir, f"burst-{label}-{members[0].id}") as url:
        env = bot_env(
            telegram,
            zapi,
            url,
            [m.id for m in members],
            ZAPI_INSTANCES=",".join(f"{n}={n}:{t}" for n, t in instances.items()),
            **extra,
        )
        process = BotProcess(env, workdir / f"burst-{label}.log", module=module, cpu=1)
        await process.start()
        try:
            return await _measure_burst(telegram, process, database, members)
        finally:
            await process.stop(kill=True)


async def _measure_burst(
    telegram: TelegramDouble, process: BotProcess, database: str, members: Sequence[TgUser]
) -> dict[str, Any]:
    # Warm-up, not counted; its answers also show the bot is polling (a getUpdates call is
    # recorded only when it returns, up to a long-poll timeout later).
    await _burst(telegram, users(20, 80_000), "/start")
    server = await server_cpu_s(database)
    started, cpu = time.monotonic(), process.cpu_s
    latencies = await _burst(telegram, members, "/register")
    wall = time.monotonic() - started
    measured = {
        "latencies": latencies,
        "per_update_ms": wall / len(members) * 1000,
        "cpu_ms": (process.cpu_s - cpu) / len(members) * 1000,
        "rss_mb": process.rss_mb,
        "server_cpu_ms": None,
    }
    server_after = await server_cpu_s(database)
    if server is not None and server_after is not None:
        measured["server_cpu_ms"] = (server_after - server) / len(members) * 1000
    return measured


async def bench_burst(
    workdir: Path, databases: Sequence[str] = ("sqlite",), count: int = 1000
) -> dict[str, float]:
    """Rounds alternate between the contenders (so a slow spell of the machine hits them all);
    each round starts a fresh process on a fresh database; medians over the rounds."""
    contenders = burst_contenders(databases)
    instances = instance_names(2)
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in contenders}
    async with (
        TelegramDouble(token=BOT_TOKEN) as telegram,
        ZapiDouble(client_token=CLIENT_TOKEN, instances=instances) as zapi,
    ):
        for number in range(BURST_ROUNDS):
            members = users(count, first_id=100_000 * (number + 1))
            for label, contender in contenders.items():
                rounds[label].append(
                    await _burst_round(
                        telegram, zapi, workdir, label, contender, members, instances
                    )
                )
    results = _burst_results(rounds)
    print(f"burst: {count} members at once, {BURST_ROUNDS} rounds, all answered every time")
    for database in databases:
        print(_burst_line(results, rounds, bot_label(database), f"bot{on(database, databases)}"))
    print(_burst_line(results, rounds, "bare", "bare PTB handler sending the same question"))
    print(_burst_line(results, rounds, "plain", "bare PTB handler sending one line of text"))
    for database in databases:
        print(_ratio_line(results, rounds, database, on(database, databases)))
    for database in databases:
        print(
            f"memory{on(database, databases)}: "
            f"{results[f'{bot_label(database)}_rss_mb']:.0f} MB resident with {count} open "
            "conversations (the largest of the rounds); target ≤ 100 MB"
        )
    return results


def _burst_results(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Per contender: latency percentiles over every round, medians of the per-round costs, the
    largest memory; per bot: its ratios against the baselines."""
    results: dict[str, float] = {}
    for label, measured in rounds.items():
        latencies = sorted(value for one in measured for value in one["latencies"])
        results[f"{label}_p50_ms"] = _percentile(latencies, 0.5) * 1000
        results[f"{label}_p99_ms"] = _percentile(latencies, 0.99) * 1000
        results[f"{label}_per_update_ms"] = statistics.median(m["per_update_ms"] for m in measured)
        results[f"{label}_cpu_ms"] = statistics.median(m["cpu_ms"] for m in measured)
        results[f"{label}_rss_mb"] = max(m["rss_mb"] for m in measured)
        server = [m["server_cpu_ms"] for m in measured if m["server_cpu_ms"] is not None]
        if server:
            results[f"{label}_server_cpu_ms"] = statistics.median(server)
    for label in rounds:
        if label in BURST_BASELINES:
            continue
        suffix = label.removeprefix("bot")
        per_update = results[f"{label}_per_update_ms"]
        results[f"burst_ratio{suffix}"] = per_update / results["bare_per_update_ms"]
        results[f"burst_ratio_plain{suffix}"] = per_update / results["plain_per_update_ms"]
    return results


def _burst_line(
    results: dict[str, float], rounds: dict[str, list[dict[str, Any]]], label: str, name: str
) -> str:
    cpu = f"{results[f'{label}_cpu_ms']:.2f} ms CPU"
    if f"{label}_server_cpu_ms" in results:
        cpu += f", and the PostgreSQL server's {results[f'{label}_server_cpu_ms']:.2f} ms"
    return (
        f"  {name}: p50 {results[f'{label}_p50_ms']:.0f} ms, p99 "
        f"{results[f'{label}_p99_ms']:.0f} ms, {results[f'{label}_per_update_ms']:.2f} "
        f"ms/update ({cpu}), {max(m['rss_mb'] for m in rounds[label]):.0f} MB"
    )


def _ratio_line(
    results: dict[str, float], rounds: dict[str, list[dict[str, Any]]], database: str, where: str
) -> str:
    label = bot_label(database)
    suffix = label.removeprefix("bot")
    per_round = [
        bot["per_update_ms"] / bare["per_update_ms"]
        for bot, bare in zip(rounds[label], rounds["bare"], strict=True)
    ]
    return (
        f"  → ratio{where} {results[f'burst_ratio{suffix}']:.2f} (rounds {min(per_round):.2f}–"
        f"{max(per_round):.2f}); target ≤ 1.3. Against the plain-text handler: "
        f"{results[f'burst_ratio_plain{suffix}']:.2f}"
    )


async def _seed_waiting_flows(database_url: str, names: Sequence[str], ready_in: float) -> float:
    """Flows at the method step, each with an SMS wait; all waits end `ready_in` s after this
    returns (the deadline, on this process's monotonic clock)."""
    database = Database(database_url)
    await upgrade(database)
    ready_at = utcnow() + timedelta(days=1)  # set for real once every row is written
    async with database.session() as session:
        for n, name in enumerate(names):
            chat_id = 20_000 + n
            phone = f"4497777{n:04d}"
            session.add(
                Registration(
                    chat_id=chat_id,
                    user_id=chat_id,
                    flow_id=f"f{n:07d}",
                    language="en",
                    step="method",
                    instance=name,
                    ddi="55",
                    phone=phone,
                    blocked_methods="",
                    wrong_code_count=0,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
            await repo.acquire_lease(session, name, chat_id, until=utcnow() + timedelta(hours=1))
            session.add(
                WaitTimer(
                    instance=name,
                    ddi="55",
                    phone=phone,
                    method="sms",
                    chat_id=chat_id,
                    ready_at=ready_at,
                    notified=False,
                )
            )
    async with database.session() as session:
        await session.execute(
            update(WaitTimer).values(ready_at=utcnow() + timedelta(seconds=ready_in))
        )
        deadline_monotonic = time.monotonic() + ready_in
    await database.dispose()
    return deadline_monotonic


async def bench_timers(
    workdir: Path, databases: Sequence[str] = ("sqlite",), count: int = 500, ready_in: float = 5.0
) -> dict[str, float]:
    """`count` flows seeded waiting, their waits ending together; on each of `databases` in turn."""
    results: dict[str, float] = {}
    for database in databases:
        result = await _timers(workdir, database, count, ready_in)
        print(
            f"timers{on(database, databases)}: {count} waits ending together; notices late by "
            f"p50 {result['timers_late_p50_s']:.2f} s, max {result['timers_late_max_s']:.2f} s "
            f"(earliest {result['timers_early_min_s']:+.2f} s), "
            f"{result['timers_duplicates']:.0f} duplicates; target ≤ 1 s late"
        )
        results.update(_keyed(result, database))
    return results


async def _timers(workdir: Path, database: str, count: int, ready_in: float) -> dict[str, float]:
    instances = instance_names(count)
    chats = [20_000 + n for n in range(count)]
    async with fresh_database(database, workdir, "timers") as database_url:
        deadline = await _seed_waiting_flows(database_url, list(instances), ready_in)
        async with (
            TelegramDouble(token=BOT_TOKEN) as telegram,
            ZapiDouble(client_token=CLIENT_TOKEN, instances=instances) as zapi,
        ):
            env = bot_env(
                telegram,
                zapi,
                database_url,
                chats,
                ZAPI_INSTANCES=",".join(f"{n}={n}:{t}" for n, t in instances.items()),
                CONVERSATION_TIMEOUT_SECONDS="3600",
            )
            process = BotProcess(env, workdir / f"timers-{database}.log")
            await process.start()
            notices = await _notices(telegram, chats, time.monotonic() + ready_in + 60)
            await process.stop()
    duplicates = sum(len(times) - 1 for times in notices.values())
    lateness = sorted(times[0] - deadline for times in notices.values())
    return {
        "timers_late_max_s": lateness[-1],
        "timers_late_p50_s": _percentile(lateness, 0.5),
        "timers_early_min_s": lateness[0],
        "timers_duplicates": float(duplicates),
    }


async def _notices(
    telegram: TelegramDouble, chats: Sequence[int], stop_at: float
) -> dict[int, list[float]]:
    """When each chat was told "you can request", every time it was; until every chat was told
    and one more second passed without a duplicate."""
    wanted = set(chats)
    notices: dict[int, list[float]] = {}
    scanned = 0
    # One scan of new calls per tick (a waiter per chat would load the doubles' process).
    while len(notices) < len(wanted) or time.monotonic() < min(stop_at, _last(notices) + 1):
        if time.monotonic() > stop_at:
            raise TimeoutError(f"only {len(notices)} of {len(wanted)} chats were told")
        calls = telegram.calls
        for call in calls[scanned:]:
            if (
                call.method == "sendMessage"
                and call.chat_id in wanted
                and "You can request" in (call.text or "")
            ):
                notices.setdefault(int(call.chat_id), []).append(call.timestamp)
        scanned = len(calls)
        await asyncio.sleep(0.01)
    return notices


def _last(notices: dict[int, list[float]]) -> float:
    """When the latest notice arrived (to watch one more second for duplicates)."""
    return max((times[-1] for times in notices.values()), default=float("inf"))


SCENARIOS: dict[str, Any] = {
    "startup": bench_startup,
    "flows": bench_flows,
    "burst": bench_burst,
    "timers": bench_timers,
}


async def main(names: Sequence[str], databases: Sequence[str] = ("sqlite",)) -> None:
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as folder:
        for name in names or list(SCENARIOS):
            if name in ("startup", "timers"):
                # Unpinned: the migration child runs beside the bot at a first start, and the
                # notices' database thread beside the loop, as they do when deployed.
                await SCENARIOS[name](Path(folder), databases)
                continue
            with doubles_on_their_own_core():
                await SCENARIOS[name](Path(folder), databases)


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py", description="Benchmarks against the doubles on loopback."
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="scenario", help=f"any of {', '.join(SCENARIOS)} (all)"
    )
    parser.add_argument(
        "--database",
        choices=[*DATABASES, "both"],
        default="sqlite",
        help="what the bot runs on; both: SQLite, then PostgreSQL (default: sqlite)",
    )
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    arguments.databases = list(DATABASES) if arguments.database == "both" else [arguments.database]
    return arguments


if __name__ == "__main__":
    arguments = parse_arguments(sys.argv[1:])
    asyncio.run(main(arguments.scenarios, arguments.databases))
