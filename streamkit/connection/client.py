"""The one receive loop: pumps transport -> adapter -> observers, and re-subscribes after reconnects.

Every subscription is a hot, shared :class:`~streamkit.core.Stream`. The first observer of a topic sends the
subscribe message (and opens the connection); further observers share it; when the last one disposes, the
unsubscribe message goes out; when no topic is left, the connection closes. Live sockets, recordings and test
fakes are all transports behind the same loop (:mod:`streamkit.connection.transport`).

All of it runs on one asyncio loop (see :mod:`streamkit.runtime`): observers are called on that loop's thread,
and calls from other threads are handed over to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from reactivex import Subject, abc
from reactivex.disposable import Disposable
from reactivex.scheduler import VirtualTimeScheduler

from .. import runtime
from ..core import ConnectionState, Message, Problem, ProblemKind, Problems, Stream, Topic
from ..errors import AuthenticationError, ConnectionLost, StreamkitError, SubscriptionError
from ..notebook.registry import track
from ..protocols.base import Adapter, Data, Malformed, Subscribed, SubscribeFailed, Unknown, Unsubscribed, clip
from .events import Closed, Connected, Connecting, Disconnected, Gap, Reconnecting
from .policy import Decision, Reconnect, certificate_error
from .spec import ClientSpec, Secret
from .transport import Connector, Transport, TransportClosed, TransportEnded, TransportOptions

if TYPE_CHECKING:
    from ..recording import Recorder

__all__ = ["SUBSCRIBE_TIMEOUT", "Client", "Connection", "Shape", "Stats", "Subscription", "Tap"]

log = logging.getLogger("streamkit")

#: Connections in a row that the server closes before any acknowledgement or data, after which the client stops
#: retrying: a server that accepts the upgrade and then closes at once is refusing the client.
CLOSED_AT_ONCE = 3
#: Seconds after an unsubscribe during which data still arriving for that topic is expected (it was in flight).
IN_FLIGHT = 10.0
#: Seconds a server has to acknowledge a subscription (Juniper's own client waits as long).
SUBSCRIBE_TIMEOUT = 10.0
C = TypeVar("C", bound="Client")
Link: TypeAlias = abc.ObserverBase[Message]

#: Called with ``(time, "in" | "out", frame, topic)`` for every frame on the wire (see :meth:`Client.tap`).
Tap: TypeAlias = Callable[[float, str, str | bytes, Topic | None], None]
#: Builds the record a subscription's observers get from a decoded payload: ``shape(payload, topic, received)``.
#: :class:`~streamkit.core.Message` itself is the plain one; ``ops.flatten()`` gives one that flattens as it builds.
Shape: TypeAlias = Callable[[Any, Topic, float], Message]


class _Route:
    """Where one topic's data goes: each attached link with the shape of the records it gets (the subscription's
    own stream gets Messages as decoded, a shaped stream of it, e.g. flattened, gets its own records)."""

    __slots__ = ("deliveries",)

    def __init__(self) -> None:
        self.deliveries: tuple[tuple[Shape, Callable[[Message], None], Link], ...] = ()

    def add(self, shape: Shape, link: Link) -> None:
        self.deliveries = (*self.deliveries, (shape, link.on_next, link))

    def remove(self, link: Link) -> bool:
        """Detach ``link``; returns whether it was attached."""
        before = len(self.deliveries)
        self.deliveries = tuple(d for d in self.deliveries if d[2] is not link)
        return len(self.deliveries) != before

    def on_error(self, error: Exception) -> None:
        for _, _, link in self.deliveries:
            link.on_error(error)

    def on_completed(self) -> None:
        for _, _, link in self.deliveries:
            link.on_completed()


class Subscription(Stream[Message]):
    """A client's subscription to one topic: a hot, shared :class:`~streamkit.core.Stream` of
    :class:`~streamkit.core.Message` records, whose records can also be built in another shape as they are
    decoded (:meth:`shaped`), which is how ``ops.flatten()`` on a subscription flattens in one step."""

    def __init__(self, client: Client, topic: Topic, connect: Any, observer_failed: Any) -> None:
        super().__init__(connect, clock=client.clock, observer_failed=observer_failed)
        self._client = client
        self._topic = topic

    def shaped(self, shape: Shape) -> Stream[Message]:
        """A Stream of this topic whose records ``shape(payload, topic, received)`` builds from each decoded
        payload (one subscription on the server for all of them); a new computation for each call, as each
        ``.pipe()`` is."""
        client, topic = self._client, self._topic

        def connect(link: Link) -> abc.DisposableBase:
            client._on_loop(client._attach, topic, link, shape)
            return Disposable(lambda: client._on_loop(client._detach, topic, link))

        return Stream(connect, clock=self.clock, observer_failed=self._observer_failed)


class Stats:
    """Counters of one client: messages, bytes, reconnects, problems by kind, and per-subscription counts and
    rates. Rates are messages per second over the last ``window`` seconds, sampled once a second on the loop.

    Every client keeps one as ``client.stats``:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
    ...     channel = sim.channel("device_stats")
    ...     rows = sk.collect(mist.subscribe(channel), count=4, timeout=10)
    ...     snapshot = mist.stats.snapshot()                 # plain values, for a table or a health view
    >>> stats = mist.stats
    >>> stats.messages >= 4, stats.per_topic[channel] == stats.messages, stats.bytes > 0
    (True, True, True)
    >>> stats.malformed, stats.unknown, stats.reconnects, stats.last_gap
    (0, 0, 0, None)
    >>> sorted(snapshot), list(snapshot["topics"]) == [channel]
    (['bytes', 'last_gap_s', 'messages', 'problems', 'rate', 'reconnects', 'topics'], True)
    """

    def __init__(self, problems: Problems, window: float = 10.0) -> None:
        self.bytes = 0
        self.reconnects = 0
        self.per_topic: dict[Topic, int] = {}
        self.last_gap: Gap | None = None
        self._problems = problems
        self._window = window
        self._samples: deque[tuple[float, int, dict[Topic, int]]] = deque()

    @property
    def messages(self) -> int:
        """Messages delivered, all subscriptions together."""
        return sum(self.per_topic.values())

    @property
    def malformed(self) -> int:
        """Frames that broke the protocol (each one is also in ``client.problems``)."""
        return self._problems.counts[ProblemKind.MALFORMED]

    @property
    def unknown(self) -> int:
        """Well-formed messages the protocol gives no meaning (each one is also in ``client.problems``)."""
        return self._problems.counts[ProblemKind.UNKNOWN]

    def sample(self, now: float) -> None:
        self._samples.append((now, self.messages, dict(self.per_topic)))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()

    def rate(self, topic: Topic | None = None) -> float:
        """Messages per second over the sampling window (of one topic, or of all)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, n0, per0), (t1, n1, per1) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return 0.0
        if topic is None:
            return (n1 - n0) / (t1 - t0)
        return (per1.get(topic, 0) - per0.get(topic, 0)) / (t1 - t0)

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain values, e.g. for a table or a health view."""
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "rate": round(self.rate(), 1),
            "problems": {kind.value: n for kind, n in self._problems.counts.items()},
            "reconnects": self.reconnects,
            "last_gap_s": round(self.last_gap.duration, 3) if self.last_gap else None,
            "topics": {
                topic: {"messages": n, "rate": round(self.rate(topic), 1)} for topic, n in self.per_topic.items()
            },
        }

    def __repr__(self) -> str:
        return (
            f"<Stats messages={self.messages} rate={self.rate():.1f}/s malformed={self.malformed} "
            f"reconnects={self.reconnects} topics={len(self.per_topic)}>"
        )


class Client:
    """Drives one protocol over one or more WebSockets to the same server.

    Args:
        adapter: the protocol (sans-I/O) this client speaks; further connections get ``adapter.fresh()``.
        url: where it connects (never carries credentials: they travel in ``headers``).
        connector: opens a transport (:mod:`streamkit.connection.transport`): a WebSocket, a recording, a fake.
        headers: the connection's headers (credentials: never shown).
        options: what the client asks of each connection (TLS, keepalive, frame size ...).
        reconnect: the retry policy (:class:`~streamkit.connection.policy.Reconnect`).
        clock: a virtual clock the receive loop advances to each frame's time before delivering it, which
            time operators on this client's streams then use (a replay's recorded clock); None: live time.
        name: the kind of source, for messages ("Mist", "SMC", "Feed" ...).
        channels_per_connection: the most topics one WebSocket carries; more open further connections (the
            topics of one connection share its drops and gaps). None: one connection for everything.
        subscribe_timeout: seconds to wait for the server to acknowledge a subscription (protocols with acks);
            a missing ack is reported and the subscription asked for again once, then its stream fails with
            :class:`~streamkit.errors.SubscriptionError`. None: wait for ever.

    :func:`~streamkit.mist`, :func:`~streamkit.smc` and :func:`~streamkit.feed` make the subclasses you use (they
    add ``subscribe``). What every client has: its ``state``, ``topics`` and ``connections``, ``stats``,
    ``problems`` and ``events``, and ``close``. Here each channel gets a WebSocket of its own:

    >>> import streamkit as sk
    >>> from streamkit.connection import Client
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=2, aps=1) as sim:
    ...     mist = sk.mist(url=sim.url, token=sim.token, channels_per_connection=1)
    ...     streams = [mist.subscribe(sim.channel("device_stats", site=i)) for i in range(2)]
    ...     held = [stream.subscribe(lambda message: None) for stream in streams]   # subscribed until closed
    ...     rows = [sk.collect(stream, count=1, timeout=10) for stream in streams]   # data on both connections
    ...     state, topics, connections = mist.state, mist.topics, mist.connections
    ...     mist.close()                                     # unsubscribes, closes the connections
    >>> isinstance(mist, Client), state, len(topics)
    (True, <ConnectionState.CONNECTED: 'connected'>, 2)
    >>> [(c["connection"], c["state"], c["topics"]) for c in connections]
    [(0, 'connected', 1), (1, 'connected', 1)]
    >>> mist.state, mist.topics, len(mist.problems)
    (<ConnectionState.CLOSED: 'closed'>, (), 0)
    """

    def __init__(
        self,
        adapter: Adapter,
        *,
        url: str,
        connector: Connector,
        headers: Mapping[str, str] | None = None,
        options: TransportOptions | None = None,
        reconnect: Reconnect | None = None,
        clock: VirtualTimeScheduler | None = None,
        name: str = "server",
        channels_per_connection: int | None = None,
        subscribe_timeout: float | None = SUBSCRIBE_TIMEOUT,
    ):
        if channels_per_connection is not None and channels_per_connection < 1:
            raise ValueError(f"channels_per_connection is a positive number or None, not {channels_per_connection}")
        if subscribe_timeout is not None and subscribe_timeout <= 0:
            raise ValueError(f"subscribe_timeout is a positive number of seconds or None, not {subscribe_timeout}")
        self.url = url
        self.name = name
        self.clock = clock
        self.channels_per_connection = channels_per_connection
        self.subscribe_timeout = subscribe_timeout
        self._adapter = adapter
        self._connector = connector
        self._headers = dict(headers or {})  # credentials: never shown
        self._options = options or TransportOptions()
        self._reconnect = reconnect or Reconnect()
        self._loop = runtime.get_loop()
        self._links: dict[Topic, _Route] = {}  # one per subscribed topic: where its data goes
        self._streams: dict[Topic, Subscription] = {}
        self._connections: list[Connection] = []
        self._home: dict[Topic, Connection] = {}  # which connection carries each subscribed topic
        self._events: Subject[Any] = Subject()
        #: Problems that do not end a stream (see :class:`~streamkit.core.ProblemKind`): an Observable of each new
        #: one, and the last 100 (raw frames and tracebacks included).
        self.problems = Problems()
        self.stats = Stats(self.problems)
        self._state = ConnectionState.IDLE  # the client's own: idle, or for ever closed / failed / completed
        self._taps: tuple[Tap, ...] = ()
        #: The recorder of the ``record=`` option (it stops when the client closes).
        self.recorder: Recorder | None = None
        self._sampler: asyncio.TimerHandle | None = None
        self._fatal: Exception | None = None
        self._closed = False
        self._left: dict[Topic, float] = {}  # topics unsubscribed lately -> when (their data may still arrive)
        track(self, "client")  # weakly: sk.views() lists it, sk.close_all() or a re-run of its cell closes it

    def __repr__(self) -> str:
        more = f" connections={len(self._connections)}" if len(self._connections) > 1 else ""
        return f"<{type(self).__name__} {self.url} state={self.state} topics={len(self._links)}{more}>"

    # -- public ------------------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """Where the client stands: closed, failed or completed for good; else the least ready of its
        connections (reconnecting, connecting, connected), or idle with nothing subscribed."""
        if self._state is not ConnectionState.IDLE:
            return self._state
        states = {connection.state for connection in self._connections}
        for state in (ConnectionState.RECONNECTING, ConnectionState.CONNECTING, ConnectionState.CONNECTED):
            if state in states:
                return state
        return ConnectionState.IDLE

    @property
    def connections(self) -> tuple[dict[str, Any], ...]:
        """Each WebSocket of the client: its number, state, topics, reconnects and last gap (seconds)."""
        return tuple(connection.snapshot() for connection in self._connections)

    @property
    def events(self) -> Subject[Any]:
        """Connection lifecycle: Connecting, Connected, Subscribed, SubscribeFailed, Unsubscribed, Disconnected,
        Reconnecting, Gap, Closed (see :mod:`streamkit.connection.events`)."""
        return self._events

    @property
    def topics(self) -> tuple[Topic, ...]:
        """What is subscribed now."""
        return tuple(self._links)

    def tap(self, tap: Tap) -> abc.DisposableBase:
        """Call ``tap(time, "in" | "out", frame, topic)`` for every frame on the wire until the returned
        disposable is disposed (what a recorder uses)."""
        self._taps = (*self._taps, tap)

        def remove() -> None:
            self._taps = tuple(t for t in self._taps if t is not tap)

        return Disposable(remove)

    def health(self, *, every: float = 1.0, **watch: Any) -> Any:
        """A small view of this client's health for a notebook cell (see :func:`streamkit.health`)."""
        from ..notebook import health

        return health(self, every=every, **watch)

    def spec(self) -> ClientSpec:
        """How to build this client again in another process (a Dask worker builds its shard's client from it):
        picklable, its credentials in a :class:`~streamkit.connection.spec.Secret` that never shows itself.

        Raises StreamkitError for what cannot travel: a recording client (``record=``), a replay, a custom
        ``ssl=`` context. Example in :class:`~streamkit.connection.spec.ClientSpec`.
        """
        if self.recorder is not None:
            raise StreamkitError(
                "a recording client (record=) cannot be sharded: each shard would need its own file; record in the "
                "kernel from a client without a cluster, or drop record="
            )
        if self.clock is not None:
            raise StreamkitError("a replay cannot be sharded: it is one file on this machine; replay it in the kernel")
        if self._options.ssl is not None:
            raise StreamkitError(
                "a client with a custom ssl= context cannot be sharded (an SSLContext does not travel to workers); "
                "install the CA on the workers and drop ssl="
            )
        options, secret = self._spec_options()
        return ClientSpec(type(self), options, Secret(secret))

    def _spec_options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The constructor's keyword arguments that build this client again: the open ones, and the credentials.
        A subclass with a constructor of its own extends or replaces them."""
        open_options = {
            "adapter": self._adapter.fresh(),  # (what this one has subscribed does not travel)
            "url": self.url,
            "connector": self._connector,
            "options": self._options,
            "reconnect": self._reconnect,
            "name": self.name,
            "channels_per_connection": self.channels_per_connection,
            "subscribe_timeout": self.subscribe_timeout,
        }
        return open_options, {"headers": self._headers}

    def close(self) -> None:
        """Unsubscribe everything, close the connections and stop; observers get ``on_completed``.

        Blocks until done in a script; in a notebook cell it finishes as soon as the cell returns.
        """
        if not self._closed:
            runtime.submit(self.aclose(), loop=self._loop, timeout=10)

    async def aclose(self) -> None:
        """Coroutine form of :meth:`close`."""
        if self._closed:
            return
        self._closed = True
        self._state = ConnectionState.CLOSED
        links = list(self._links.values())
        self._links.clear()  # in place: the receive loops hold this dict
        for link in links:
            link.on_completed()
        await asyncio.gather(*(connection.close() for connection in self._connections))
        if self._sampler is not None:
            self._sampler.cancel()
        await self._on_close()
        self._events.on_next(Closed())
        self._events.on_completed()
        self.problems.complete()

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- what subclasses may change ------------------------------------------------------------------------

    async def _open(self) -> Transport:
        """Open a new connection (subclasses log in first where the protocol needs it)."""
        return await self._connector(self.url, self._headers, self._options)

    async def _on_close(self) -> None:
        """Release what :meth:`_open` acquired beyond the transports (an SMC session ...)."""

    # -- subscriptions (loop thread) -----------------------------------------------------------------------

    def _stream(self, topic: Topic) -> Subscription:
        """The hot, shared Stream of one topic (the same object for every call with that topic)."""
        stream = self._streams.get(topic)
        if stream is None:

            def connect(link: Link) -> abc.DisposableBase:
                self._on_loop(self._attach, topic, link, Message)
                return Disposable(lambda: self._on_loop(self._detach, topic, link))

            def observer_failed(error: BaseException, trace: str) -> None:
                self._problem(
                    ProblemKind.OBSERVER, f"an observer of {topic!r} raised {error!r}", topic=topic, trace=trace
                )

            stream = self._streams[topic] = Subscription(self, topic, connect, observer_failed)
        return stream

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if runtime.in_loop_thread(self._loop):
            fn(*args)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _attach(self, topic: Topic, link: Link, shape: Shape) -> None:
        if self._closed or self._fatal is not None:
            link.on_error(self._fatal or StreamkitError(f"this {self.name} client is closed; create a new one"))
            return
        route = self._links.get(topic)
        if route is not None:  # the topic is subscribed already: one more stream of its data
            route.add(shape, link)
            return
        route = self._links[topic] = _Route()
        route.add(shape, link)
        self.stats.per_topic.setdefault(topic, 0)
        if self._sampler is None:
            self._schedule_sample()
        connection = self._home[topic] = self._place()
        connection.add(topic)

    def _place(self) -> Connection:
        """The connection for a new topic: the first with room, else a new one."""
        limit = self.channels_per_connection
        for connection in self._connections:
            if limit is None or len(connection.topics) < limit:
                return connection
        adapter = self._adapter.fresh() if self._connections else self._adapter
        connection = Connection(self, len(self._connections), adapter)
        self._connections.append(connection)
        return connection

    def _detach(self, topic: Topic, link: Link) -> None:
        route = self._links.get(topic)
        if route is None or not route.remove(link) or route.deliveries:
            return  # not attached (any more), or other streams of the topic still watch it
        del self._links[topic]
        self._left[topic] = time.monotonic()
        self._home.pop(topic).remove(topic)

    def _drop_topic(self, topic: Topic, error: Exception) -> None:
        """End one subscription with ``error`` (the server refused it, or never acknowledged it)."""
        route = self._links.pop(topic, None)
        connection = self._home.pop(topic, None)
        if connection is not None:
            connection.remove(topic)
        if route is not None:
            route.on_error(error)

    def _end(self) -> None:
        """A finite source is exhausted: every observer completes."""
        self._state = ConnectionState.COMPLETED
        self._release_all(lambda link: link.on_completed())

    def _fail(self, error: Exception) -> None:
        """A fatal error: every observer gets it at once, nothing retries (the connections share the server and
        the credentials, so what is fatal for one is fatal for all)."""
        self._fatal = error
        self._state = ConnectionState.FAILED
        log.info("%s client for %s stopped: %s", self.name, self.url, error)
        self._release_all(lambda link: link.on_error(error))

    def _release_all(self, notify: Callable[[_Route], None]) -> None:
        links = list(self._links.items())
        self._links.clear()  # in place: the receive loops hold this dict
        self._home.clear()
        for connection in self._connections:
            connection.release()
        for _, link in links:
            notify(link)

    # -- what the connections report -----------------------------------------------------------------------

    def _refused(self, drop: Disconnected, times: int) -> StreamkitError:
        """The error for a server that keeps closing new connections before sending anything."""
        what = (
            f"code {drop.code}"
            + (f": {drop.reason}" if drop.reason else "")
            + (f", {drop.error}" if drop.error else "")
        )
        said = (
            f"{self.url} accepted the connection and closed it before any acknowledgement or data, "
            f"{times} times in a row ({what})"
        )
        if drop.code == 1008 or 4000 <= drop.code < 5000:  # policy violation / application codes: a refusal
            return AuthenticationError(f"{said}: the server refused this client; {self._options.auth_hint}")
        return ConnectionLost(f"{said}; check the URL and that the server accepts these subscriptions")

    def _describe(self, exc: BaseException) -> str:
        refused = certificate_error(exc)
        if refused is not None:
            return (
                f"the TLS certificate of {self.url} was not accepted ({refused.verify_message}); if the server uses "
                "a private CA, pass ssl=ssl.create_default_context(cafile=...) to the client"
            )
        text = str(exc) or type(exc).__name__
        return text if isinstance(exc, StreamkitError) else f"{type(exc).__name__}: {text}"

    def _unrouted(self, topic: Topic, frame: str | bytes) -> None:
        """Data for a topic nobody observes: expected just after an unsubscribe, a problem otherwise."""
        now = time.monotonic()
        left = self._left.get(topic)
        if left is not None and now - left < IN_FLIGHT:
            return
        self._left = {t: when for t, when in self._left.items() if now - when < IN_FLIGHT}
        self._problem(
            ProblemKind.UNROUTED,
            f"data for {topic!r}, which this client did not subscribe to (subscribed: "
            f"{', '.join(map(repr, self._links)) or 'nothing'})",
            raw=clip(frame),
            topic=topic,
        )

    def _problem(
        self, kind: ProblemKind, message: str, *, raw: str | bytes = "", topic: Topic | None = None, trace: str = ""
    ) -> None:
        self.problems.add(Problem(kind, message, raw, topic, time.time(), trace))

    def _schedule_sample(self) -> None:
        if self._closed:
            return
        self.stats.sample(time.monotonic())
        self._sampler = self._loop.call_later(1.0, self._schedule_sample)


class Connection:
    """One WebSocket of a client: its share of the topics, its adapter (which re-subscribes them after every
    reconnect), its receive loop, its backoff, its gaps and its subscription acknowledgements."""

    def __init__(self, client: Client, number: int, adapter: Adapter) -> None:
        self.client = client
        self.number = number
        self.adapter = adapter
        self.topics: dict[Topic, None] = {}  # in subscription order
        self.state = ConnectionState.IDLE
        self.reconnects = 0
        self.last_gap: Gap | None = None
        self._transport: Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._idle_close: Transport | None = None  # closed by us because nothing was subscribed
        self._heard = False  # whether the current transport has brought an acknowledgement or data
        self._gap_start: float | None = None  # when it dropped; the gap ends when data flows again
        self._unacked: dict[Topic, asyncio.TimerHandle] = {}  # subscriptions sent, not acknowledged yet
        self._asked: dict[Topic, int] = {}  # how often each topic was asked for on this transport

    def snapshot(self) -> dict[str, Any]:
        return {
            "connection": self.number,
            "state": str(self.state),
            "topics": len(self.topics),
            "reconnects": self.reconnects,
            "last_gap_s": round(self.last_gap.duration, 3) if self.last_gap else None,
        }

    # -- topics (loop thread) ------------------------------------------------------------------------------

    def add(self, topic: Topic) -> None:
        self.topics[topic] = None
        self.adapter.subscribe(topic)
        if not self.adapter.acks:
            self.client._events.on_next(Subscribed(topic))
        if self._task is None or self._task.done():
            client = self.client
            self._task = client._loop.create_task(self._run(), name=f"streamkit {client.name} {client.url}")
        else:
            self._flush_soon()

    def remove(self, topic: Topic) -> None:
        del self.topics[topic]
        self._acknowledged(topic)
        self.adapter.unsubscribe(topic)
        self._flush_soon(then_close=not self.topics)

    def release(self) -> None:
        """Forget every topic and stop (the client failed or ended)."""
        for topic in list(self.topics):
            self._acknowledged(topic)
            self.adapter.unsubscribe(topic)
        self.topics.clear()
        self.adapter.data_to_send()
        self._stop()

    async def close(self) -> None:
        self.topics.clear()
        self._stop()
        if self._transport is not None:  # the receive loop keeps draining until the server's close frame
            with contextlib.suppress(Exception):
                await self._transport.close()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _stop(self) -> None:
        self._stop_acks()
        if self._wake is not None:
            self._wake.set()

    def _flush_soon(self, *, then_close: bool = False) -> None:
        transport = self._transport
        if transport is not None:
            self.client._loop.create_task(self._flush(transport, then_close=then_close))
        elif then_close and self._wake is not None:
            self._wake.set()  # stop waiting to reconnect: nothing is subscribed

    async def _flush(self, transport: Transport, *, then_close: bool = False) -> None:
        try:
            for frame in self.adapter.data_to_send():
                for tap in self.client._taps:
                    tap(time.time(), "out", frame, None)
                await transport.send(frame)
            if then_close and not self.topics:
                self._idle_close = transport
                await transport.close()
            else:
                self._await_acks(transport)
        except (TransportClosed, OSError):
            pass  # the receive loop sees the drop and reconnects; the adapter re-sends from its record

    # -- acknowledgements ----------------------------------------------------------------------------------

    def _await_acks(self, transport: Transport) -> None:
        """Start the clock on every subscription sent and not yet acknowledged on this transport."""
        timeout = self.client.subscribe_timeout
        if timeout is None or not self.adapter.acks or transport is not self._transport:
            return
        for topic in self.topics:
            if topic not in self._unacked and topic not in self._asked:
                self._asked[topic] = 1
                self._unacked[topic] = self.client._loop.call_later(timeout, self._unacknowledged, topic, transport)

    def _acknowledged(self, topic: Topic) -> None:
        timer = self._unacked.pop(topic, None)
        if timer is not None:
            timer.cancel()

    def _unacknowledged(self, topic: Topic, transport: Transport) -> None:
        self._unacked.pop(topic, None)
        if transport is not self._transport or topic not in self.topics:
            return
        client = self.client
        timeout = client.subscribe_timeout
        if self._asked[topic] >= 2:
            client._drop_topic(
                topic,
                SubscriptionError(
                    f"{client.name} never acknowledged the subscription to {topic!r} (asked twice, waited "
                    f"{timeout:g} s each time); check that it exists and that these credentials may read it",
                    topic=topic,
                    detail="not acknowledged",
                ),
            )
            return
        client._problem(
            ProblemKind.UNACKNOWLEDGED,
            f"{client.name} did not acknowledge the subscription to {topic!r} within {timeout:g} s; asking again",
            topic=topic,
        )
        self._asked[topic] += 1
        self.adapter.resubscribe(topic)
        assert timeout is not None
        self._unacked[topic] = client._loop.call_later(timeout, self._unacknowledged, topic, transport)
        self._flush_soon()

    # -- the connection loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        client = self.client
        self._wake = asyncio.Event()
        delays = client._reconnect.delays()
        attempt = 0
        closed_at_once = 0  # connections in a row closed before anything arrived
        while self.topics and not client._closed:
            attempt += 1
            self.state = ConnectionState.CONNECTING
            client._events.on_next(Connecting(client.url, attempt, self.number))
            try:
                transport = await client._open()
            except asyncio.CancelledError:
                raise
            except TransportEnded:
                client._end()
                return
            except Exception as exc:
                if not await self._retry(exc, attempt, delays):
                    return
                continue
            self._transport = transport
            self._heard = False
            self._asked.clear()
            self.state = ConnectionState.CONNECTED
            client._events.on_next(Connected(client.url, self.number))
            self.adapter.connection_made()
            try:
                await self._flush(transport)
                await self._receive(transport)
            except TransportEnded:
                client._end()
                return
            except TransportClosed as closed:
                drop = Disconnected(closed.code, closed.reason, connection=self.number)
                if closed.code == 1009:  # our own limit: say so, the connection is reopened
                    client._problem(
                        ProblemKind.OVERSIZED,
                        "a frame larger than max_size arrived, so the connection was closed and is reopened; "
                        "pass max_size= (bytes) to the client to accept such frames",
                    )
            except (OSError, EOFError) as exc:
                drop = Disconnected(1006, "", error=f"{type(exc).__name__}: {exc}", connection=self.number)
            finally:
                self._transport = None
                self._stop_acks()
            if self._heard:  # a working connection: the next drop starts the backoff afresh
                closed_at_once, attempt = 0, 0
                delays = client._reconnect.delays()
            if client._closed or not self.topics:
                break
            if self._idle_close is transport:  # closed by us when idle, then subscribed again: not a drop
                self._idle_close = None
                continue
            client._events.on_next(drop)
            if not self._heard:
                closed_at_once += 1
                if closed_at_once >= CLOSED_AT_ONCE:
                    client._fail(client._refused(drop, closed_at_once))
                    return
            if self._gap_start is None:
                self._gap_start = time.time()
            log.info(
                "%s connection %d to %s dropped (code %s); reconnecting",
                client.name,
                self.number,
                client.url,
                drop.code,
            )
            if not await self._retry(ConnectionLost(str(drop)), attempt, delays, first=True):
                return
        if not client._closed:
            self.state = ConnectionState.IDLE

    def _stop_acks(self) -> None:
        for timer in self._unacked.values():
            timer.cancel()
        self._unacked.clear()

    async def _retry(self, exc: BaseException, attempt: int, delays: Iterator[float], *, first: bool = False) -> bool:
        """Wait before the next attempt, or fail the client when ``exc`` is fatal. Returns whether to go on."""
        client = self.client
        decision = Decision.RETRY if first else client._reconnect.classify(exc)
        if decision is Decision.FATAL:
            client._fail(exc if isinstance(exc, StreamkitError) else ConnectionLost(client._describe(exc)))
            return False
        limit = client._reconnect.max_attempts
        if limit is not None and attempt >= limit:
            client._fail(ConnectionLost(f"gave up on {client.url} after {attempt} attempts: {client._describe(exc)}"))
            return False
        delay = client._reconnect.wait(decision, exc, delays)
        self.state = ConnectionState.RECONNECTING
        client._events.on_next(Reconnecting(attempt, delay, client._describe(exc), self.number))
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        return True

    async def _receive(self, transport: Transport) -> None:
        client = self.client
        recv = transport.recv
        parse = self.adapter.parse
        parse_for = self.adapter.parse_for
        links = client._links
        stats = client.stats
        per_topic = stats.per_topic
        unacked = self._unacked
        clock = client.clock
        clock_at = clock.to_seconds(clock.now) if clock is not None else 0.0
        while True:
            for frame, at, routed in await recv():
                if clock is not None and at > clock_at:
                    clock.advance_to(at)  # what ends before this frame (windows) closes first, as it did live
                    clock_at = at
                # A recording routes by the subscription it recorded: numbered subscriptions (SMC) belong to the
                # recorded connection, not to this one.
                event = parse(frame) if routed is None else parse_for(frame, routed)
                stats.bytes += len(frame)
                if client._taps:
                    for tap in client._taps:
                        tap(at, "in", frame, event.topic if type(event) is Data else None)
                if type(event) is not Data:
                    self._control(event, transport)
                    continue
                topic, payload = event
                if not self._heard:
                    self._hear()
                if unacked and topic in unacked:  # data flowing is as good as an acknowledgement
                    self._acknowledged(topic)
                route = links.get(topic)
                if route is None:
                    if routed is None:  # a recording holds other subscriptions' frames too: not a problem
                        client._unrouted(topic, frame)
                    continue
                per_topic[topic] += 1
                for shape, on_next, _ in route.deliveries:  # each record built from the payload in its own shape
                    on_next(shape(payload, topic, at))

    def _hear(self) -> None:
        """The connection works (an acknowledgement or data came): a gap since the last drop ends here."""
        if self._heard:
            return
        self._heard = True
        if self._gap_start is not None:
            stats = self.client.stats
            self.reconnects += 1
            stats.reconnects += 1
            self.last_gap = stats.last_gap = Gap(self._gap_start, time.time(), self.number)
            self._gap_start = None
            self.client._events.on_next(self.last_gap)

    def _control(self, event: Any, transport: Transport) -> None:
        client = self.client
        if isinstance(event, Malformed):
            client._problem(ProblemKind.MALFORMED, event.reason, raw=event.raw)
        elif isinstance(event, Unknown):
            client._problem(ProblemKind.UNKNOWN, "a message the protocol does not define", raw=event.raw)
        elif isinstance(event, SubscribeFailed):
            self._hear()
            client._events.on_next(event)
            if event.topic in self.topics:
                client._drop_topic(
                    event.topic,
                    SubscriptionError(
                        f"{client.name} refused the subscription to {event.topic!r}: {event.detail}",
                        topic=event.topic,
                        detail=event.detail,
                    ),
                )
        elif isinstance(event, (Subscribed, Unsubscribed)):
            self._hear()
            self._acknowledged(event.topic)
            client._events.on_next(event)
        if self.adapter.has_data_to_send:
            client._loop.create_task(self._flush(transport))
