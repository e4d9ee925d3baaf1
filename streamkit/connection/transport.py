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
    """The connection ended: the WebSocket close ``code`` and ``reason`` (1006 and "" when it was cut).

    A transport's ``recv`` raises it when the connection ends; the client reports a
    :class:`~streamkit.connection.Disconnected` event with that code and reason, and reconnects. Here the first
    connection sends one message and dies as a connection whose keepalive ping went unanswered does:

    >>> import streamkit as sk
    >>> from streamkit.connection import Disconnected, MemoryServer
    >>> from streamkit.protocols import mist
    >>> def respond(connection, frame):
    ...     number = len(connection.server.connections)
    ...     connection.push(mist.data_frame("/test", {"connection": number}))
    ...     if number == 1:
    ...         connection.drop(1011, "keepalive ping timeout")      # its recv raises TransportClosed(1011, ...)
    >>> server = MemoryServer(respond=respond)
    >>> with sk.mist(token="t", url="ws://memory/api-ws/v1/stream", transport=server.connect,
    ...              reconnect=sk.Reconnect(initial=0.01, jitter=0)) as client:
    ...     events = []
    ...     _ = client.events.subscribe(events.append)
    ...     rows = sk.collect(client.subscribe("/test"), count=2, timeout=5)
    >>> [row["connection"] for row in rows], [e for e in events if isinstance(e, Disconnected)]
    ([1, 2], [Disconnected(code=1011, reason='keepalive ping timeout', error='', connection=0)])

    A transport of your own raises it the same way:

    >>> closed = TransportClosed(1011, "keepalive ping timeout", clean=False)
    >>> str(closed), closed.code, closed.clean
    ('connection closed (code 1011: keepalive ping timeout)', 1011, False)
    """

    def __init__(self, code: int, reason: str, *, clean: bool) -> None:
        super().__init__(f"connection closed (code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason
        self.clean = clean


class TransportEnded(Exception):
    """A finite transport (a recording) has nothing more: observers complete, nothing reconnects.

    A transport's ``recv`` raises it when its source is exhausted (a replay does at the end of its recording).
    Here a transport whose source is empty: the subscription completes at once and the client is done:

    >>> import streamkit as sk
    >>> class Empty:
    ...     async def send(self, frame):
    ...         pass
    ...     async def recv(self):
    ...         raise TransportEnded()
    ...     async def close(self):
    ...         pass
    >>> async def connect(url, headers, options):
    ...     return Empty()
    >>> with sk.feed("wss://feed.example/ws", transport=connect) as ticks:
    ...     rows = sk.collect(ticks.subscribe("ticks"), timeout=5)        # returns when the stream completes
    ...     state = ticks.state
    >>> rows, state
    ([], <ConnectionState.COMPLETED: 'completed'>)
    """


class Transport(Protocol):
    """An open connection, as the receive loop uses it.

    Anything with these three coroutines is one. A :data:`Connector` opens it, and a client takes the connector
    as ``transport=``. Here the frames come from a list (lines saved from a feed, say), and the end of the list
    is the end of the stream:

    >>> import time, streamkit as sk
    >>> class Lines:
    ...     def __init__(self, lines):
    ...         self.lines, self.sent = list(lines), []
    ...     async def send(self, frame):
    ...         self.sent.append(frame)                                   # what the client asks for
    ...     async def recv(self):
    ...         if not self.lines:
    ...             raise TransportEnded()                                # nothing more: the streams complete
    ...         return [(self.lines.pop(0).encode(), time.time(), None)]  # (frame, received, topic)
    ...     async def close(self):
    ...         self.lines.clear()
    >>> opened = []
    >>> async def connect(url, headers, options):                         # the Connector
    ...     opened.append(Lines(['{"channel": "ticks", "n": 1}', '{"channel": "ticks", "n": 2}']))
    ...     return opened[-1]
    >>> with sk.feed("wss://feed.example/ws", transport=connect) as ticks:
    ...     sk.collect(ticks.subscribe("ticks"), timeout=5)
    [Message({'channel': 'ticks', 'n': 1}, origin='ticks'), Message({'channel': 'ticks', 'n': 2}, origin='ticks')]
    >>> opened[0].sent
    ['{"subscribe":"ticks"}']
    """

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

    A client's factory builds them from its keyword arguments and hands them to its connector with every
    connection (a connector of your own reads them there):

    >>> import streamkit as sk
    >>> from streamkit.connection import MemoryServer
    >>> from streamkit.protocols import mist
    >>> server = MemoryServer(respond=lambda connection, frame: connection.push(mist.data_frame("/test", {"n": 1})))
    >>> with sk.mist(token="t", url="ws://memory/api-ws/v1/stream", transport=server.connect,
    ...              ping_interval=None, max_size=2**20, proxy=None) as client:
    ...     rows = sk.collect(client.subscribe("/test"), count=1, timeout=5)
    >>> options = server.connections[0].options
    >>> options.ping_interval, options.max_size, options.proxy, options.open_timeout
    (None, 1048576, None, 10.0)

    To open a transport yourself, pass them to its ``open`` (see :class:`WebSocketTransport`).
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
    """A WebSocket client connection on websockets' asyncio implementation; open it with :meth:`open`.

    A client runs on it when given ``transport="websockets"``; opened by hand, it sends and receives raw frames:

    >>> import asyncio, json, streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> async def first_frames(sim):
    ...     options = TransportOptions(open_timeout=5, proxy=None)
    ...     transport = await WebSocketTransport.open(sim.url, {"Authorization": f"Token {sim.token}"}, options)
    ...     await transport.send(json.dumps({"subscribe": sim.channel("device_stats")}))
    ...     frames = [json.loads(frame) for _ in range(2) for frame, received, topic in await transport.recv()]
    ...     await transport.close()
    ...     return frames
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token, transport="websockets") as mist:
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=2, timeout=10)
    ...     frames = asyncio.run(first_frames(sim))
    >>> len(rows), [frame["event"] for frame in frames]
    (2, ['channel_subscribed', 'data'])
    """

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
