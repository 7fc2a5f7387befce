"""A strict, in-process HTTP double of the Telegram Bot API (api.telegram.org).

The double is a real aiohttp server on 127.0.0.1.  Point python-telegram-bot at it with
``base_url=double.base_url``; every request is validated against the Bot API spec in
``shared/telegram-bot-api/api.json`` and answered like the real service would.  Tests drive the
conversation from the user's side (``send_text``, ``send_message``, ``press``) and observe what
the bot did (``next_reply``, ``wait_for``, ``bot_messages``, ``violations``...).

Usage::

    async with TelegramDouble(token="123456:TEST-token") as double:
        app = Application.builder().token(double.token).base_url(double.base_url).build()
        ...  # start polling
        await double.wait_polled()
        double.send_text(TgUser(id=1001, first_name="Ana"), "/start")
        reply = await double.next_reply(1001)
        assert double.violations == []

Faults: ``fail_next`` answers the next call(s) of a method with an error (429 with
``retry_after``, 5xx, anything); ``hang_next`` holds the answer back, either after carrying the
call out (Telegram did it, our side never heard) or without doing so.

All public methods must be called from the event loop the double was started on.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html import unescape as html_unescape
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

__all__ = ["ApiCall", "TelegramDouble", "TgUser"]

_T = TypeVar("_T")

DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "telegram-bot-api" / "api.json"
DEFAULT_GROUP_ID = -1001234567890

MESSAGE_TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200

# Fields of InlineKeyboardButton that do not select the button's action.
_BUTTON_DECORATION_FIELDS = frozenset({"text", "icon_custom_emoji_id", "style"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types delivered when allowed_updates is not specified (or empty).
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_VISIBLE_RETURNS = frozenset({"Message", "Array of Message", "MessageId", "Array of MessageId"})
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_PATH_RE = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?")
_ATTACH_RE = re.compile(r"attach://([A-Za-z0-9_.-]+)")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TgUser:
    """A Telegram user that talks to the bot in tests."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def private_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        return chat


@dataclass
class ApiCall:
    """One request the bot made to the double (successful or not)."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    timestamp: float
    result: Any = None
    ok: bool = True
    error_code: int | None = None
    description: str | None = None
    chat_id: int | str | None = None
    """Chat the call concerns (resolved ``chat_id``; for answerCallbackQuery the query's chat)."""
    held: bool = False
    """``hang_next`` held the answer back (the client may never have received it)."""

    @property
    def text(self) -> str | None:
        """The text (or caption) as the member sees it: the returned message's, formatting
        parsed away; else the parameter as sent."""
        message = self.message
        if message is not None:
            shown = message.get("text", message.get("caption"))
            if isinstance(shown, str):
                return shown
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def message(self) -> dict[str, Any] | None:
        """The Message returned by the double, if the call returned one."""
        return (
            self.result if isinstance(self.result, dict) and "message_id" in self.result else None
        )

    @property
    def reply_markup(self) -> Any:
        return self.params.get("reply_markup")

    def summary(self) -> str:
        outcome = "ok" if self.ok else f"{self.error_code} {self.description}"
        if self.held:
            outcome += " (answer held back)"
        text = self.text
        shown = "" if text is None else f" text={text[:80]!r}"
        chat = "" if self.chat_id is None else f" chat={self.chat_id}"
        extra = ""
        if self.method == "answerCallbackQuery":
            extra = f" query={self.params.get('callback_query_id')!r}"
        elif "message_id" in self.params:
            extra = f" message_id={self.params['message_id']}"
        return f"{self.method}{chat}{extra}{shown} -> {outcome}"


# --------------------------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class _Spec:
    version: str
    methods: dict[str, dict[str, _Field]]
    returns: dict[str, tuple[str, ...]]
    types: dict[str, dict[str, _Field]]
    by_lower: dict[str, str]

    def canonical(self, method: str) -> str | None:
        return self.by_lower.get(method.lower())


def _fields(raw: list[dict[str, Any]]) -> dict[str, _Field]:
    return {
        item["name"]: _Field(item["name"], tuple(item["types"]), bool(item["required"]))
        for item in raw
    }


@lru_cache(maxsize=4)
def _load_spec(path: Path) -> _Spec:
    data = json.loads(path.read_text(encoding="utf-8"))
    methods = {name: _fields(item.get("fields", [])) for name, item in data["methods"].items()}
    return _Spec(
        version=str(data.get("version", "")),
        methods=methods,
        returns={name: tuple(item.get("returns", [])) for name, item in data["methods"].items()},
        types={name: _fields(item.get("fields", [])) for name, item in data["types"].items()},
        by_lower={name.lower(): name for name in methods},
    )


# --------------------------------------------------------------------------------------------
# Errors and parameter decoding
# --------------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(
        self,
        description: str,
        *,
        code: int = 400,
        violation: bool = False,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.violation = violation
        self.parameters = parameters


def _bad(message: str, *, violation: bool = True) -> _ApiError:
    return _ApiError(f"Bad Request: {message}", violation=violation)


_NO_VALUE = object()


def _json_or_missing(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return _NO_VALUE


def _coerce_one(value: Any, type_name: str) -> Any:
    """Decode ``value`` as ``type_name``; return _NO_VALUE when it does not fit."""
    if type_name == "String":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return _NO_VALUE
    if type_name == "InputFile":
        return value if isinstance(value, str | bytes) else _NO_VALUE
    if type_name == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value in (0, 1, "0", "1"):
            return str(value) == "1"
        return _NO_VALUE
    decoded = _json_or_missing(value)
    if type_name == "Integer":
        if isinstance(decoded, bool):
            return _NO_VALUE
        if isinstance(decoded, int):
            return decoded
        if isinstance(decoded, float) and decoded.is_integer():
            return int(decoded)
        return _NO_VALUE
    if type_name == "Float":
        ok = isinstance(decoded, int | float) and not isinstance(decoded, bool)
        return decoded if ok else _NO_VALUE
    if type_name.startswith("Array of "):
        return decoded if isinstance(decoded, list) else _NO_VALUE
    return decoded if isinstance(decoded, dict) else _NO_VALUE


def _coerce(value: Any, types: tuple[str, ...]) -> Any:
    # String is tried last so that e.g. chat_id "1001" becomes the integer 1001.
    for type_name in sorted(types, key=lambda name: name == "String"):
        decoded = _coerce_one(value, type_name)
        if decoded is not _NO_VALUE:
            return decoded
    return _NO_VALUE


def _norm_chat(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())


# --------------------------------------------------------------------------------------------
# Formatting (parse_mode) — produces the plain text and entities the real API would store
# --------------------------------------------------------------------------------------------


class _ParseError(Exception):
    pass


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0  # UTF-16 code units, as used by MessageEntity offsets

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += _utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode())


def _entity(kind: str, start: int, end: int, **extra: Any) -> dict[str, Any] | None:
    if end <= start:
        return None
    return {"type": kind, "offset": start, "length": end - start, **extra}


_HTML_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^<>]*)>")
_HTML_ATTR_RE = re.compile(
    r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"""
)
_HTML_SPECIAL_RE = re.compile(r"[<&]")
_HTML_CHAR_RE = re.compile(r"&(?:#(\d+)|#[xX]([0-9A-Fa-f]+)|(lt|gt|amp|quot));")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}


def _html_attrs(text: str) -> dict[str, str]:
    attrs = {
        match.group(1).lower(): html_unescape(next(g for g in match.groups()[1:] if g is not None))
        for match in _HTML_ATTR_RE.finditer(text)
    }
    for bare in re.findall(r"(?:^|\s)([A-Za-z-]+)(?=\s|$)", text):
        attrs.setdefault(bare.lower(), "")
    return attrs


def _parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, str]]] = []
    index = 0
    while index < len(source):
        special = _HTML_SPECIAL_RE.search(source, index)
        stop = special.start() if special else len(source)
        if stop > index:
            out.add(source[index:stop])
            index = stop
            continue
        if source[index] == "&":
            char = _HTML_CHAR_RE.match(source, index)
            if char is None:
                out.add("&")
                index += 1
                continue
            if char.group(3):
                out.add({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[char.group(3)])
            else:
                code = int(char.group(1)) if char.group(1) else int(char.group(2), 16)
                out.add(chr(code) if 0 < code < 0x110000 else "")
            index = char.end()
            continue
        tag = _HTML_TAG_RE.match(source, index)
        offset = _byte_offset(source, index)
        if tag is None:
            raise _ParseError(f'Unsupported start tag "" at byte offset {offset}')
        closing, name, attr_text = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        if closing:
            if not stack:
                raise _ParseError(f'Unexpected end tag "{name}" at byte offset {offset}')
            open_name, start, attrs = stack.pop()
            if open_name != name:
                raise _ParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            made = _html_entity(open_name, attrs, start, out.pos, stack)
            if made is not None:
                entities.append(made)
        else:
            attrs = _html_attrs(attr_text)
            if name not in _HTML_TAGS or (name == "span" and attrs.get("class") != "tg-spoiler"):
                raise _ParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
            stack.append((name, out.pos, attrs))
        index = tag.end()
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text(), entities


def _html_entity(
    name: str,
    attrs: dict[str, str],
    start: int,
    end: int,
    stack: list[tuple[str, int, dict[str, str]]],
) -> dict[str, Any] | None:
    kind = _HTML_TAGS[name]
    if name == "a":
        href = attrs.get("href")
        return None if not href else _entity(kind, start, end, url=href)
    if name == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language.removeprefix("language-")
            return None
    if name == "pre" and attrs.get("language"):
        return _entity(kind, start, end, language=attrs["language"])
    if name == "blockquote" and "expandable" in attrs:
        return _entity("expandable_blockquote", start, end)
    if name == "tg-emoji":
        return _entity(kind, start, end, custom_emoji_id=attrs.get("emoji-id", ""))
    if name == "tg-time":
        extra: dict[str, Any] = {}
        if attrs.get("unix", "").isdigit():
            extra["unix_time"] = int(attrs["unix"])
        if attrs.get("format"):
            extra["date_time_format"] = attrs["format"]
        return _entity(kind, start, end, **extra)
    return _entity(kind, start, end)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}
# The bot formats with HTML only; this double does not model Telegram's two Markdown dialects.
UNMODELLED_PARSE_MODES = ("markdown", "markdownv2")


def _parse_entities(text: str, parse_mode: str) -> tuple[str, list[dict[str, Any]]]:
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode in UNMODELLED_PARSE_MODES:
        raise _ApiError(
            f"parse_mode {parse_mode} is not modelled by this double (the bot uses HTML)",
            violation=True,
        )
    raise _bad(f"unsupported parse_mode {parse_mode!r}")


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like the real API, keeping entity offsets consistent."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    limit = lead + _utf16_len(stripped)
    result = []
    for item in entities:
        start = max(item["offset"], lead)
        end = min(item["offset"] + item["length"], limit)
        if end > start:
            result.append({**item, "offset": start - lead, "length": end - start})
    return stripped, result


def _sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda item: (item["offset"], -item["length"]))


# --------------------------------------------------------------------------------------------
# Fake media
# --------------------------------------------------------------------------------------------

_file_counter = itertools.count(1)


def _file_ids(kind: str) -> dict[str, Any]:
    number = next(_file_counter)
    return {"file_id": f"{kind}-file-{number:06d}", "file_unique_id": f"{kind[:2]}u{number:06d}"}


def _photo_sizes(size_hint: int | None = None) -> list[dict[str, Any]]:
    sizes = []
    for side in (90, 320, 800):
        size = _file_ids("photo")
        size.update(width=side, height=side)
        size["file_size"] = size_hint * side // 800 if size_hint else side * side // 10
        sizes.append(size)
    return sizes


def _fake_media(kind: str) -> dict[str, Any]:
    media = _file_ids(kind)
    if kind == "sticker":
        media.update(
            type="regular", width=512, height=512, is_animated=False, is_video=False, emoji="🙂"
        )
    elif kind == "voice":
        media.update(duration=3, mime_type="audio/ogg", file_size=4096)
    elif kind == "document":
        media.update(file_name="document.pdf", mime_type="application/pdf", file_size=10240)
    elif kind == "audio":
        media.update(duration=30, mime_type="audio/mpeg", file_size=40960)
    elif kind in ("video", "animation"):
        media.update(width=640, height=360, duration=5, file_size=102400)
    elif kind == "video_note":
        media.update(length=240, duration=5, file_size=51200)
    return media


_MEDIA_KINDS = ("animation", "audio", "document", "sticker", "video", "video_note", "voice")


# --------------------------------------------------------------------------------------------
# The double
# --------------------------------------------------------------------------------------------


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Fault:
    method: str
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    chat_id: int | str | None
    hold: float | None = None  # hang_next: seconds the answer is held back
    deliver: bool = False  # hang_next: carry the call out before holding the answer


@dataclass
class _CallbackQuery:
    chat_id: int
    answered: bool = False


_Handler = Callable[[dict[str, Any], dict[str, bytes]], Any]


class TelegramDouble:
    """A fake api.telegram.org.  See the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        spec_path: Path | str | None = None,
        bot_username: str = "test_bot",
        bot_first_name: str = "Test Bot",
        webhook_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
    ) -> None:
        self.token = token
        self.spec = _load_spec(Path(spec_path or DEFAULT_SPEC_PATH).resolve())
        bot_id = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.webhook_attempts = webhook_attempts
        self.webhook_retry_delay = webhook_retry_delay

        self.calls: list[ApiCall] = []
        self.violations: list[str] = []
        # Moments a chat showed more than one bot message with buttons: (chat, message ids).
        # Not a Bot API rule, the bot's own: conftest's `telegram` fixture checks it.
        self.keyboard_overlaps: list[tuple[int, list[int]]] = []
        self.webhook_errors: list[str] = []

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._polled = asyncio.Event()
        self._released = asyncio.Event()  # set by stop(): answers held by hang_next go out

        self._update_ids = itertools.count(1)
        self._pending: list[dict[str, Any]] = []
        self._delivered: set[int] = set()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        self._users: dict[int, TgUser] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = {}
        self._messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._deleted: dict[int, set[int]] = {}
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._callback_ids = itertools.count(1)
        self._descriptions: dict[tuple[str, str], str] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

        self._faults: list[_Fault] = []
        self._results: dict[str, Any] = {}
        self._reply_cursor: dict[int | str, int] = {}
        self._consumed: dict[str, set[int]] = {}
        self.documents: list[tuple[int, bytes]] = []  # (chat, the file's bytes) as sent

        self._handlers: dict[str, _Handler] = {
            "getMe": lambda params, files: dict(self.bot_user),
            "logOut": lambda params, files: True,
            "close": lambda params, files: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "setMyShortDescription": self._set_my_short_description,
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._closing = False
        self._released = asyncio.Event()

    async def stop(self) -> None:
        """Stop serving; answers still held back by ``hang_next`` are released first."""
        self._closing = True
        self._released.set()
        self._notify()
        await self._stop_webhook_delivery()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("TelegramDouble is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # ---------------------------------------------------------------- user side: updates

    def send_text(self, user: TgUser, text: str, **kwargs: Any) -> int:
        """Queue a text message from ``user``; returns its message_id."""
        return self.send_message(user, text, **kwargs)

    def send_message(
        self,
        user: TgUser,
        text: str | None = None,
        *,
        photo: bool = False,
        sticker: bool = False,
        voice: bool = False,
        document: bool = False,
        contact: str | None = None,
        caption: str | None = None,
        chat_type: Literal["private", "group", "supergroup"] = "private",
        chat_id: int | None = None,
        reply_to: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Queue a Message update from ``user``; returns its message_id.

        ``contact`` is a phone number shared as a Contact (as with a request_contact button);
        ``extra`` is merged into the Message object for anything not covered here.
        """
        self._remember_user(user)
        chat = self._incoming_chat(user, chat_type, chat_id)
        content: dict[str, Any] = {}
        if text is not None:
            content["text"] = text
            command = _COMMAND_RE.match(text)
            if command is not None:
                length = _utf16_len(command.group())
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if photo:
            content["photo"] = _photo_sizes()
        for kind, wanted in (("sticker", sticker), ("voice", voice), ("document", document)):
            if wanted:
                content[kind] = _fake_media(kind)
        if contact is not None:
            content["contact"] = {
                "phone_number": contact,
                "first_name": user.first_name,
                "user_id": user.id,
            }
            if user.last_name is not None:
                content["contact"]["last_name"] = user.last_name
        if caption is not None:
            content["caption"] = caption
        content.update(extra or {})
        if not content:
            raise ValueError("send_message needs text or some content (photo=True, ...)")
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]),
            "from": user.to_dict(),
            "chat": chat,
            "date": _now(),
        }
        if reply_to is not None:
            replied = self._messages.get(chat["id"], {}).get(reply_to)
            if replied is None:
                raise AssertionError(f"cannot reply to unknown message {reply_to} in {chat['id']}")
            message["reply_to_message"] = copy.deepcopy(replied)
        message.update(content)
        self._store_message(chat["id"], message)
        self.queue_update({"message": message})
        return int(message["message_id"])

    def edit_text(self, user: TgUser, message_id: int, text: str) -> None:
        """The member edits one of their text messages: queues an `edited_message` update."""
        chat_id = user.id
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message["from"]["id"] != user.id or "text" not in message:
            raise AssertionError(f"{user.id} has no text message {message_id} to edit")
        edited = {**copy.deepcopy(message), "text": text, "edit_date": _now()}
        edited.pop("entities", None)
        self._store_message(chat_id, edited)
        self.queue_update({"edited_message": edited})

    def press(
        self,
        user: TgUser,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        strict: bool = True,
    ) -> str:
        """Queue a CallbackQuery: ``user`` pressed a button of the bot's message.

        With ``strict`` the message must carry a button with this callback_data (as a real client
        can only press buttons that exist).  Returns the callback query id.
        """
        self._remember_user(user)
        chat_key = user.id if chat_id is None else chat_id
        message = self._messages.get(chat_key, {}).get(message_id)
        if message is None:
            raise AssertionError(f"message {message_id} does not exist in chat {chat_key}")
        if strict:
            available = [
                button.get("callback_data")
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for button in row
            ]
            if data not in available:
                raise AssertionError(
                    f"message {message_id} in chat {chat_key} has no button with callback_data "
                    f"{data!r}; available: {available!r}"
                )
        query_id = str(4_000_000_000_000 + next(self._callback_ids))
        self._callback_queries[query_id] = _CallbackQuery(chat_key)
        self.queue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "message": copy.deepcopy(message),
                    "chat_instance": f"{abs(chat_key) * 7 + 1}",
                    "data": data,
                }
            }
        )
        return query_id

    def press_button(self, user: TgUser, text_contains: str, *, chat_id: int | None = None) -> str:
        """Press the newest button whose label contains ``text_contains``."""
        chat_key = user.id if chat_id is None else chat_id
        message_id, data = self.button(chat_key, text_contains)
        return self.press(user, message_id, data, chat_id=chat_key)

    def queue_update(self, payload: dict[str, Any]) -> int:
        """Queue a raw update (``payload`` without update_id); returns the update_id."""
        update_id = next(self._update_ids)
        self._pending.append({"update_id": update_id, **copy.deepcopy(payload)})
        self._notify()
        return update_id

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    @property
    def updates_delivered(self) -> int:
        return len(self._delivered)

    # ---------------------------------------------------------------- fault injection / overrides

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str = "Too Many Requests: retry after 1",
        retry_after: int | None = 1,
        *,
        chat_id: int | str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (optionally to ``chat_id``) fail.

        Any status works: 429 carries ``retry_after`` (unless None), and e.g.
        ``fail_next("sendMessage", 502, "Bad Gateway")`` is a failing Telegram. The calls are
        recorded as failed (``ok=False``; ``next_reply`` skips them) and are not carried out.
        """
        canonical = self._canonical_or_raise(method)
        parameters = {"retry_after": retry_after} if error_code == 429 and retry_after else None
        chat = None if chat_id is None else _norm_chat(chat_id)
        for _ in range(times):
            self._faults.append(_Fault(canonical, error_code, description, parameters, chat))

    def hang_next(
        self,
        method: str,
        seconds: float,
        *,
        chat_id: int | str | None = None,
        times: int = 1,
        deliver: bool = False,
    ) -> None:
        """Hold the answer to the next ``times`` calls of ``method`` back for ``seconds``.

        The calls are validated as always (an invalid call is refused at once and does not use
        the fault). With ``deliver`` each call is carried out and recorded as a successful
        call (``ok``; ``next_reply`` returns it), as Telegram does when the answer is lost on
        the way: only the answer, after ``seconds``, is late. Without ``deliver`` the call is
        not carried out: it is recorded as failed (500 Internal Server Error) and that error
        is the answer after ``seconds``. Either way the call carries ``held=True``. A client
        whose timeout is shorter than ``seconds`` times out; ``stop()`` releases held answers.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        canonical = self._canonical_or_raise(method)
        chat = None if chat_id is None else _norm_chat(chat_id)
        for _ in range(times):
            self._faults.append(
                _Fault(
                    canonical,
                    500,
                    "Internal Server Error",
                    None,
                    chat,
                    hold=seconds,
                    deliver=deliver,
                )
            )

    def set_result(self, method: str, result: Any) -> None:
        """Always answer ``method`` with ``result`` (e.g. for getChat, getChatMember...)."""
        self._results[self._canonical_or_raise(method)] = result

    # ---------------------------------------------------------------- observing the bot

    async def next_reply(
        self,
        chat_id: int | str,
        timeout: float = 10.0,
    ) -> ApiCall:
        """Next successful user-visible call (send*/edit*/...) to ``chat_id`` not yet returned;
        taking a keyboard off a message (editMessageReplyMarkup) is no reply."""
        key = _norm_chat(chat_id)

        def find() -> ApiCall | None:
            end = len(self.calls)
            for index in range(self._reply_cursor.get(key, 0), end):
                call = self.calls[index]
                if (
                    call.ok
                    and call.chat_id == key
                    and self._is_visible(call.method)
                    and call.method != "editMessageReplyMarkup"
                ):
                    self._reply_cursor[key] = index + 1
                    return call
            # Calls are only appended: none up to here is a reply to this chat.
            self._reply_cursor[key] = end
            return None

        return await self._wait_until(find, timeout, f"no reply to chat {chat_id}")

    async def wait_for(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 10.0,
    ) -> ApiCall:
        """First call of ``method`` matching the filters not returned by an earlier wait_for."""
        canonical = self._canonical_or_raise(method)
        consumed = self._consumed.setdefault(canonical, set())
        key = None if chat_id is None else _norm_chat(chat_id)

        def find() -> ApiCall | None:
            for index, call in enumerate(self.calls):
                if index in consumed or call.method != canonical:
                    continue
                if key is not None and call.chat_id != key:
                    continue
                if predicate is not None and not predicate(call):
                    continue
                consumed.add(index)
                return call
            return None

        where = "" if chat_id is None else f" to chat {chat_id}"
        return await self._wait_until(find, timeout, f"no matching {canonical} call{where}")

    async def wait_polled(self, timeout: float = 10.0) -> None:
        """Resolve once some client has called getUpdates."""
        try:
            await asyncio.wait_for(self._polled.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"nobody called getUpdates within {timeout}s\n{self.describe_calls()}"
            ) from None

    def calls_to(self, method: str, chat_id: int | str | None = None) -> list[ApiCall]:
        canonical = self._canonical_or_raise(method)
        key = None if chat_id is None else _norm_chat(chat_id)
        return [
            call
            for call in self.calls
            if call.method == canonical and (key is None or call.chat_id == key)
        ]

    def bot_messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Current state (after edits, minus deletions) of the bot's messages in the chat."""
        messages = self._chat_messages(chat_id).values()
        return [
            {**copy.deepcopy(message), "reply_markup": copy.deepcopy(message.get("reply_markup"))}
            for message in messages
            if message["from"]["id"] == self.bot_user["id"]
        ]

    def live_keyboards(self, chat_id: int | str) -> list[int]:
        """Ids of the bot's messages in the chat that still carry buttons that act (a keyboard
        of links only, such as an alert's "Register again", acts on nothing in the chat)."""
        return [
            int(message["message_id"])
            for message in self.bot_messages(chat_id)
            if any(
                "url" not in button
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for button in row
            )
        ]

    def last_keyboard(self, chat_id: int | str) -> list[list[dict[str, Any]]] | None:
        for message in reversed(self.bot_messages(chat_id)):
            keyboard = (message["reply_markup"] or {}).get("inline_keyboard")
            if keyboard:
                return list(keyboard)
        return None

    def button(self, chat_id: int | str, text_contains: str) -> tuple[int, str]:
        """(message_id, callback_data) of the newest callback button whose text matches."""
        needle = text_contains.lower()
        seen: list[str] = []
        for message in reversed(self.bot_messages(chat_id)):
            for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
                for button in row:
                    seen.append(f"{message['message_id']}: {button.get('text')!r}")
                    if needle in str(button.get("text", "")).lower() and "callback_data" in button:
                        return int(message["message_id"]), str(button["callback_data"])
        raise AssertionError(
            f"no button containing {text_contains!r} in chat {chat_id}; buttons: {seen}"
        )

    def deleted(self, chat_id: int | str) -> set[int]:
        key = self._chat_key(chat_id)
        return set(self._deleted.get(key, set())) if isinstance(key, int) else set()

    def description(self, language_code: str = "", *, short: bool = False) -> str:
        """What the bot set as its (short) description for that language ("" when nothing)."""
        field = "short_description" if short else "description"
        return self._descriptions.get((field, language_code), "")

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def webhook_url(self) -> str | None:
        return None if self._webhook is None else self._webhook.url

    def describe_calls(self, limit: int = 25) -> str:
        recent = [call for call in self.calls if call.method != "getUpdates"][-limit:]
        lines = ["recent calls:"] + [f"  {call.summary()}" for call in recent]
        if not recent:
            lines.append("  (none)")
        if self.violations:
            lines.append("violations:")
            lines.extend(f"  {item}" for item in self.violations)
        return "\n".join(lines)

    # ---------------------------------------------------------------- internals: plumbing

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float | None) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _wait_until(
        self,
        find: Callable[[], _T | None],
        timeout: float,
        failure: str,
    ) -> _T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = find()
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{failure} within {timeout}s\n{self.describe_calls()}")
            await self._wait_change(remaining)

    def _canonical_or_raise(self, method: str) -> str:
        canonical = self.spec.canonical(method)
        if canonical is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return canonical

    def _is_visible(self, method: str) -> bool:
        return bool(_VISIBLE_RETURNS.intersection(self.spec.returns.get(method, ())))

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._notify()

    # ---------------------------------------------------------------- internals: HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        match = _PATH_RE.fullmatch(request.path)
        if match is None:
            return _error_response(404, "Not Found")
        token, raw_method = match.groups()
        method = self.spec.canonical(raw_method) or raw_method
        call = ApiCall(method=method, params={}, files={}, timestamp=started)
        hold: float | None = None
        try:
            raw, call.files = await _read_request(request)
            call.params = raw
            if token != self.token:
                raise _ApiError("Unauthorized", code=401)
            call.params = self._validate(raw_method, raw, call.files)
            call.chat_id = self._call_chat(method, call.params)
            fault = self._take_fault(method, call.chat_id)
            if fault is not None:
                hold, call.held = fault.hold, fault.hold is not None
                if hold is None or not fault.deliver:
                    raise _ApiError(
                        fault.description, code=fault.error_code, parameters=fault.parameters
                    )
            result = await self._dispatch(method, call.params, call.files)
        except _ApiError as error:
            call.ok, call.error_code, call.description = False, error.code, error.description
            if error.violation:
                self.violations.append(f"{method}: {error.description}")
            self._record(call)
            await self._hold(hold)
            return _error_response(error.code, error.description, error.parameters)
        call.result = copy.deepcopy(result)
        # Recorded before the hold: a client that gives up cancels this handler.
        self._record(call)
        await self._hold(hold)
        return web.json_response({"ok": True, "result": result})

    async def _hold(self, seconds: float | None) -> None:
        """Wait ``seconds`` (a hang_next fault), or until ``stop()`` releases held answers."""
        if seconds is None or seconds <= 0 or self._released.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._released.wait()

    def _validate(
        self, raw_method: str, raw: dict[str, Any], files: dict[str, bytes]
    ) -> dict[str, Any]:
        method = self.spec.canonical(raw_method)
        if method is None:
            raise _bad(f"method {raw_method!r} not found")
        fields = self.spec.methods[method]
        references = {
            name
            for value in raw.values()
            for name in _ATTACH_RE.findall(value if isinstance(value, str) else json.dumps(value))
        }
        for name in files:
            if name not in fields and name not in references:
                raise _bad(f"unknown file part {name!r}")
        for name in references:
            if name not in files:
                raise _bad(f"file part {name!r} referenced by attach:// is missing")
        params: dict[str, Any] = {}
        for name, value in raw.items():
            spec_field = fields.get(name)
            if spec_field is None:
                raise _bad(f"unknown parameter {name!r}")
            decoded = _coerce(value, spec_field.types)
            if decoded is _NO_VALUE:
                expected = " or ".join(spec_field.types)
                raise _bad(f"parameter {name!r} must be {expected}, got {value!r}")
            params[name] = decoded
        for spec_field in fields.values():
            if (
                spec_field.required
                and spec_field.name not in params
                and spec_field.name not in files
            ):
                raise _bad(f"required parameter {spec_field.name!r} is missing")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        return params

    def _check_inline_keyboard(self, rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('can\'t parse inline keyboard: field "inline_keyboard" must be an Array')
        known = set(self.spec.types["InlineKeyboardButton"])
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be a String')
                unknown = set(button) - known
                if unknown:
                    raise _bad(f"can't parse inline keyboard button: unknown fields {unknown}")
                actions = [name for name in button if name not in _BUTTON_DECORATION_FIELDS]
                if not actions:
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if len(actions) > 1:
                    raise _bad(
                        "can't parse inline keyboard button: exactly one of the optional fields "
                        f"must be used, got {sorted(actions)}"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise _bad("BUTTON_DATA_INVALID")

    def _call_chat(self, method: str, params: dict[str, Any]) -> int | str | None:
        if method == "answerCallbackQuery":
            query = self._callback_queries.get(str(params.get("callback_query_id")))
            return None if query is None else query.chat_id
        if "chat_id" not in params:
            return None
        return self._chat_key(params["chat_id"])

    def _take_fault(self, method: str, chat_id: int | str | None) -> _Fault | None:
        """The first queued fault (fail_next or hang_next) for this call, removed from the queue."""
        for fault in self._faults:
            if fault.method == method and fault.chat_id in (None, chat_id):
                self._faults.remove(fault)
                return fault
        return None

    async def _dispatch(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if method in self._results:
            return copy.deepcopy(self._results[method])
        if method == "getUpdates":
            return await self._get_updates(params)
        handler = self._handlers.get(method)
        if handler is None:  # valid for Telegram, but nothing the bot calls
            raise _ApiError(f"{method} is not modelled by this double", code=501, violation=True)
        return handler(params, files)

    # ---------------------------------------------------------------- internals: chats/messages

    def _remember_user(self, user: TgUser) -> None:
        self._users[user.id] = user
        self._chats[user.id] = user.private_chat()

    def _incoming_chat(self, user: TgUser, chat_type: str, chat_id: int | None) -> dict[str, Any]:
        if chat_type == "private":
            if chat_id not in (None, user.id):
                raise ValueError("a private chat's id is the user's id")
            return dict(self._chats[user.id])
        group_id = DEFAULT_GROUP_ID if chat_id is None else chat_id
        chat = self._chats.setdefault(
            group_id, {"id": group_id, "type": chat_type, "title": "Test Group"}
        )
        return dict(chat)

    def _chat_key(self, chat_id: Any) -> int | str:
        key = _norm_chat(chat_id)
        if isinstance(key, str) and key.startswith("@"):
            wanted = key[1:].lower()
            for chat in self._chats.values():
                if str(chat.get("username", "")).lower() == wanted:
                    return int(chat["id"])
        return key

    def _chat_messages(self, chat_id: Any) -> dict[int, dict[str, Any]]:
        key = self._chat_key(chat_id)
        return self._messages.get(key, {}) if isinstance(key, int) else {}

    def _chat_for(self, chat_id: Any) -> dict[str, Any]:
        key = self._chat_key(chat_id)
        if isinstance(key, str):
            raise _bad("chat not found", violation=False)
        if key not in self._chats:
            if key > 0:
                self._chats[key] = {"id": key, "type": "private", "first_name": "User"}
            else:
                kind = "supergroup" if str(key).startswith("-100") else "group"
                self._chats[key] = {"id": key, "type": kind, "title": "Group"}
        return dict(self._chats[key])

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store_message(self, chat_id: int, message: dict[str, Any]) -> None:
        self._messages.setdefault(chat_id, {})[int(message["message_id"])] = copy.deepcopy(message)
        if message["from"]["id"] == self.bot_user["id"] and message.get("reply_markup"):
            live = self.live_keyboards(chat_id)
            if len(live) > 1:
                self.keyboard_overlaps.append((chat_id, live))

    def _bot_send(
        self, chat: dict[str, Any], params: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        chat_id = int(chat["id"])
        message: dict[str, Any] = {
            "message_id": 0,
            "from": dict(self.bot_user),
            "chat": chat,
            "date": _now(),
        }
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and "message_id" in reply:
            replied = self._chat_messages(reply.get("chat_id", chat_id)).get(reply["message_id"])
            if replied is not None:
                message["reply_to_message"] = copy.deepcopy(replied)
            elif not reply.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found", violation=False)
        thread = params.get("message_thread_id")
        if thread is not None:
            # Topics exist in forum supergroups only (the double's supergroups all are).
            if chat.get("type") != "supergroup":
                raise _bad("message thread not found", violation=False)
            message["message_thread_id"] = int(thread)
            message["is_topic_message"] = True
        message.update(content)
        markup = _inline_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        if params.get("protect_content"):
            message["has_protected_content"] = True
        message["message_id"] = self._next_message_id(chat_id)
        self._store_message(chat_id, message)
        return message

    def _render(
        self,
        params: dict[str, Any],
        text_key: str,
        entities_key: str,
        *,
        limit: int,
        required: bool,
    ) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get(text_key, ""))
        entities: list[dict[str, Any]] = []
        if entities_key in params:
            entities = list(params[entities_key])
        elif params.get("parse_mode"):
            try:
                text, entities = _parse_entities(text, str(params["parse_mode"]))
            except _ParseError as error:
                raise _bad(f"can't parse entities: {error}") from None
        text, entities = _strip(text, _sort_entities(entities))
        what = "message text" if text_key == "text" else "message caption"
        if required and not text:
            raise _bad(f"{what} is empty")
        if len(text) > limit:
            raise _bad(f"{what} is too long")
        return text, entities

    def _text_content(self, params: dict[str, Any]) -> dict[str, Any]:
        text, entities = self._render(
            params, "text", "entities", limit=MESSAGE_TEXT_LIMIT, required=True
        )
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return content

    def _caption_content(self, params: dict[str, Any]) -> dict[str, Any]:
        caption, entities = self._render(
            params, "caption", "caption_entities", limit=CAPTION_LIMIT, required=False
        )
        content: dict[str, Any] = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        if params.get("show_caption_above_media"):
            content["show_caption_above_media"] = True
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return content

    def _target_message(
        self, params: dict[str, Any], action: Literal["edit", "delete"]
    ) -> tuple[int, dict[str, Any]]:
        if "chat_id" not in params or "message_id" not in params:
            raise _bad("message identifier is not specified")
        chat_id = int(self._chat_for(params["chat_id"])["id"])
        message = self._messages.get(chat_id, {}).get(params["message_id"])
        if message is None:
            raise _bad(f"message to {action} not found", violation=False)
        if action == "edit" and message["from"]["id"] != self.bot_user["id"]:
            raise _bad("message can't be edited", violation=False)
        return chat_id, message

    def _replace_message(
        self, chat_id: int, old: dict[str, Any], changes: dict[str, Any], drop: tuple[str, ...]
    ) -> dict[str, Any]:
        new = {key: value for key, value in old.items() if key not in drop}
        new.update(changes)
        new["edit_date"] = _now()
        self._store_message(chat_id, new)
        return copy.deepcopy(new)

    # ---------------------------------------------------------------- method handlers

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise _ApiError(
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
                code=409,
            )
        self._polled.set()
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a poll already waiting gets terminated (see below)
        offset = params.get("offset")
        if isinstance(offset, int):
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [item for item in self._pending if item["update_id"] >= offset]
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"]) or None
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(int(params.get("timeout", 0)), 0)
        while True:
            if generation != self._poll_generation:
                raise _ApiError(
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                    code=409,
                )
            self._drop_unwanted(self._allowed_updates)
            remaining = deadline - loop.time()
            if self._pending or self._closing or remaining <= 0:
                break
            await self._wait_change(remaining)
        batch = copy.deepcopy(self._pending[:limit])
        self._delivered.update(item["update_id"] for item in batch)
        return batch

    def _drop_unwanted(self, allowed: list[str] | None) -> None:
        def wanted(update: dict[str, Any]) -> bool:
            kind = next(key for key in update if key != "update_id")
            return kind in allowed if allowed else kind not in _DEFAULT_EXCLUDED_UPDATES

        self._pending = [update for update in self._pending if wanted(update)]

    def _set_webhook(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        url = str(params["url"])
        if not url:
            return self._delete_webhook(params, files)
        parts = urlsplit(url)
        # The real API demands https on ports 443/80/88/8443; plain http is allowed for tests.
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad("bad webhook: invalid URL")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._stop_webhook_task()
        self._webhook = _Webhook(
            url=url,
            secret_token=secret,
            allowed_updates=params.get("allowed_updates") or None,
            max_connections=int(params.get("max_connections", 40)),
        )
        self._webhook_task = asyncio.create_task(self._deliver_webhook(self._webhook))
        return True

    def _delete_webhook(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        self._stop_webhook_task()
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._notify()
        return True

    def _get_webhook_info(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        hook = self._webhook
        if hook is not None:
            info.update(url=hook.url, max_connections=hook.max_connections)
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    def _stop_webhook_task(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None

    async def _stop_webhook_delivery(self) -> None:
        task = self._webhook_task
        self._stop_webhook_task()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_webhook(self, hook: _Webhook) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while not self._closing:
                self._drop_unwanted(hook.allowed_updates)
                if not self._pending:
                    await self._wait_change(None)
                    continue
                update = self._pending[0]
                delivered = await self._post_update(session, hook, update)
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                if delivered:
                    self._delivered.add(update["update_id"])
                self._notify()

    async def _post_update(
        self, session: aiohttp.ClientSession, hook: _Webhook, update: dict[str, Any]
    ) -> bool:
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        body = json.dumps(update)
        for attempt in range(self.webhook_attempts):
            try:
                async with session.post(hook.url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300:
                        return True
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {type(exc).__name__}: {exc}"
            hook.last_error_date, hook.last_error_message = _now(), error
            self.webhook_errors.append(f"update {update['update_id']}: {error}")
            await asyncio.sleep(self.webhook_retry_delay * 2**attempt)
        return False

    def _send_message(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._chat_for(params["chat_id"])
        return self._bot_send(chat, params, self._text_content(params))

    @staticmethod
    def _uploaded(params: dict[str, Any], files: dict[str, bytes], field: str) -> bytes | None:
        """The file sent as `field`: attached (multipart, or `attach://name`); None when the
        parameter names a file id or URL instead."""
        value, upload = params.get(field), files.get(field)
        if isinstance(value, str):
            attached = _ATTACH_RE.fullmatch(value)
            if attached is not None:
                upload = files.get(attached.group(1))
                if upload is None:
                    raise _bad(f"there is no {field} in the request")
            elif not value.strip():
                raise _bad("wrong file identifier/HTTP URL specified")
        return upload

    def _send_document(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._chat_for(params["chat_id"])
        upload = self._uploaded(params, files, "document")
        if upload is None:
            raise _bad("there is no document in the request")
        if not upload:
            raise _bad("file must be non-empty")
        self.documents.append((int(chat["id"]), upload))
        content: dict[str, Any] = {
            "document": {
                "file_id": f"doc-{len(self.documents)}",
                "file_unique_id": f"udoc-{len(self.documents)}",
                "file_size": len(upload),
            }
        }
        content.update(self._caption_content(params))
        return self._bot_send(chat, params, content)

    def _send_photo(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._chat_for(params["chat_id"])
        upload = self._uploaded(params, files, "photo")
        content = {"photo": _photo_sizes(len(upload) if upload else None)}
        content.update(self._caption_content(params))
        return self._bot_send(chat, params, content)

    def _send_chat_action(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        self._chat_for(params["chat_id"])
        if params["action"] not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _answer_callback_query(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        if len(str(params.get("text", ""))) > CALLBACK_ANSWER_LIMIT:
            raise _bad("MESSAGE_TOO_LONG")
        query = self._callback_queries.get(str(params["callback_query_id"]))
        if query is None or query.answered:
            raise _bad(
                "query is too old and response timeout expired or query ID is invalid",
                violation=False,
            )
        query.answered = True
        return True

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if "inline_message_id" in params:
            self._text_content(params)
            return True
        chat_id, message = self._target_message(params, "edit")
        content = self._text_content(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit", violation=False)
        markup = _inline_markup(params.get("reply_markup"))
        unchanged = (
            content["text"] == message["text"]
            and content.get("entities", []) == message.get("entities", [])
            and markup == message.get("reply_markup")
        )
        if unchanged:
            raise _ApiError(_NOT_MODIFIED)
        if markup is not None:
            content["reply_markup"] = markup
        return self._replace_message(
            chat_id, message, content, drop=("entities", "reply_markup", "link_preview_options")
        )

    def _edit_message_caption(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if "inline_message_id" in params:
            return True
        chat_id, message = self._target_message(params, "edit")
        if "text" in message:
            raise _bad("there is no caption in the message to edit", violation=False)
        content = self._caption_content(params)
        markup = _inline_markup(params.get("reply_markup"))
        unchanged = (
            content.get("caption") == message.get("caption")
            and content.get("caption_entities") == message.get("caption_entities")
            and markup == message.get("reply_markup")
        )
        if unchanged:
            raise _ApiError(_NOT_MODIFIED)
        if markup is not None:
            content["reply_markup"] = markup
        return self._replace_message(
            chat_id, message, content, drop=("caption", "caption_entities", "reply_markup")
        )

    def _edit_message_reply_markup(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if "inline_message_id" in params:
            return True
        chat_id, message = self._target_message(params, "edit")
        markup = _inline_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise _ApiError(_NOT_MODIFIED)
        changes = {} if markup is None else {"reply_markup": markup}
        return self._replace_message(chat_id, message, changes, drop=("reply_markup",))

    def _delete_message(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        chat_id, message = self._target_message(params, "delete")
        del self._messages[chat_id][int(message["message_id"])]
        self._deleted.setdefault(chat_id, set()).add(int(message["message_id"]))
        return True

    def _delete_messages(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        chat_id = int(self._chat_for(params["chat_id"])["id"])
        message_ids = params["message_ids"]
        if not 1 <= len(message_ids) <= 100:
            raise _bad("message_ids must contain 1-100 identifiers")
        messages = self._messages.get(chat_id, {})
        for message_id in message_ids:
            if messages.pop(message_id, None) is not None:
                self._deleted.setdefault(chat_id, set()).add(int(message_id))
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _set_my_commands(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        commands = params["commands"]
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not _BOT_COMMAND_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": item["command"], "description": item["description"]} for item in commands
        ]
        return True

    def _get_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> list[dict[str, Any]]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    def _set_my_description(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return self._describe("description", params, limit=512)

    def _set_my_short_description(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return self._describe("short_description", params, limit=120)

    def _describe(self, field: str, params: dict[str, Any], *, limit: int) -> bool:
        text = params.get(field) or ""
        if len(text) > limit:
            raise _bad(f"{field.upper()}_TOO_LONG", violation=False)
        self._descriptions[(field, str(params.get("language_code") or ""))] = text
        return True

    def _delete_my_commands(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        self._commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    """The reply_markup a Message carries: only non-empty inline keyboards are echoed."""
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return {"inline_keyboard": copy.deepcopy(markup["inline_keyboard"])}
    return None


def _error_response(
    code: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


async def _read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if not request.can_read_body:
        return params, files
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise _bad("JSON request body must be an object")
        params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            elif isinstance(value, bytes):
                files[name] = value
            else:
                params[name] = value
    else:
        raise _bad(f"unsupported Content-Type {content_type!r}")
    return params, files
