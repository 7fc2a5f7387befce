"""python-telegram-bot's HTTP layer on aiohttp, through PTB's own `BaseRequest` extension point.

Why not PTB's default (httpx): every update costs the bot two or three Bot API calls, and with
many members at once their CPU is the bottleneck. On the project's 2-core machine, 500
sendMessage calls (eight at a time, to the Telegram double) took about 2.8 ms of CPU each with
httpx and 0.5 ms with aiohttp. The Z-API client's requests travel on aiohttp too
(`bot/zapi/transport.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]


def _given(value: object, default: float | None) -> float | None:
    """A timeout PTB passed (seconds, or None: no limit), or `default` when it passed none.
    PTB's "not given" marker is `BaseRequest.DEFAULT_NONE` (its type is private)."""
    if value is BaseRequest.DEFAULT_NONE or not isinstance(value, int | float | None):
        return default
    return None if value is None else float(value)


class AiohttpRequest(BaseRequest):
    """One pooled aiohttp session; timeouts as PTB's `HTTPXRequest` (seconds, None = none)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        on_answer: Callable[[str, int | str], None] | None = None,
    ) -> None:
        """`on_answer(url, answer)`: told of each request's HTTP status, or of "timeout" or
        "network" when it got none (the URL carries the bot token: only its method is kept)."""
        self._on_answer = on_answer
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _proxy_for(self, url: str) -> str | None:
        """HTTPS_PROXY / HTTP_PROXY / NO_PROXY for `url`'s scheme and host, as httpx honours
        them: read once per host (aiohttp's own `trust_env` reads them on every request)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = bool(proxy_bypass(key[1])) if key[1] else True
            self._proxies[key] = None if bypass else getproxies().get(key[0])
        return self._proxies[key]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if uploads else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        # aiohttp has no write timeout of its own: sending the request counts against `total`.
        parts = [read, write, connect, pool]
        total = None if any(part is None for part in parts) else sum(filter(None, parts))
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            if uploads:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters
        proxy = self._proxy_for(url)
        try:
            async with self._session.request(
                method, url, data=data, timeout=timeout, proxy=proxy
            ) as response:
                answer = response.status, await response.read()
        except TimeoutError as error:
            self._answered(url, "timeout")
            raise TimedOut from error
        except aiohttp.ClientError as error:
            self._answered(url, "network")
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        self._answered(url, answer[0])
        return answer

    def _answered(self, url: str, answer: int | str) -> None:
        if self._on_answer is not None:
            self._on_answer(url, answer)
