"""`python -m bot [run|migrate|check]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import multiprocessing.process
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
        asyncio.run(migrate_database(settings))
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


def run(settings: Settings) -> int:
    migration = start_migration(settings)

    from telegram import Update

    from bot.app import build_application

    application = build_application(settings)
    if not migrated(migration):
        return 1
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
