"""The baseline for the burst benchmark: python-telegram-bot replying to every message, no state.

It uses the bot's own HTTP layer (bot/telegram_request.py) and concurrency settings, and with
BARE_REPLY=question it sends the very message the bot answers /register with (the first step's
question and its instance keyboard), so the ratio measures what the conversation and its
write-through state cost, nothing else. BARE_REPLY=plain sends one line of text instead.
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.concurrency import MAX_CONCURRENT_UPDATES
from bot.telegram_request import AiohttpRequest

QUESTION = "<b>Step 1/5 · Instance</b>\nWhich instance should the number go on?"  # as HTML
PLAIN = "Which instance?"


def question_keyboard(flow_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("i000", callback_data=f"{flow_id}:i:0")],
            [InlineKeyboardButton("i001", callback_data=f"{flow_id}:i:1")],
            [InlineKeyboardButton("✖ Cancel", callback_data=f"{flow_id}:x:")],
        ]
    )


async def reply_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    keyboard = question_keyboard(os.urandom(4).hex())
    await context.bot.send_message(
        update.effective_chat.id, QUESTION, reply_markup=keyboard, parse_mode=ParseMode.HTML
    )


async def reply_plain(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, PLAIN)


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
        .request(AiohttpRequest(connection_pool_size=256, pool_timeout=30))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .build()
    )
    reply = reply_plain if os.environ.get("BARE_REPLY") == "plain" else reply_question
    application.add_handler(MessageHandler(filters.ALL, reply))
    application.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY])


if __name__ == "__main__":
    main()
