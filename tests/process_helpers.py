"""Run `python -m bot` as a real subprocess against the doubles of the test's event loop.

The doubles answer from the test's loop, so the bot is started with
`asyncio.create_subprocess_exec` (never a blocking `subprocess.run`) and its stdout and stderr are
drained by tasks of the same loop, so that a chatty process never blocks on a full pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import settings_env
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.doubles.zapi import ZapiDouble

__all__ = [
    "REPO_ROOT",
    "BotProcess",
    "Chat",
    "Processes",
    "free_port",
    "process_env",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
# Generous: a cold `python -m bot` imports python-telegram-bot, SQLAlchemy and Alembic, and the
# machine may be busy running other tests.
START_TIMEOUT = 60.0
REPLY_TIMEOUT = 30.0


def process_env(
    zapi: ZapiDouble, telegram: TelegramDouble, database_url: str, **overrides: Any
) -> dict[str, str]:
    """The deployment's environment (see `settings_env`) plus what the interpreter needs."""
    env = settings_env(zapi, telegram, database_url, **overrides)
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HOME=os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    # Bytecode is written (to the ignored __pycache__ folders), also where the test run's own
    # environment says not to: the first `python -m bot` of a fresh clone compiles the bot's
    # modules, every later one of the run loads them.
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """One `python -m bot [command]` process; everything it prints is kept in `output`."""

    def __init__(self, env: dict[str, str], cwd: Path, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.cwd = cwd
        self.args = args
        self.process: asyncio.subprocess.Process | None = None
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> BotProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.args,
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            asyncio.create_task(self._drain(self.process.stdout, self._stdout)),
            asyncio.create_task(self._drain(self.process.stderr, self._stderr)),
        ]
        return self

    @staticmethod
    async def _drain(stream: asyncio.StreamReader, sink: bytearray) -> None:
        while chunk := await stream.read(65536):
            sink.extend(chunk)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def stdout(self) -> str:
        return self._stdout.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (
            f"python -m bot {' '.join(self.args)} (pid {self.process and self.process.pid}, "
            f"exit {self.returncode})\n--- stdout ---\n{self.stdout[-4000:]}\n"
            f"--- stderr ---\n{self.stderr[-6000:]}"
        )

    async def wait(self, timeout: float = START_TIMEOUT) -> int:
        """Wait for the process to exit; its return code."""
        assert self.process is not None
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"the process did not exit within {timeout}s\n{self.describe()}"
            ) from None
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def kill(self) -> None:
        """SIGKILL: no chance to save or say anything."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            await self.wait(timeout=30)

    def terminate(self) -> None:
        """SIGTERM, as a platform sends on a deploy or a scale-down."""
        assert self.process is not None and self.running
        self.process.send_signal(signal.SIGTERM)

    async def wait_until(
        self, condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT
    ) -> None:
        """Poll `condition` while the process runs; fail with its output if it exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if not self.running:
                raise AssertionError(
                    f"the process exited while waiting for {what}\n{self.describe()}"
                )
            if loop.time() > deadline:
                raise AssertionError(f"no {what} within {timeout}s\n{self.describe()}")
            await asyncio.sleep(0.05)


class Processes:
    """Starts bot processes for one test and kills whatever is still running at its end."""

    def __init__(self, cwd: Path, zapi: ZapiDouble, telegram: TelegramDouble) -> None:
        self.cwd = cwd
        self.zapi = zapi
        self.telegram = telegram
        self.started: list[BotProcess] = []

    def env(self, database_url: str, **overrides: Any) -> dict[str, str]:
        return process_env(self.zapi, self.telegram, database_url, **overrides)

    async def spawn(self, env: dict[str, str], *args: str) -> BotProcess:
        """Start `python -m bot *args` with exactly `env`; do not wait for anything."""
        process = BotProcess(env, self.cwd, args)
        self.started.append(process)
        return await process.start()

    async def run(
        self, env: dict[str, str], *args: str, timeout: float = START_TIMEOUT
    ) -> BotProcess:
        """Run a command (migrate, check...) to its end."""
        process = await self.spawn(env, *args)
        await process.wait(timeout)
        return process

    async def start_polling(self, database_url: str, **overrides: Any) -> BotProcess:
        """Start the bot in long-polling mode and return once it has started polling.

        A restarted process polls again: readiness is the deleteWebhook call python-telegram-bot
        makes right before its first getUpdates (after post_init restored timers and flows), so
        a new one must be seen.
        """
        before = len(self.telegram.calls_to("deleteWebhook"))
        process = await self.spawn(self.env(database_url, **overrides))
        await process.wait_until(
            lambda: len(self.telegram.calls_to("deleteWebhook")) > before, "start of polling"
        )
        return process

    async def cleanup(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                await process.kill()


class Chat:
    """One member's private chat with the bot, seen from the member's phone."""

    def __init__(self, telegram: TelegramDouble, user: TgUser) -> None:
        self.telegram = telegram
        self.user = user

    async def reply(self, timeout: float = REPLY_TIMEOUT) -> ApiCall:
        return await self.telegram.next_reply(self.user.id, timeout=timeout)

    async def say(self, text: str, timeout: float = REPLY_TIMEOUT) -> ApiCall:
        self.telegram.send_text(self.user, text)
        return await self.reply(timeout)

    def button(self, label: str) -> tuple[int, str]:
        """(message_id, callback_data) of the newest button whose label contains `label`."""
        return self.telegram.button(self.user.id, label)

    async def press(self, button: tuple[int, str], timeout: float = REPLY_TIMEOUT) -> ApiCall:
        """Press a button captured earlier (possibly on a keyboard sent by a previous process)."""
        message_id, data = button
        self.telegram.press(self.user, message_id, data)
        return await self.reply(timeout)

    async def tap(self, label: str, timeout: float = REPLY_TIMEOUT) -> ApiCall:
        return await self.press(self.button(label), timeout)

    def texts(self) -> list[str]:
        """Every text and caption the bot sent to this chat so far."""
        return [
            call.text or ""
            for call in self.telegram.calls
            if call.ok and call.chat_id == self.user.id and call.method != "getUpdates"
        ]
