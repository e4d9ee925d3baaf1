"""Transports: one small interface in front of a WebSocket, so the driver can run on a real socket, a
recording or an in-memory fake alike."""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["Transport", "WebSocketTransport"]


class Transport(Protocol):
    """What the driver needs from a connection: open it, send text frames, receive frames, close it."""

    async def connect(self) -> None: ...

    async def send(self, frame: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


class WebSocketTransport:
    """A WebSocket client connection (websockets' asyncio implementation).

    Args:
        url: ``ws://`` or ``wss://`` URL.
        headers: upgrade headers (credentials live here and are never shown in the repr).
        ssl: a custom ``SSLContext`` for ``wss://`` (default: the system's, with verification).
        ping_interval, ping_timeout: keepalive; a connection whose pong is late is closed as dead.
        max_size: the largest frame accepted, in bytes.
        open_timeout: seconds allowed for the TCP, TLS and HTTP upgrade handshakes.
        proxy: ``True`` follows the ``*_proxy`` environment variables, a URL names a proxy, ``None`` goes direct.
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
        open_timeout: float | None = 10.0,
        proxy: str | Literal[True] | None = True,
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._ssl = ssl
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_size = max_size
        self._open_timeout = open_timeout
        self._proxy = proxy
        self._ws: ClientConnection | None = None

    def __repr__(self) -> str:
        return f"<WebSocketTransport {self.url} {'open' if self._ws else 'closed'}>"

    async def connect(self) -> None:
        kwargs: dict[str, Any] = {"ssl": self._ssl} if self._ssl is not None and self.url.startswith("wss:") else {}
        self._ws = await connect(
            self.url,
            additional_headers=self._headers,
            compression=None,
            max_size=self._max_size,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            open_timeout=self._open_timeout,
            max_queue=64,
            user_agent_header="streamkit",
            proxy=self._proxy,
            **kwargs,
        )

    async def send(self, frame: str) -> None:
        assert self._ws is not None, "connect() first"
        await self._ws.send(frame)

    async def recv(self) -> str | bytes:
        assert self._ws is not None, "connect() first"
        return await self._ws.recv()

    async def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.close()
