"""httpx's transport on aiohttp: the Z-API client keeps httpx's API, its requests travel through
one pooled aiohttp session.

Why: httpx's own transport (httpcore on anyio) costs far more CPU per call, and more the more
calls are in flight at once: on the project's 2-core machine, 30 calls at a time to a server on
loopback took about 3.5-4.5 ms of CPU per call through httpcore and 0.85 ms through aiohttp
(server included). With thirty members registering at once the Z-API calls were the largest
share of the bot's CPU.

aiohttp's errors become httpx's through one table, so the client's reading of them (was the
request sent? may it be tried again?) stays the one httpx documents::

    aiohttp.ConnectionTimeoutError   → httpx.ConnectTimeout   nothing sent (no connection, or
                                                               none free in the pool in time)
    aiohttp.ClientConnectorError     → httpx.ConnectError     nothing sent
    aiohttp.SocketTimeoutError       → httpx.ReadTimeout      sent, no answer in time
    aiohttp.ServerDisconnectedError  → httpx.RemoteProtocolError
    aiohttp.ClientPayloadError       → httpx.ReadError        sent, the answer cut off
    aiohttp.ClientOSError            → httpx.ReadError        sent, the connection failed
    aiohttp.ClientError, others      → httpx.NetworkError

The messages name only aiohttp's exception class: aiohttp's own texts can carry the URL, and a
Z-API URL carries the instance's token.
"""

from __future__ import annotations

import functools
import ssl
from typing import Final

import aiohttp
import httpx

__all__ = ["AiohttpTransport"]

_ERRORS: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (TimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientError, httpx.NetworkError),
)


def _httpx_error(error: BaseException) -> type[httpx.TransportError] | None:
    for foreign, ours in _ERRORS:
        if isinstance(error, foreign):
            return ours
    return None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs about 30 ms of CPU each time."""
    return httpx.create_ssl_context()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (opened at the first request, in the running loop) with at most
    `max_connections` connections. Proxies come from the environment (`HTTPS_PROXY`,
    `NO_PROXY`…), as httpx's own transport would take them."""

    def __init__(
        self, max_connections: int = 100, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._max_connections = max_connections
        self._ssl = ssl_context or _tls_context()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl),
                # httpx decodes the body by its Content-Encoding, as with its own transport.
                auto_decompress=False,
                trust_env=True,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        phases = request.extensions.get("timeout", {})
        connect, pool = phases.get("connect"), phases.get("pool")
        timeout = aiohttp.ClientTimeout(
            total=None,
            # aiohttp's `connect` includes the wait for a free connection, as httpx's pool
            # timeout does.
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=phases.get("read"),
        )
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
        ]
        body = await request.aread()
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                content = await response.read()
                return httpx.Response(
                    response.status,
                    headers=list(response.raw_headers),
                    content=content,
                    request=request,
                )
        except Exception as error:
            ours = _httpx_error(error)
            if ours is None:
                raise
            raise ours(f"aiohttp.{type(error).__name__}", request=request) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
