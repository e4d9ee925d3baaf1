"""Transports: one small interface in front of a connection, so that the one receive loop runs on a real
WebSocket, a recording or an in-memory fake alike (as httpx's transports do for HTTP).

A transport is opened by a :data:`Connector`, ``await connector(url, headers, options)``, which raises
:class:`~streamkit.errors.AuthenticationError` when the server refuses the credentials and
:class:`~streamkit.errors.RateLimited` on HTTP 429. An open transport sends text frames and receives batches of
:data:`Incoming` frames, each with the time it arrived; a recording's frames also carry the subscription they were
recorded for.
"""

from __future__ import annotations

import os
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus

from .._redact import websockets_logger
from ..core import Topic
from ..errors import AuthenticationError, RateLimited

__all__ = [
    "CONNECTORS",
    "AiohttpTransport",
    "Connector",
    "Incoming",
    "Transport",
    "TransportClosed",
    "TransportEnded",
    "TransportOptions",
    "WebSocketTransport",
    "connector",
    "upgrade_refusal",
]

#: One received frame: ``(frame, received, topic)``: the frame as it came (text frames as UTF-8 bytes), its arrival
#: time (epoch seconds), and the subscription it belongs to when the transport knows it (a recording), else None.
Incoming: TypeAlias = tuple[str | bytes, float, Topic | None]


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
    """An open connection, as the receive loop uses it."""

    async def send(self, frame: str) -> None:
        """Send one text frame; raises :class:`TransportClosed` when the connection is gone."""

    async def recv(self) -> Sequence[Incoming]:
        """The next frames (at least one); raises :class:`TransportClosed` or :class:`TransportEnded` at the end."""
        ...

    async def close(self) -> None:
        """Close the connection (the receive loop then sees :class:`TransportClosed`)."""


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """What a client asks of its connections, whatever transport makes them.

    Args:
        ssl: a custom ``SSLContext`` for ``wss://`` (default: the system's, with verification).
        ping_interval, ping_timeout: keepalive; a connection whose pong is late is closed as dead.
        max_size: the largest frame accepted, in bytes.
        max_queue: received frames buffered before reading from the socket pauses.
        open_timeout: seconds allowed for the TCP, TLS and HTTP upgrade handshakes.
        proxy: ``True`` follows the ``*_proxy`` environment variables, a URL names a proxy, ``None`` goes direct.
        auth_hint: what to check when the server refuses the credentials (ends the error message).
    """

    ssl: ssl_module.SSLContext | None = None
    ping_interval: float | None = 30.0
    ping_timeout: float | None = 20.0
    max_size: int | None = 16 * 2**20
    max_queue: int = 64
    open_timeout: float | None = 10.0
    proxy: str | Literal[True] | None = True
    auth_hint: str = "check the credentials"


#: Opens a transport: ``await connector(url, headers, options)``.
Connector: TypeAlias = Callable[[str, Mapping[str, str], TransportOptions], Awaitable[Transport]]


def upgrade_refusal(url: str, status: int, retry_after: str | None, options: TransportOptions) -> Exception | None:
    """The error for an HTTP status that refused the upgrade, when it is one streamkit knows (401, 403, 429)."""
    if status in (401, 403):
        return AuthenticationError(f"{url} refused the credentials (HTTP {status}): {options.auth_hint}")
    if status == 429:
        try:
            wait = max(0.0, float(retry_after)) if retry_after else 0.0
        except ValueError:
            wait = 0.0
        return RateLimited(f"{url} is rate limiting connections (HTTP 429, Retry-After: {wait:g} s)", retry_after=wait)
    return None


class WebSocketTransport:
    """A WebSocket client connection on websockets' asyncio implementation; open it with :meth:`open`."""

    def __init__(self, url: str, ws: ClientConnection) -> None:
        self.url = url
        self._ws = ws

    def __repr__(self) -> str:
        return f"<WebSocketTransport {self.url}>"

    @classmethod
    async def open(cls, url: str, headers: Mapping[str, str], options: TransportOptions) -> WebSocketTransport:
        """Connect to ``url`` with upgrade ``headers`` (credentials live there and are never shown)."""
        ssl: dict[str, Any] = {"ssl": options.ssl} if options.ssl is not None and url.startswith("wss:") else {}
        try:
            ws = await connect(
                url,
                additional_headers=dict(headers),
                compression=None,
                max_size=options.max_size,
                ping_interval=options.ping_interval,
                ping_timeout=options.ping_timeout,
                open_timeout=options.open_timeout,
                close_timeout=2,
                max_queue=options.max_queue,
                user_agent_header="streamkit",
                proxy=options.proxy,
                logger=websockets_logger(),
                **ssl,
            )
        except InvalidStatus as exc:
            error = upgrade_refusal(url, exc.response.status_code, exc.response.headers.get("Retry-After"), options)
            if error is None:
                raise
            raise error from None
        return cls(url, ws)

    async def send(self, frame: str) -> None:
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            raise TransportClosed(1006, "closed while sending", clean=False) from exc

    async def recv(self) -> Sequence[Incoming]:
        try:
            frame = await self._ws.recv(decode=False)  # text frames as UTF-8 bytes: orjson reads them as they are
        except ConnectionClosed as exc:
            closing = exc.rcvd if exc.rcvd is not None else exc.sent  # sent: we closed it (1009: frame too big)
            code, reason = (closing.code, closing.reason) if closing is not None else (1006, "")
            raise TransportClosed(code, reason, clean=isinstance(exc, ConnectionClosedOK)) from None
        return ((frame, time.time(), None),)

    async def close(self) -> None:
        await self._ws.close()


class AiohttpTransport:
    """A WebSocket client connection on aiohttp; open it with :meth:`open`.

    aiohttp parses frames in C and hands text frames over undecoded (``decode_text=False``): the cheapest receive
    path among the maintained asyncio WebSocket clients here (see ``bench/client_rate.py``). Its keepalive pings
    after ``ping_interval`` seconds without a frame and waits half its heartbeat for the pong, so the heartbeat is
    ``max(ping_interval, 2 * ping_timeout)``: a pong is never given less than ``ping_timeout``.
    """

    def __init__(self, url: str, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self.url = url
        self._session = session
        self._ws = ws

    def __repr__(self) -> str:
        return f"<AiohttpTransport {self.url}>"

    @classmethod
    async def open(cls, url: str, headers: Mapping[str, str], options: TransportOptions) -> AiohttpTransport:
        """Connect to ``url`` with upgrade ``headers`` (credentials live there and are never shown)."""
        heartbeat = options.ping_interval
        if heartbeat is not None and options.ping_timeout is not None:
            heartbeat = max(heartbeat, 2 * options.ping_timeout)  # aiohttp waits half its heartbeat for the pong
        session = aiohttp.ClientSession(
            trust_env=options.proxy is True,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=options.open_timeout),
            headers={"User-Agent": "streamkit"},
        )
        try:
            ws = await session.ws_connect(
                url,
                headers=dict(headers),
                ssl=options.ssl if options.ssl is not None else True,
                proxy=options.proxy if isinstance(options.proxy, str) else None,
                heartbeat=heartbeat,
                max_msg_size=options.max_size or 0,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
                autoclose=True,
                autoping=True,
                decode_text=False,  # text frames as UTF-8 bytes: orjson reads them as they are
            )
        except aiohttp.WSServerHandshakeError as exc:
            await session.close()
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            error = upgrade_refusal(url, exc.status, retry_after, options)
            if error is None:
                raise OSError(f"{url} refused the WebSocket upgrade (HTTP {exc.status})") from None
            raise error from None
        except BaseException:
            await session.close()
            raise
        return cls(url, session, ws)

    async def send(self, frame: str) -> None:
        if self._ws.closed:
            raise TransportClosed(1006, "closed while sending", clean=False)
        try:
            await self._ws.send_str(frame)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise TransportClosed(1006, "closed while sending", clean=False) from exc

    async def recv(self) -> Sequence[Incoming]:
        message = await self._ws.receive()
        kind = message.type
        if kind is aiohttp.WSMsgType.TEXT or kind is aiohttp.WSMsgType.BINARY:
            return ((message.data, time.time(), None),)
        await self._session.close()
        ws = self._ws
        if kind is aiohttp.WSMsgType.ERROR:
            error = message.data
            code = getattr(error, "code", None) or ws.close_code or 1006
            if isinstance(error, (TimeoutError, aiohttp.ServerTimeoutError)):
                raise TransportClosed(1011, "keepalive ping timeout", clean=False)
            raise TransportClosed(int(code), str(error) if code == 1009 else "", clean=False)
        code = ws.close_code or 1006
        reason = message.extra if isinstance(message.extra, str) else ""
        raise TransportClosed(int(code), reason, clean=code in (1000, 1001))

    async def close(self) -> None:
        try:
            await self._ws.close()
        finally:
            await self._session.close()


#: The transport clients use unless told otherwise (``transport=`` or ``$STREAMKIT_TRANSPORT``): aiohttp spends
#: about half the CPU per message websockets does (``bench/client_rate.py``).
DEFAULT_TRANSPORT = "aiohttp"

#: The transports a client can be asked for by name (``transport="websockets"``).
CONNECTORS: dict[str, Connector] = {"websockets": WebSocketTransport.open, "aiohttp": AiohttpTransport.open}


def connector(transport: str | Connector | None = None) -> Connector:
    """The connector a ``transport=`` option names: one of :data:`CONNECTORS`, or a connector itself; None: the
    one ``$STREAMKIT_TRANSPORT`` names, else :data:`DEFAULT_TRANSPORT`."""
    if callable(transport):
        return transport
    if transport is None:
        transport = os.environ.get("STREAMKIT_TRANSPORT", "").strip() or DEFAULT_TRANSPORT
    try:
        return CONNECTORS[transport]
    except KeyError:
        raise ValueError(
            f"unknown transport {transport!r}: streamkit has {', '.join(map(repr, CONNECTORS))}, "
            "or pass a connector (see streamkit.connection.transport.Connector)"
        ) from None
