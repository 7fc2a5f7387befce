"""`python -m bot [run|migrate|check]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import sys

from bot.config import Settings, SettingsError, load_settings
from bot.logging_setup import setup_logging

__all__ = ["main"]

logger = logging.getLogger("bot")

EXIT_SETTINGS = 2


async def migrate_database(settings: Settings) -> None:
    from bot.storage.database import Database
    from bot.storage.migrate import upgrade

    database = Database(settings.database_url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


def _migrate_and_exit(settings: Settings) -> None:
    try:
        asyncio.run(migrate_database(settings))
    except Exception:
        logger.exception("Could not migrate the database")
        os._exit(1)
    os._exit(0)


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


def migrate_in_child(settings: Settings) -> bool:
    """Apply pending migrations in a forked child, so Alembic never loads into the long-running
    process (it would cost it about 10 MB for good); skipped when the database is at HEAD."""
    import migrations

    if asyncio.run(database_revision(settings)) == migrations.HEAD:
        return True
    if "fork" not in multiprocessing.get_all_start_methods():
        asyncio.run(migrate_database(settings))
        return True
    child = multiprocessing.get_context("fork").Process(
        target=_migrate_and_exit, args=(settings,), name="migrate"
    )
    child.start()
    child.join()
    return child.exitcode == 0


def run(settings: Settings) -> int:
    from telegram import Update

    from bot.app import build_application

    if not migrate_in_child(settings):
        return 1
    application = build_application(settings)
    if settings.webhook_url is not None:
        from bot.webhook import run_webhook

        run_webhook(application, settings)
    else:
        logger.info("Long polling")
        application.run_polling(
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY], drop_pending_updates=False
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Z-API registration bot for Telegram."
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "check"],
        help="run the bot (default), upgrade the database, or check settings and services",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return EXIT_SETTINGS
    setup_logging(settings.log_level, settings.secrets(), json_lines=settings.log_format == "json")
    if args.command == "migrate":
        try:
            asyncio.run(migrate_database(settings))
        except Exception as error:  # the message is what an operator needs, not a traceback
            logger.error("Could not migrate the database: %s", error)
            return 1
        logger.info("Database is at the latest revision")
        return 0
    if args.command == "check":
        from bot.check import run_checks

        return asyncio.run(run_checks(settings))
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
