"""The core types every part of streamkit shares, with no I/O: messages, topics, windows, problems, states, and
:class:`Stream`, the hot shared Observable that subscriptions and their pipelines are.

Importing this module loads reactivex and nothing that touches the network, pandas or widgets.

>>> from streamkit.core import Message, Stream, topic_text
>>> m = Message({"name": "fw-berlin", "status": "online"}, ("context", "fw_single"), 1700000000.0)
>>> topic_text(m.origin), m["status"]
('context:fw_single', 'online')
"""

from __future__ import annotations

import threading
import traceback
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias, TypeVar

from reactivex import Observable, Subject, abc
from reactivex.disposable import Disposable

from ._time import span_text

__all__ = [
    "ConnectionState",
    "Message",
    "Problem",
    "ProblemKind",
    "Problems",
    "Stream",
    "Topic",
    "ViewState",
    "Window",
    "topic_text",
]

T = TypeVar("T")

#: What a subscription is keyed by: a Mist channel, an SMC ``("context", name)`` / ``("element", href)``
#: pair, or a feed's routing key.
Topic: TypeAlias = Hashable


def topic_text(topic: Topic) -> str:
    """A topic as people write it: a channel as it is, SMC's ``("context", "fw_single")`` as ``context:fw_single``.

    >>> topic_text(("context", "fw_single"))
    'context:fw_single'
    >>> topic_text("/sites/s1/stats/devices")
    '/sites/s1/stats/devices'
    """
    return ":".join(map(str, topic)) if isinstance(topic, tuple) else str(topic)


class Message(dict[str, Any]):
    """One decoded message: a plain ``dict`` of the payload to anything that reads it, which also knows where it
    came from (``origin``: the channel, context or element) and when it arrived (``received``, epoch seconds).
    Keeping these as attributes means they can never collide with payload fields.

    A payload that is not a JSON object arrives as ``{"value": payload}``.

    >>> m = Message({"mac": "5c5b35000001", "cpu_util": 7}, "/sites/s1/stats/devices", 1700000000.0)
    >>> m["cpu_util"], m.origin, m.received
    (7, '/sites/s1/stats/devices', 1700000000.0)
    >>> Message(42, "/test", 0.0)
    Message({'value': 42}, origin='/test')
    """

    __slots__ = ("origin", "received")

    def __init__(self, payload: Any, origin: Topic, received: float) -> None:
        super().__init__(payload if isinstance(payload, dict) else {"value": payload})
        self.origin = origin
        self.received = received

    def __repr__(self) -> str:
        return f"Message({dict.__repr__(self)}, origin={self.origin!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (dict(self), self.origin, self.received))


@dataclass(frozen=True, slots=True)
class Window:
    """One window's messages. ``start``/``end`` are epoch seconds (the clock's seconds for processing time), or
    positions ``[start, end)`` for count windows (``by_count``).

    Its repr says when, in UTC (:func:`~streamkit._time.span_text`), or which positions:

    >>> Window(1_795_463_640.0, 1_795_463_700.0, [{"n": 1}, {"n": 2}], key="ap-1")
    <Window 19:54:00\N{EN DASH}19:55:00 UTC key='ap-1', 2 records>
    >>> Window(100, 200, [{"n": 1}] * 100, by_count=True)
    <Window positions 100\N{EN DASH}199, 100 records>
    """

    start: float
    end: float
    items: list[Any] = field(repr=False)
    key: Hashable | None = None
    by_count: bool = False

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        key = f" key={self.key!r}" if self.key is not None else ""
        if self.by_count:
            when = f"positions {self.start:g}\N{EN DASH}{self.end - 1:g}"
        else:
            when = span_text(self.start, self.end, "s") or f"[{self.start:g}, {self.end:g})"
        count = len(self.items)
        return f"<Window {when}{key}, {count:,} record{'' if count == 1 else 's'}>"


class ProblemKind(str, Enum):
    """What went wrong, in a :class:`Problem` that did not end a stream; compares equal to its text.

    >>> ProblemKind.MALFORMED == "malformed", str(ProblemKind.OBSERVER)
    (True, 'observer')
    """

    #: A frame that broke the protocol (invalid JSON, wrong shape); its raw frame is kept.
    MALFORMED = "malformed"
    #: A well-formed message the protocol gives no meaning; kept, not dropped.
    UNKNOWN = "unknown"
    #: A frame larger than the client's ``max_size``: the connection was closed and reopened.
    OVERSIZED = "oversized"
    #: An observer (your ``on_next``, a view) raised; ``traceback`` says where.
    OBSERVER = "observer"
    #: Data for a subscription this client does not have (not one it just left); its raw frame is kept.
    UNROUTED = "unrouted"
    #: A subscription the server did not acknowledge in time; it is asked for again once, then fails.
    UNACKNOWLEDGED = "unacknowledged"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Problem:
    """Something went wrong without ending a stream (see :class:`ProblemKind` for every kind).

    ``raw`` keeps (the start of) the frame that caused it and ``traceback`` the exception's, so nothing is lost
    silently. A client's problems are ``client.problems``; here a simulator breaks half its frames:

    >>> import streamkit as sk
    >>> from streamkit.sim import Faults, MistSimulator
    >>> with MistSimulator(seed=1, sites=1, aps=2, interval=0.05, faults=Faults(malformed=0.5)) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=4, timeout=10)
    ...         problem = mist.problems.newest
    >>> problem.kind, "is not valid JSON" in problem.message, problem.raw.startswith(b'{"event":"data"')
    (<ProblemKind.MALFORMED: 'malformed'>, True, True)
    """

    kind: ProblemKind
    message: str
    raw: str | bytes = ""
    topic: Topic | None = None
    at: float = 0.0
    traceback: str = ""


class Problems(Observable[Problem]):
    """A client's problems under one name: an Observable of each new :class:`Problem` as it happens, and the
    most recent ``keep`` of them (``len``, iteration, :attr:`newest`), with :attr:`counts` by kind.

    >>> problems = Problems()
    >>> problems.add(Problem(ProblemKind.MALFORMED, "invalid JSON", raw=b"{"))
    >>> len(problems), problems.newest.kind, problems.counts[ProblemKind.MALFORMED]
    (1, <ProblemKind.MALFORMED: 'malformed'>, 1)
    """

    def __init__(self, keep: int = 100) -> None:
        super().__init__()
        self._recent: deque[Problem] = deque(maxlen=keep)
        self._subject: Subject[Problem] = Subject()
        #: How many problems of each kind there were, all along.
        self.counts: Counter[ProblemKind] = Counter()

    def add(self, problem: Problem) -> None:
        self._recent.append(problem)
        self.counts[problem.kind] += 1
        self._subject.on_next(problem)

    def complete(self) -> None:
        self._subject.on_completed()

    def _subscribe_core(
        self, observer: abc.ObserverBase[Problem], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._subject.subscribe(observer)

    def __len__(self) -> int:
        return len(self._recent)

    def __iter__(self) -> Iterator[Problem]:
        return iter(list(self._recent))

    @property
    def newest(self) -> Problem | None:
        """The newest problem (None: there was none)."""
        return self._recent[-1] if self._recent else None

    def __repr__(self) -> str:
        counts = ", ".join(f"{kind.value} {n}" for kind, n in self.counts.items()) or "none"
        return f"<Problems {counts}>"


class ConnectionState(str, Enum):
    """Where a client stands (``client.state``); compares equal to its text, e.g. ``"connected"``.

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, sites=1, aps=1, interval=0.05) as sim:
    ...     mist = sk.mist(url=sim.url, token=sim.token)
    ...     before = mist.state                      # nothing subscribed: no connection
    ...     devices = mist.subscribe(sim.channel("device_stats"))
    ...     subscription = devices.subscribe(lambda message: None)
    ...     rows = sk.collect(devices, count=1, timeout=10)
    ...     during = mist.state
    ...     subscription.dispose()
    ...     mist.close()
    >>> before, during, mist.state
    (<ConnectionState.IDLE: 'idle'>, <ConnectionState.CONNECTED: 'connected'>, <ConnectionState.CLOSED: 'closed'>)
    """

    IDLE = "idle"  # nothing subscribed, no connection
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # waiting before the next attempt
    COMPLETED = "completed"  # a finite source (a recording) is exhausted
    FAILED = "failed"  # a fatal error (refused credentials ...): nothing retries
    CLOSED = "closed"  # close() was called

    def __str__(self) -> str:
        return self.value


class ViewState(str, Enum):
    """Where a live view stands (``view.status``); compares equal to its text, e.g. ``"live"``.

    >>> import reactivex, streamkit as sk
    >>> frame = sk.LiveFrame(reactivex.never())
    >>> frame.status == "live"
    True
    >>> frame.pause(); frame.status
    <ViewState.PAUSED: 'paused'>
    >>> frame.close(); frame.status
    <ViewState.CLOSED: 'closed'>
    >>> sk.LiveFrame(reactivex.of({"n": 1})).status   # the stream ended
    <ViewState.COMPLETED: 'completed'>
    """

    LIVE = "live"
    PAUSED = "paused"  # the display is frozen; messages are still collected
    COMPLETED = "completed"  # the stream ended
    ERROR = "error"  # the stream failed; the view says why
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


Connect: TypeAlias = Callable[[abc.ObserverBase[Any]], abc.DisposableBase]
ObserverFailed: TypeAlias = Callable[[BaseException, str], None]


class Stream(Observable[T]):
    """A hot Observable that all its observers share: the first observer connects it upstream, later ones join,
    the last one to dispose disconnects it, and the next observer connects afresh.

    A client's subscriptions are Streams, and so is every ``stream.pipe(...)`` of a Stream: a pipeline shown by a
    LiveFrame, a LivePlot and an archive runs each message through each operator once, however many sinks watch
    it. Every operator's state belongs to one connection of its pipeline and starts afresh with the next.

    ``clock`` is the scheduler time-based operators use when given none: None for live sources (streamkit's loop
    scheduler), the recording's clock on a replay. An observer that raises does not stop the others: the error
    goes to ``observer_failed`` (the client's problems) when given, else it propagates.

    >>> import reactivex, reactivex.operators
    >>> calls = []
    >>> numbers = Stream.of(reactivex.from_iterable([1, 2, 3]))
    >>> doubled = numbers.pipe(reactivex.operators.map(lambda n: calls.append(n) or 2 * n))
    >>> seen = []
    >>> _ = doubled.subscribe(seen.append)
    >>> seen, calls
    ([2, 4, 6], [1, 2, 3])
    """

    def __init__(
        self, connect: Connect, *, clock: abc.SchedulerBase | None = None, observer_failed: ObserverFailed | None = None
    ) -> None:
        super().__init__()
        self.clock = clock
        self._connect = connect
        self._observer_failed = observer_failed
        self._lock = threading.RLock()
        self._observers: tuple[abc.ObserverBase[T], ...] = ()
        self._link: _Link[T] | None = None

    @classmethod
    def of(
        cls,
        source: Observable[T],
        *,
        clock: abc.SchedulerBase | None = None,
        observer_failed: ObserverFailed | None = None,
    ) -> Stream[T]:
        """``source`` shared by all its observers; the operators in it see ``clock`` as their subscription's
        scheduler."""
        if isinstance(source, Stream) and source.clock is clock:
            return source

        def connect(link: abc.ObserverBase[T]) -> abc.DisposableBase:
            return source.subscribe(link, scheduler=clock)

        return cls(connect, clock=clock, observer_failed=observer_failed)

    def pipe(self, *operators: Callable[[Any], Any]) -> Any:
        """The operators applied in order, as one shared pipeline (a :class:`Stream` on the same clock)."""
        if not operators:
            return self
        result: Any = self
        for operator in operators:
            result = operator(result)
        return Stream.of(result, clock=self.clock, observer_failed=self._observer_failed)

    @property
    def observers(self) -> int:
        """How many observers watch this stream now."""
        return len(self._observers)

    def _subscribe_core(
        self, observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        with self._lock:
            self._observers = (*self._observers, observer)
            if self._link is None:
                link = self._link = _Link(self)
                upstream = self._connect(link)
                if self._link is link:
                    link.upstream = upstream
                else:
                    upstream.dispose()  # it ended while connecting (a finite source)
        return Disposable(lambda: self._leave(observer))

    def _leave(self, observer: abc.ObserverBase[T]) -> None:
        upstream = None
        with self._lock:
            if observer not in self._observers:
                return
            self._observers = tuple(o for o in self._observers if o is not observer)
            if not self._observers and self._link is not None:
                upstream, self._link = self._link.upstream, None
        if upstream is not None:
            upstream.dispose()

    def _end(self, link: _Link[T]) -> tuple[abc.ObserverBase[T], ...]:
        """The link's upstream ended: the observers it had, and a fresh start for the next one."""
        with self._lock:
            if self._link is not link:
                return ()
            observers, self._observers, self._link = self._observers, (), None
        return observers

    def _failed(self, error: BaseException) -> None:
        if self._observer_failed is None:
            raise error
        self._observer_failed(error, "".join(traceback.format_exception(error)))


class _Link(abc.ObserverBase[T]):
    """One connection of a :class:`Stream` to its upstream: hands every notification to all its observers."""

    __slots__ = ("stream", "upstream")

    def __init__(self, stream: Stream[T]) -> None:
        self.stream = stream
        self.upstream: abc.DisposableBase | None = None

    def on_next(self, value: T) -> None:
        stream = self.stream
        if stream._link is not self:
            return
        for observer in stream._observers:
            try:
                observer.on_next(value)
            except Exception as exc:
                stream._failed(exc)

    def on_error(self, error: Exception) -> None:
        for observer in self.stream._end(self):
            try:
                observer.on_error(error)
            except Exception as exc:
                self.stream._failed(exc)

    def on_completed(self) -> None:
        for observer in self.stream._end(self):
            try:
                observer.on_completed()
            except Exception as exc:
                self.stream._failed(exc)
