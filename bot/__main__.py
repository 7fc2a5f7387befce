"""`python -m bot [run|migrate|check|zapi-webhooks]`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.process
import os
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bot import __version__
from bot.config import (
    DatabaseSettings,
    Settings,
    SettingsError,
    load_database_settings,
    load_settings,
)
from bot.logging_setup import setup_logging

if TYPE_CHECKING:  # python-telegram-bot is imported once the migration child is forked
    from telegram.error import TelegramError

    from bot.app import BotApplication

__all__ = ["main"]

logger = logging.getLogger("bot")

EXIT_SETTINGS = 2


async def migrate_database(settings: DatabaseSettings) -> None:
    from bot.storage.database import Database
    from bot.storage.migrate import upgrade

    database = Database(settings.database_url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


def _migrate(settings: DatabaseSettings) -> bool:
    """Upgrade the database; on failure, one line saying why (not a traceback) and False."""
    try:
        asyncio.run(migrate_database(settings))
    except OSError as error:  # refused, no route, unknown host, timed out
        url = make_url(settings.database_url)
        where = f"{url.host}:{url.port or 5432}" if url.host else str(url.database)
        logger.error(
            "Could not migrate the database: %s is unreachable (%s); check DATABASE_URL",
            where,
            type(error).__name__,
        )
        return False
    except Exception as error:
        logger.error("Could not migrate the database: %s", _first_line(error))
        return False
    return True


def _first_line(error: BaseException) -> str:
    # SQLAlchemy adds the statement and a link on further lines.
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _migrate_and_exit(settings: Settings) -> None:
    os._exit(0 if _migrate(settings) else 1)


async def database_revision(settings: Settings) -> str | None:
    from sqlalchemy import text

    from bot.storage.database import Database

    database = Database(settings.database_url)
    try:
        async with database.engine.connect() as connection:
            return (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except Exception:  # no database or no table yet: migrations will create them
        return None
    finally:
        await database.dispose()


def start_migration(settings: Settings) -> multiprocessing.process.BaseProcess | None:
    """Apply pending migrations in a forked child, so Alembic never loads into the long-running
    process (it would cost it about 10 MB for good); None when the database is at HEAD.

    The child runs while this process goes on loading the bot, so on a machine with two cores a
    first start takes little longer than a restart; `migrated` waits for it.
    """
    import migrations

    if asyncio.run(database_revision(settings)) == migrations.HEAD:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        if not _migrate(settings):
            raise SystemExit(1)
        return None
    child = multiprocessing.get_context("fork").Process(
        target=_migrate_and_exit, args=(settings,), name="migrate"
    )
    child.start()
    return child


def migrated(child: multiprocessing.process.BaseProcess | None) -> bool:
    if child is None:
        return True
    child.join()
    return child.exitcode == 0


async def connect_to_telegram(application: BotApplication) -> None:
    """`application.initialize()`, which asks Telegram who the bot is (getMe). When that fails,
    the Bot API sessions it opened and the services are closed: nothing is left for Python to
    complain about ("Unclosed client session") on the way out."""
    from bot.app import services_of

    try:
        await application.initialize()
    except BaseException:
        await application.bot.shutdown()
        services = services_of(application)
        await services.zapi.aclose()
        await services.database.dispose()
        raise


def telegram_failure(error: TelegramError, base_url: str) -> str:
    """One line for the operator. Never `str(error)` of an InvalidToken: it quotes the token."""
    from telegram.error import BadRequest, InvalidToken, NetworkError

    if not base_url.endswith("/bot"):
        return (
            f"Telegram did not accept the bot's calls: TELEGRAM_BASE_URL {base_url!r} looks "
            "wrong: it must end with /bot, e.g. https://api.telegram.org/bot"
        )
    if isinstance(error, InvalidToken):
        return (
            "Telegram refused the bot token (getMe answered Unauthorized or Not Found): check "
            "TELEGRAM_BOT_TOKEN, the token BotFather gave you"
        )
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):  # TimedOut too
        host = urlsplit(base_url).netloc.rpartition("@")[2]
        return f"Could not reach Telegram at {host} ({error.message})"
    return f"Telegram refused to start the bot: {error.message}"


def run(settings: Settings) -> int:
    migration = start_migration(settings)

    from telegram.error import TelegramError

    from bot.app import build_application
    from bot.conversation.updates import ALLOWED_UPDATES

    application = build_application(settings)
    if not migrated(migration):
        return 1
    # One event loop for the whole run: the sessions the getMe check opens serve the polling
    # (python-telegram-bot runs on the current loop) or the webhook server.
    with asyncio.Runner() as runner:
        try:
            runner.run(connect_to_telegram(application))
            # What start-up built (modules, mappers, catalogs, the application) lives as long
            # as the process: kept out of the collector's scans, which a burst of updates
            # otherwise makes walk all of it again and again.
            gc.collect()
            gc.freeze()
            if settings.webhook_url is not None:
                from bot.webhook import serve_webhook

                runner.run(serve_webhook(application, settings))
            else:
                health = None
                if settings.health_port is not None:
                    from bot.webhook import start_health_server

                    health = start_health_server(application, settings.health_port)
                    logger.info(
                        "Health check on port %s (GET /healthz, /metrics)", settings.health_port
                    )
                logger.info("Long polling")
                try:
                    application.run_polling(
                        allowed_updates=ALLOWED_UPDATES,
                        drop_pending_updates=False,
                        close_loop=False,
                    )
                finally:
                    if health is not None:
                        health.stop()
        except TelegramError as error:
            logger.error("%s", telegram_failure(error, settings.telegram_base_url))
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Z-API registration bot for Telegram."
    )
    parser.add_argument(
        "--version", action="version", version=f"zapi-registration-bot {__version__}"
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "check", "zapi-webhooks"],
        help=(
            "run the bot (default), upgrade the database, check settings and services, or "
            "point every instance's Z-API connection webhooks at this bot"
        ),
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":  # a release phase may have nothing but DATABASE_URL
        try:
            database = load_database_settings()
        except SettingsError as error:
            print(error, file=sys.stderr)
            return EXIT_SETTINGS
        setup_logging(
            database.log_level, database.secrets(), json_lines=database.log_format == "json"
        )
        if not _migrate(database):
            return 1
        logger.info("Database is at the latest revision")
        return 0
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return EXIT_SETTINGS
    setup_logging(settings.log_level, settings.secrets(), json_lines=settings.log_format == "json")
    if args.command == "zapi-webhooks":
        from bot.zapi_webhooks import set_zapi_webhooks

        return asyncio.run(set_zapi_webhooks(settings))
    if args.command == "check":
        from bot.check import run_checks

        return asyncio.run(run_checks(settings))
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
