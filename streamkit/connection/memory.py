"""An in-memory server for tests: clients connect to it through ``transport=server.connect`` instead of a socket.

The test plays the server: it refuses connections (HTTP 401, 429 ...), answers subscriptions, pushes frames,
closes connections with any code, and reads what the client sent. Nothing touches the network, and nothing
waits: run the test under a virtual clock (``looptime``) when backoff delays or rate-limit waits matter.

>>> import asyncio, streamkit as sk
>>> from streamkit.protocols import mist
>>> def respond(connection, frame):          # a subscription is answered with an ack and one message
...     connection.push(mist.subscribed_frame("/test"), mist.data_frame("/test", {"n": 1}))
>>> server = MemoryServer(respond=respond)
>>> async def main():
...     client = sk.mist(token="t", url="ws://memory/api-ws/v1/stream", transport=server.connect)
...     rows = await sk.acollect(client.subscribe("/test"), count=1)
...     await client.aclose()
...     return rows, server.connections[-1].sent
>>> asyncio.run(main())
([Message({'n': 1}, origin='/test')], ['{"subscribe":"/test"}', '{"unsubscribe":"/test"}'])
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from .transport import Incoming, TransportClosed, TransportOptions, upgrade_refusal

__all__ = ["MemoryConnection", "MemoryServer"]

Respond = Callable[["MemoryConnection", str], None]


class MemoryConnection:
    """One client connection to a :class:`MemoryServer`: the client's transport, and the test's handle on it.

    ``push`` frames to the client, ``drop`` the connection, read what the client ``sent``:

    >>> import streamkit as sk
    >>> from streamkit.protocols import mist
    >>> def respond(connection, frame):             # answer a subscription with an ack and one message
    ...     connection.push(mist.subscribed_frame("/test"), mist.data_frame("/test", {"n": 1}))
    >>> server = MemoryServer(respond=respond)
    >>> with sk.mist(token="t", url="ws://memory/api-ws/v1/stream", transport=server.connect) as client:
    ...     sk.collect(client.subscribe("/test"), count=1, timeout=5)
    [Message({'n': 1}, origin='/test')]
    >>> server.connections[0].sent
    ['{"subscribe":"/test"}', '{"unsubscribe":"/test"}']
    """

    def __init__(self, server: MemoryServer, url: str, headers: Mapping[str, str], options: TransportOptions):
        self.server = server
        self.url = url
        self.headers = dict(headers)
        self.options = options
        #: Text frames the client sent, in order.
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self._inbox: asyncio.Queue[Sequence[Incoming] | TransportClosed] = asyncio.Queue()

    def __repr__(self) -> str:
        return f"<MemoryConnection {self.url} sent={len(self.sent)} closed={self.closed}>"

    # -- the test's side (the server) ----------------------------------------------------------------------

    def push(self, *frames: str | bytes) -> None:
        """Send frames to the client (one batch); a frame over the client's ``max_size`` closes with 1009 as a
        WebSocket would."""
        if self.closed is not None:
            return
        limit = self.options.max_size
        at = time.time()
        batch: list[Incoming] = []
        for frame in frames:
            data = frame.encode() if isinstance(frame, str) else frame
            if limit is not None and len(data) > limit:
                if batch:
                    self._inbox.put_nowait(batch)
                self._end(1009, "frame too big", clean=False)
                return
            batch.append((data, at, None))
        self._inbox.put_nowait(batch)

    def drop(self, code: int = 1006, reason: str = "") -> None:
        """End the connection as the server (or the network) would: the client sees the close code and reason.
        1011 with "keepalive ping timeout" is what a dead connection's failed ping looks like."""
        self._end(code, reason, clean=code in (1000, 1001))

    # -- the client's side (the transport) -----------------------------------------------------------------

    async def send(self, frame: str) -> None:
        if self.closed is not None:
            raise TransportClosed(1006, "closed while sending", clean=False)
        self.sent.append(frame)
        if self.server.respond is not None:
            self.server.respond(self, frame)

    async def recv(self) -> Sequence[Incoming]:
        item = await self._inbox.get()
        if isinstance(item, TransportClosed):
            self._inbox.put_nowait(item)  # every later recv sees the end too
            raise item
        return item

    async def close(self) -> None:
        self._end(1000, "", clean=True)

    def _end(self, code: int, reason: str, *, clean: bool) -> None:
        if self.closed is None:
            self.closed = (code, reason)
            self.server.open.discard(self)
            self._inbox.put_nowait(TransportClosed(code, reason, clean=clean))


class MemoryServer:
    """A scriptable in-memory server; pass ``transport=server.connect`` to a client factory.

    Args:
        respond: called with ``(connection, frame)`` for every frame a client sends (answer subscriptions here).

    Here it refuses the credentials, as a server answering HTTP 401 at the upgrade does:

    >>> import streamkit as sk
    >>> server = MemoryServer()
    >>> server.refuse(401)
    >>> with sk.mist(token="t", url="ws://memory/api-ws/v1/stream", transport=server.connect) as client:
    ...     try:
    ...         sk.collect(client.subscribe("/test"), count=1, timeout=5)
    ...     except sk.AuthenticationError as exc:
    ...         print("HTTP 401" in str(exc))
    True
    >>> len(server.attempts), server.connections
    (1, [])
    """

    def __init__(self, respond: Respond | None = None) -> None:
        self.respond = respond
        #: Every connection made, in order; :attr:`open` holds those still open.
        self.connections: list[MemoryConnection] = []
        self.open: set[MemoryConnection] = set()
        #: ``(url, headers)`` of every attempt to connect, refused ones included.
        self.attempts: list[tuple[str, dict[str, str]]] = []
        self._refusals: deque[tuple[int, str | None] | BaseException] = deque()

    def __repr__(self) -> str:
        return f"<MemoryServer attempts={len(self.attempts)} open={len(self.open)}>"

    def refuse(self, status: int = 401, *, times: int = 1, retry_after: float | None = None) -> None:
        """Refuse the next ``times`` connection attempts with an HTTP ``status`` at the upgrade (401, 403, 429 ...)."""
        for _ in range(times):
            self._refusals.append((status, None if retry_after is None else str(retry_after)))

    def fail(self, error: BaseException, *, times: int = 1) -> None:
        """Make the next ``times`` connection attempts raise ``error`` (an ``OSError``: nothing listens ...)."""
        self._refusals.extend([error] * times)

    async def connect(self, url: str, headers: Mapping[str, str], options: TransportOptions) -> MemoryConnection:
        """The connector: what a client calls to open a connection."""
        self.attempts.append((url, dict(headers)))
        await asyncio.sleep(0)  # a real connect yields to the loop too
        if self._refusals:
            refusal = self._refusals.popleft()
            if isinstance(refusal, BaseException):
                raise refusal
            status, retry_after = refusal
            raise upgrade_refusal(url, status, retry_after, options) or OSError(f"HTTP {status} at the upgrade")
        connection = MemoryConnection(self, url, headers, options)
        self.connections.append(connection)
        self.open.add(connection)
        return connection
