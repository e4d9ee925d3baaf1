"""Transports: one small interface in front of a WebSocket, so the driver can run on a real socket, a
recording or an in-memory fake alike."""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus

from ..errors import AuthenticationError, RateLimited
from .redact import websockets_logger

__all__ = ["Transport", "TransportClosed", "TransportEnded", "WebSocketTransport"]


class TransportClosed(Exception):
    """The connection ended: the WebSocket close ``code`` and ``reason`` (1006 and "" when it was cut)."""

    def __init__(self, code: int, reason: str, *, clean: bool) -> None:
        super().__init__(f"connection closed (code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason
        self.clean = clean


class TransportEnded(Exception):
    """A finite transport (a recording) has nothing more: observers complete, nothing reconnects."""


class Transport(Protocol):
    """What the driver needs from a connection: open it, send text frames, receive frames, close it."""

    async def connect(self) -> None: ...

    async def send(self, frame: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


class WebSocketTransport:
    """A WebSocket client connection (websockets' asyncio implementation).

    Args:
        url: ``ws://`` or ``wss://`` URL.
        headers: upgrade headers (credentials live here and are never shown in the repr).
        ssl: a custom ``SSLContext`` for ``wss://`` (default: the system's, with verification).
        ping_interval, ping_timeout: keepalive; a connection whose pong is late is closed as dead.
        max_size: the largest frame accepted, in bytes.
        max_queue: received frames buffered before reading from the socket pauses.
        open_timeout: seconds allowed for the TCP, TLS and HTTP upgrade handshakes.
        proxy: ``True`` follows the ``*_proxy`` environment variables, a URL names a proxy, ``None`` goes direct.
        auth_hint: what to check when the server refuses the credentials (ends the error message).

    Raises (from :meth:`connect`): :class:`~streamkit.errors.AuthenticationError` on HTTP 401/403,
    :class:`~streamkit.errors.RateLimited` on HTTP 429; websockets' and the OS's errors otherwise.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        ping_interval: float | None = 30.0,
        ping_timeout: float | None = 20.0,
        max_size: int | None = 16 * 2**20,
        max_queue: int = 64,
        open_timeout: float | None = 10.0,
        proxy: str | Literal[True] | None = True,
        auth_hint: str = "check the credentials",
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._ssl = ssl
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_size = max_size
        self._max_queue = max_queue
        self._open_timeout = open_timeout
        self._proxy = proxy
        self._auth_hint = auth_hint
        self._ws: ClientConnection | None = None

    def __repr__(self) -> str:
        return f"<WebSocketTransport {self.url}>"

    async def connect(self) -> None:
        kwargs: dict[str, Any] = {"ssl": self._ssl} if self._ssl is not None and self.url.startswith("wss:") else {}
        try:
            self._ws = await connect(
                self.url,
                additional_headers=self._headers,
                compression=None,
                max_size=self._max_size,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                open_timeout=self._open_timeout,
                close_timeout=2,
                max_queue=self._max_queue,
                user_agent_header="streamkit",
                proxy=self._proxy,
                logger=websockets_logger(),
                **kwargs,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthenticationError(
                    f"{self.url} refused the credentials (HTTP {status}): {self._auth_hint}"
                ) from None
            if status == 429:
                retry_after = _retry_after(exc.response.headers.get("Retry-After"))
                raise RateLimited(
                    f"{self.url} is rate limiting connections (HTTP 429, Retry-After: {retry_after:g} s)",
                    retry_after=retry_after,
                ) from None
            raise

    async def send(self, frame: str) -> None:
        assert self._ws is not None, "connect() first"
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            raise TransportClosed(1006, "closed while sending", clean=False) from exc

    async def recv(self) -> str | bytes:
        assert self._ws is not None, "connect() first"
        try:
            return await self._ws.recv(decode=False)  # text frames as UTF-8 bytes: orjson reads them as they are
        except ConnectionClosed as exc:
            closing = exc.rcvd if exc.rcvd is not None else exc.sent  # sent: we closed it (1009: frame too big)
            code, reason = (closing.code, closing.reason) if closing is not None else (1006, "")
            raise TransportClosed(code, reason, clean=isinstance(exc, ConnectionClosedOK)) from None

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
