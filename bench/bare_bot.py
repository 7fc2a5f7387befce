"""The baseline for the burst benchmark: python-telegram-bot replying to every message, no state.

It uses the bot's own HTTP layer (bot/telegram_request.py) and concurrency settings, so the ratio
measures what the conversation and its write-through state cost, nothing else.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.telegram_request import AiohttpRequest


async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, "Which instance?")


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(512)
        .request(AiohttpRequest(connection_pool_size=256, pool_timeout=30))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, reply))
    application.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY])


if __name__ == "__main__":
    main()
