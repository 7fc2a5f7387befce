"""`python -m bot check`: settings, bot token, each Z-API instance and the database, as a table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.config import Settings
from bot.storage.database import Database
from bot.storage.migrate import current_revision, head_revision
from bot.zapi import ZapiAuthError, ZapiClient, ZapiError

__all__ = ["CheckResult", "run_checks"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


async def _check_bot(settings: Settings) -> CheckResult:
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_base_url)
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken:
        return CheckResult("Telegram bot token", False, "refused by Telegram (check BotFather)")
    except TelegramError as error:
        return CheckResult("Telegram bot token", False, f"{type(error).__name__}")
    return CheckResult("Telegram bot token", True, f"@{me.username}")


async def _check_instances(settings: Settings) -> list[CheckResult]:
    results = []
    async with ZapiClient(
        str(settings.zapi_base_url),
        settings.zapi_client_token,
        timeout=settings.zapi_timeout_seconds,
    ) as zapi:
        for instance in settings.instances:
            name = f"Z-API instance {instance.name}"
            try:
                status = await zapi.status(instance)
            except ZapiAuthError:
                results.append(
                    CheckResult(name, False, "credentials refused (Client-Token or token)")
                )
                continue
            except ZapiError as error:
                results.append(CheckResult(name, False, f"unreachable ({type(error).__name__})"))
                continue
            state = "connected (already holds a number)" if status.connected else "not connected"
            results.append(CheckResult(name, True, f"reachable, credentials valid, {state}"))
    return results


async def _check_database(settings: Settings) -> CheckResult:
    database = Database(settings.database_url)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current, head = await current_revision(database), head_revision()
    except Exception as error:  # any failure to reach the database is the finding
        return CheckResult("Database", False, f"unreachable ({type(error).__name__})")
    finally:
        await database.dispose()
    if current != head:
        return CheckResult(
            "Database", False, f"at revision {current or 'none'}, head is {head}: run migrate"
        )
    return CheckResult("Database", True, f"reachable, migrations at head ({head})")


def format_table(results: list[CheckResult]) -> str:
    width = max(len(result.name) for result in results)
    lines = [f"{'check'.ljust(width)}  status  detail", f"{'-' * width}  ------  ------"]
    lines += [
        f"{result.name.ljust(width)}  {'ok' if result.ok else 'FAIL':6}  {result.detail}"
        for result in results
    ]
    return "\n".join(lines)


async def run_checks(settings: Settings) -> int:
    results = [CheckResult("Settings", True, f"{len(settings.instances)} instance(s)")]
    results.append(await _check_bot(settings))
    results += await _check_instances(settings)
    results.append(await _check_database(settings))
    print(format_table(results))
    return 0 if all(result.ok for result in results) else 1
