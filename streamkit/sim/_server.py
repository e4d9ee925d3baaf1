"""What every simulator shares: start/stop from a script, a notebook cell or ``async with``; the clock that
drives the scenario; per-connection fault injection."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl as ssl_module
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from .. import runtime
from ..notebook.registry import track

__all__ = ["Faults", "Peer", "Simulator"]

S = TypeVar("S", bound="Simulator")

#: Bytes a client may have waiting in its send buffer before a simulator's clock waits for it.
WRITE_HIGH = 256 * 1024


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults a simulator injects, for reliability tests and demos of recovery.

    Args:
        drop_every: abort every connection (no close frame) every this many seconds.
        malformed: probability that a data frame is replaced by a broken one.
        stall_every: every this many seconds, stop sending and stop reading (so pings go unanswered)...
        stall_for: ...for this many seconds.

    A simulator that drops every connection each 0.3 s; the client reconnects, re-subscribes and goes on:

    >>> import streamkit as sk
    >>> from streamkit.sim import Faults, MistSimulator
    >>> with MistSimulator(seed=1, sites=1, aps=1, interval=0.05, faults=Faults(drop_every=0.3)) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token, reconnect=sk.Reconnect(initial=0.01)) as mist:
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=30, timeout=10)
    ...         reconnects = mist.stats.reconnects
    >>> len(rows), reconnects >= 1, sim.counts["dropped"] >= 1
    (30, True, True)
    """

    drop_every: float | None = None
    malformed: float = 0.0
    stall_every: float | None = None
    stall_for: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.malformed <= 1.0:
            raise ValueError(f"malformed is a probability in [0, 1], not {self.malformed}")
        for name in ("drop_every", "stall_every"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds or None, not {value}")


class Peer:
    """One client connection as a simulator sees it, whatever the server library underneath.

    ``write`` (optional) queues a frame without waiting; a simulator that has it applies backpressure once
    per tick (:meth:`Simulator._drain`) instead of awaiting every frame, which is what lets it run flat out.
    """

    __slots__ = ("_send", "closed", "transport", "write")

    def __init__(
        self,
        send: Callable[[str], Awaitable[Any]],
        transport: asyncio.BaseTransport | None,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self._send = send
        self.transport = transport
        self.write = write
        self.closed = False

    async def send(self, frame: str) -> None:
        if self.closed:
            return
        try:
            await self._send(frame)
        except Exception:  # the client went away mid-send; its handler cleans up
            self.closed = True

    def abort(self) -> None:
        """Drop the TCP connection at once, as a network failure would."""
        self.closed = True
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.abort()


class Simulator(ABC):
    """A WebSocket server on ``host`` that plays a vendor's side of the protocol from a seeded scenario.

    Start it with :meth:`start` (a script or a notebook cell; never blocks a kernel), ``with`` or
    ``async with``; :meth:`stop` frees the port and a later :meth:`start` serves on the same port again.

    Args:
        host, port: where to listen (port 0: a free one).
        seed: the scenario's seed.
        interval: seconds between scenario steps (0: as fast as possible).
        faults: what to break (:class:`Faults`).
        ssl: a TLS context to serve ``wss://`` and ``https://``.

    >>> from streamkit.sim import MistSimulator
    >>> sim = MistSimulator(seed=1, sites=1, aps=1).start()
    >>> port = sim.port
    >>> sim.running, sim.open_connections
    (True, 0)
    >>> sim.stop()
    >>> sim.running, sim.start().port == port       # a restart serves on the same port
    (False, True)
    >>> sim.stop()
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        interval: float = 1.0,
        faults: Faults | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval is seconds between updates (0: as fast as possible), not {interval}")
        self.host = host
        self._port = port
        self.seed = seed
        self.interval = interval
        self.faults = faults or Faults()
        self.ssl = ssl
        #: Counters a test or a demo can read: connections, rejected upgrades, frames sent ...
        self.counts: Counter[str] = Counter()
        self._fault_rng = random.Random(f"faults-{seed}")
        self._peers: set[Peer] = set()
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def open_connections(self) -> int:
        """Client WebSockets connected now."""
        return len(self._peers)

    # -- identity ------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (known once started; kept across a stop and a restart)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._sock is not None

    @property
    def scheme(self) -> str:
        return "wss" if self.ssl else "ws"

    @property
    def http_scheme(self) -> str:
        return "https" if self.ssl else "http"

    def __repr__(self) -> str:
        state = f"listening on {self.host}:{self._port}" if self.running else "stopped"
        return f"<{type(self).__name__} seed={self.seed} interval={self.interval} {state}>"

    # -- start / stop --------------------------------------------------------------------------------------

    def start(self: S) -> S:
        """Start serving; returns at once in a notebook cell (the kernel loop runs the server)."""
        if not self.running:
            sock = self._bind()
            runtime.submit(self._astart(sock), timeout=10)
            track(self, "simulator")  # weakly: sk.views() lists it, sk.close_all() or a re-run of its cell stops it
        return self

    def stop(self) -> None:
        """Stop serving and drop every connection; the port is free again when this returns
        (in a notebook cell: as soon as the cell ends)."""
        if self.running and self._loop is not None:
            runtime.submit(self.aclose(), loop=self._loop, timeout=10)

    async def __aenter__(self: S) -> S:
        if not self.running:
            await self._astart(self._bind())
            track(self, "simulator")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def serve_forever(self) -> None:
        """Serve until cancelled (the command line's ``streamkit sim``)."""
        async with self:
            await asyncio.Future()

    def _bind(self) -> socket.socket:
        try:
            sock = socket.create_server((self.host, self._port))
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot listen on {self.host}:{self._port}: {exc.strerror}; "
                "pick another port (port=0 takes a free one)",
            ) from None
        self._port = sock.getsockname()[1]
        self._sock = sock
        return sock

    async def _astart(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        await self._listen(sock)
        self._tasks = [asyncio.create_task(self._clock(), name=f"{type(self).__name__}-clock")]
        if self.faults.drop_every:
            self._tasks.append(asyncio.create_task(self._every(self.faults.drop_every, self.drop_connections)))
        if self.faults.stall_every:
            self._tasks.append(
                asyncio.create_task(self._every(self.faults.stall_every, lambda: self.stall(self.faults.stall_for)))
            )

    async def aclose(self) -> None:
        """Stop serving (coroutine form of :meth:`stop`)."""
        if self._sock is None:
            return
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for peer in list(self._peers):
            peer.abort()
        self._peers.clear()
        await self._close()
        self._sock.close()
        self._sock = None
        self._flowing.set()

    # -- the scenario clock --------------------------------------------------------------------------------

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            await self._tick()
            if self.interval > 0:
                due = max(due + self.interval, loop.time() - self.interval)
                await asyncio.sleep(due - loop.time())
            else:
                await asyncio.sleep(0)

    @staticmethod
    async def _every(seconds: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            action()

    # -- faults --------------------------------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Abort every open connection now (thread-safe)."""
        if self._loop is not None:
            runtime.call_soon(self._loop, self._abort_all)

    def _abort_all(self) -> None:
        self.counts["dropped"] += len(self._peers)
        for peer in list(self._peers):
            peer.abort()

    def stall(self, seconds: float) -> None:
        """Send nothing and read nothing (pings go unanswered) for ``seconds`` (thread-safe)."""
        if self._loop is not None:
            runtime.call_soon(self._loop, self._stall, seconds)

    def _stall(self, seconds: float) -> None:
        assert self._loop is not None
        self.counts["stalls"] += 1
        self._flowing.clear()
        paused = [p.transport for p in self._peers if isinstance(p.transport, asyncio.ReadTransport)]
        for transport in paused:
            transport.pause_reading()

        def resume() -> None:
            self._flowing.set()
            for transport in paused:
                if not transport.is_closing():
                    transport.resume_reading()

        self._loop.call_later(seconds, resume)

    async def send_data(self, peer: Peer, frame: str) -> None:
        """Send one data frame, subject to the stall gate and the malformed-frame fault."""
        if not self._flowing.is_set():
            await self._flowing.wait()
            await asyncio.sleep(0)  # what else waited (a pong held by the stall) goes out before the backlog
        if self.faults.malformed and self._fault_rng.random() < self.faults.malformed:
            frame = self._corrupt(frame)
            self.counts["malformed"] += 1
        self.counts["frames"] += 1
        if peer.write is None:
            await peer.send(frame)
        elif not peer.closed:
            peer.write(frame)

    async def _drain(self) -> None:
        """Wait until no client has more than :data:`WRITE_HIGH` bytes waiting to be sent (backpressure)."""
        for peer in tuple(self._peers):
            transport = peer.transport
            if not isinstance(transport, asyncio.WriteTransport):
                continue
            # asyncio transports have no public "wait for the low-water mark": poll, once per millisecond
            while not transport.is_closing() and transport.get_write_buffer_size() > WRITE_HIGH:  # noqa: ASYNC110
                await asyncio.sleep(0.001)

    def _corrupt(self, frame: str) -> str:
        """A broken version of ``frame``: cut in the middle, so it is not valid JSON."""
        return frame[: max(1, len(frame) // 2)]

    # -- what each simulator provides ----------------------------------------------------------------------

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    async def _listen(self, sock: socket.socket) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    async def _tick(self) -> None: ...
