"""What LiveFrame and LivePlot share: a subscription, batched ingest, a frame budget, pause/resume/close.

Records are queued by the observer and taken in batches at most ``fps`` times a second by a timer on streamkit's
loop (the kernel's own loop in Jupyter), which is also the only place a widget is touched. The timer and the
observer hold the view weakly: a view nobody references any more stops and unsubscribes.

A record costs the view one ``list.append`` (the observer is the queue's own ``append``: no lock, no call into the
view); everything else is done per batch, with the batch's types looked at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable
from datetime import date, datetime
from numbers import Real
from operator import attrgetter
from typing import Any

from reactivex import Observable, abc

from .. import runtime
from .._time import clock_texts, epoch_seconds
from ..core import Message, ViewState, Window
from ..notebook.registry import track

__all__ = [
    "TIME_NAMES",
    "LiveView",
    "clock_columns",
    "column_texts",
    "is_time_column",
    "is_time_value",
    "rows_of",
    "span_of",
    "value_text",
    "window_labels",
]

#: Field names that hold a time whatever their values look like.
TIME_NAMES = ("_time", "time", "timestamp", "ts", "last_seen", "received", "window_start", "window_end")

#: Epoch seconds a value must fall between to be taken for a time by its value alone (2001-09-09 to 2100):
#: smaller epoch numbers are far more often counters, durations or sizes than times.
PLAUSIBLE_SECONDS = (1e9, 4102444800.0)


def _weak(view: LiveView, method: Callable[[LiveView, Any], None]) -> Callable[..., None]:
    ref = weakref.ref(view)

    def call(arg: Any = None) -> None:
        target = ref()
        if target is not None:
            method(target, arg)

    return call


_RECORDS = frozenset({Message, dict})
_origin = attrgetter("origin")
_received = attrgetter("received")


def rows_of(batch: list[Any]) -> list[Any]:
    """A batch of records with any DataFrame (a window's aggregate) spread into its rows (a batch of only
    records, the usual case, is given back as it is)."""
    if {*map(type, batch)} <= _RECORDS:
        return batch
    rows: list[Any] = []
    for item in batch:
        if hasattr(item, "to_dict") and hasattr(item, "columns"):
            rows.extend(item.to_dict("records"))
        else:
            rows.append(item)
    return rows


def is_time_value(value: Any) -> bool:
    """Whether ``value`` reads as a time by itself: a ``datetime``, ISO 8601 text, or an epoch number whose unit
    by magnitude (:func:`streamkit._time.unit_of`) puts it between 2001 and 2100.

    >>> is_time_value(1_795_455_844), is_time_value(1_795_455_844_123), is_time_value("2026-11-23T19:54:04Z")
    (True, True, True)
    >>> is_time_value(42), is_time_value(3.5e6), is_time_value("lab-a"), is_time_value(True)
    (False, False, False, False)
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, (datetime, date)):
        return value == value  # pandas NaT is not a time
    if isinstance(value, str):  # ISO 8601 starts with the year: other text is not tried
        return value[:1].isdigit() and epoch_seconds(value) is not None
    seconds = epoch_seconds(value)
    if seconds is None:
        return False
    if type(value).__name__ == "datetime64":
        return True
    low, high = PLAUSIBLE_SECONDS
    return low <= seconds < high


def is_time_column(name: Any, values: Iterable[Any], *, sample: int = 20) -> bool:
    """Whether a column holds times: named like one (:data:`TIME_NAMES`), or its first ``sample`` values that
    are not missing all read as times (:func:`is_time_value`). A column of flags holds none, whatever its name.

    >>> is_time_column("ts", []), is_time_column("t", [1_795_455_844.5, None, 1_795_455_845.0])
    (True, True)
    >>> is_time_column("bytes", [1_795_455_844, 12]), is_time_column("t", [None]), is_time_column("time", [True])
    (False, False, False)
    """
    named = name in TIME_NAMES
    seen = 0
    for value in values:
        if _missing(value):
            continue
        if isinstance(value, bool) or not (named or is_time_value(value)):
            return False
        seen += 1
        if seen >= sample:
            break
    return named or seen > 0


def _missing(value: Any) -> bool:
    """None, NaN, or pandas' NaT."""
    return value is None or (isinstance(value, (float, datetime)) and value != value)


def _is_number(value: Any) -> bool:
    """A real number (numpy's too), not a flag, not NaN."""
    kind = type(value)
    if kind is int or kind is float:  # the usual cell, without the ABC check
        return bool(value == value)
    return isinstance(value, Real) and kind is not bool and not _missing(value)


def value_text(value: Any) -> str | None:
    """A value as a table cell's text: None when missing (None, NaN, NaT), containers as compact JSON, else ``str``.

    >>> value_text(None), value_text(float("nan")), value_text(["10.0.0.1", 2]), value_text(6)
    (None, None, '["10.0.0.1",2]', '6')
    """
    if _missing(value):
        return None
    if type(value) is str:
        return value
    if isinstance(value, (dict, list, tuple)):
        from .._json import dumps

        try:
            return dumps(value)
        except TypeError:
            return str(value)
    return str(value)


def _text(value: Any) -> str:
    """A value that is not a number as text: missing as ``-``, containers as compact JSON."""
    text = value_text(value)
    return "-" if text is None else text


def _number_texts(values: list[Any]) -> list[str]:
    """A column of numbers as text that lines up: thousands separators, the decimals the column needs (at most 3;
    none for whole numbers, as integers that pandas made floats), the tiny and the huge in scientific notation."""
    numbers = [v for v in values if not _missing(v)]
    if any(abs(v) >= 1e15 or 0 < abs(v) < 1e-3 for v in numbers):
        return ["-" if _missing(v) else f"{v:.6g}" for v in values]
    decimals = max((len(f"{round(v, 3):.3f}".rstrip("0").partition(".")[2]) for v in numbers), default=0)
    return ["-" if _missing(v) else f"{v:,.{decimals}f}" for v in values]


def column_texts(values: list[Any]) -> tuple[list[str], bool]:
    """A table column's values as text, and whether it is a column of numbers (to right-align): numbers with
    thousands separators and the decimals the column needs (at most 3), missing values as ``-``, containers as
    compact JSON, anything else as it is. Times are the caller's (:func:`streamkit._time.clock_texts`).

    >>> column_texts([5.0, 1234.5, None]), column_texts([0.123456]), column_texts(["ap-1", None, ["a", 1]])
    ((['5.0', '1,234.5', '-'], True), (['0.123'], True), (['ap-1', '-', '["a",1]'], False))
    """
    number = any(_is_number(v) for v in values) and all(_missing(v) or _is_number(v) for v in values)
    return (_number_texts(values), True) if number else ([_text(v) for v in values], False)


def clock_columns(columns: dict[Any, list[Any]]) -> tuple[dict[Any, list[str]], str]:
    """Columns of times (:func:`is_time_column`) as UTC text a person reads, all in one style (the time of day
    alone when every time falls on one UTC day), missing as ``""``; and what to say about them. A column in which
    no value reads as a time is left out.

    >>> clock_columns({"ts": [1_795_455_844.5, None], "seen": [1_795_455_851, 1_795_455_852], "at": ["lab"]})
    ({'ts': ['17:44:04.500', ''], 'seen': ['17:44:11', '17:44:12']}, '; times UTC, 2026-11-23')
    """
    every, day = clock_texts(value for values in columns.values() for value in values)
    if not any(every):
        return {}, ""
    texts = {}
    for name, values in columns.items():
        column = clock_texts(values, dated=day is None)[0]  # all columns alike: dated unless on one day
        if any(column):
            texts[name] = ["" if text is None else text for text in column]
    return texts, "; times UTC" + (f", {day.isoformat()}" if day is not None else "")


def window_labels(starts: Iterable[str], ends: Iterable[str]) -> list[str]:
    """A window's ``window_start`` and ``window_end`` texts as one label each.

    >>> window_labels(["17:44:00", ""], ["17:44:10", ""])
    ['17:44:00\N{EN DASH}17:44:10', '']
    """
    return [f"{a}\N{EN DASH}{b}" if a or b else "" for a, b in zip(starts, ends, strict=True)]


def span_of(item: Any) -> tuple[float, float] | None:
    """The time an item stands for, in epoch seconds: a record's arrival (on a replay, the recorded arrival), a
    time window's bounds, a window aggregate's ``window_start``/``window_end``; None when it carries no time.

    >>> from streamkit.core import Message
    >>> span_of(Message({"cpu": 3}, "/t", 1_700_000_000.0)), span_of(Window(60.0, 120.0, [])), span_of({"n": 1})
    ((1700000000.0, 1700000000.0), (60.0, 120.0), None)
    """
    if isinstance(item, Message):
        return item.received, item.received
    if isinstance(item, Window):
        return None if item.by_count else (item.start, item.end)
    if hasattr(item, "columns") and "window_start" in item.columns and len(item):
        low = epoch_seconds(item["window_start"].min())
        high = epoch_seconds(item["window_end"].max()) if "window_end" in item.columns else low
        if low is not None and high is not None:
            return low, high
    return None


class LiveView(ABC):
    """Base of the live sinks. Subclasses take batches (:meth:`_ingest`) and draw (:meth:`_render`)."""

    def __init__(self, source: Observable[Any], *, fps: float = 4.0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.fps = fps
        #: The Observable the view shows (an archive of the view subscribes to it too).
        self.source = source
        self.paused = False
        self.closed = False
        self.completed = False
        self.error: BaseException | None = None
        #: Times (loop clock) at which the view was redrawn; bounded, for tests and the health view.
        self.renders: list[float] = []
        self._pending: list[Any] = []  # appended to by the observer; only ever emptied in place
        self._lock = threading.Lock()  # between flushers (the loop's timer, a DataFrame asked for on another thread)
        self._drawn_version = -1
        self._widget: Any = None
        self._arrivals = 0
        self._origins: set[Hashable] = set()
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._loop = runtime.get_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._subscription: abc.DisposableBase = source.subscribe(
            self._taker(), _weak(self, LiveView._on_error), _weak(self, LiveView._on_completed)
        )
        runtime.call_soon(self._loop, _weak(self, LiveView._schedule))
        weakref.finalize(self, self._subscription.dispose)
        track(self, "view")  # weakly: sk.views() lists it, sk.close_all() or a re-run of its cell stops it

    # -- public --------------------------------------------------------------------------------------------

    def pause(self) -> None:
        """Freeze the display (records are still collected: nothing is lost)."""
        self.paused = True

    def resume(self) -> None:
        """Show the latest state again and keep updating."""
        self.paused = False

    def close(self) -> None:
        """Unsubscribe and stop updating; what was collected stays readable."""
        if self.closed:
            return
        self.closed = True
        self._subscription.dispose()
        if self._timer is not None:
            runtime.call_soon(self._loop, self._timer.cancel)
        self._flush()
        runtime.call_soon(self._loop, self._draw, True)

    @property
    def status(self) -> ViewState:
        if self.error is not None:
            return ViewState.ERROR
        if self.closed:
            return ViewState.CLOSED
        if self.completed:
            return ViewState.COMPLETED
        return ViewState.PAUSED if self.paused else ViewState.LIVE

    def seen(self) -> tuple[set[Hashable], float | None, float | None]:
        """What the view has received so far, for reports: the subscriptions its records came from, and the
        first and last time they stand for (records' arrival times, windows' bounds; epoch seconds)."""
        self._flush()
        return set(self._origins), self._first_at, self._last_at

    @property
    def rate(self) -> float:
        """Records per second arriving, over about the last second."""
        return self._rate

    # -- observer (any thread) -----------------------------------------------------------------------------

    def _on_error(self, error: Any) -> None:
        self.error = error
        runtime.call_soon(self._loop, _weak(self, LiveView._finish))

    def _on_completed(self, _: Any = None) -> None:
        self.completed = True
        runtime.call_soon(self._loop, _weak(self, LiveView._finish))

    # -- loop thread ---------------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Move queued records into the state (from any thread).

        The queue is the observer's own list, so it is emptied in place: what is there is copied, then exactly
        that many items are deleted from its front (records appended meanwhile stay for the next flush).
        """
        with self._lock:
            pending = self._pending
            if not pending:
                return
            batch = pending[:]
            del pending[: len(batch)]
            self._arrivals += len(batch)
            self._note(batch)
            self._ingest(batch)

    def _note(self, batch: list[Any]) -> None:
        if {*map(type, batch)} == {Message}:  # the usual batch: one pass in C for origins, one for the span
            self._origins.update(map(_origin, batch))
            first, last = min(map(_received, batch)), max(map(_received, batch))
            self._first_at = first if self._first_at is None else min(self._first_at, first)
            self._last_at = last if self._last_at is None else max(self._last_at, last)
            return
        self._origins.update(item.origin for item in batch if isinstance(item, Message))
        for item in batch:  # items without a time (a plain dict, a count window) leave the span as it is
            span = span_of(item)
            if span is not None:
                first, last = span
                self._first_at = first if self._first_at is None else min(self._first_at, first)
                self._last_at = last if self._last_at is None else max(self._last_at, last)

    def _finish(self, _: Any = None) -> None:
        """The stream ended (completed or failed): show the last records and say so, paused or not."""
        self._flush()
        self._draw(force=True)

    def _schedule(self, _: Any = None) -> None:
        if self.closed:
            return
        self._timer = self._loop.call_later(1.0 / self.fps, _weak(self, LiveView._tick))

    def _tick(self, _: Any = None) -> None:
        self._flush()
        now = time.monotonic()
        start, count = self._rate_mark
        if now - start >= 1.0:
            self._rate = (self._arrivals - count) / (now - start)
            self._rate_mark = (now, self._arrivals)
        self._draw()
        self._schedule()

    def _draw(self, force: bool = False) -> None:
        if self._widget is None or (self.paused and not force):
            return
        version = self._version()
        if version == self._drawn_version and not force:
            return
        self._drawn_version = version
        self.renders.append(self._loop.time())
        del self.renders[:-1000]
        self._render()

    # -- what subclasses provide ---------------------------------------------------------------------------

    def _taker(self) -> Callable[[Any], None]:
        """The observer's ``on_next``: it must not hold the view (only what the view holds), and it ends by
        appending to ``self._pending``. By default the queue's own ``append``; a subclass may turn each record
        into what it keeps as it arrives, so the record itself is free at once."""
        return self._pending.append

    @abstractmethod
    def _ingest(self, batch: list[Any]) -> None: ...

    @abstractmethod
    def _version(self) -> int:
        """A number that changes whenever there is something new to draw."""

    @abstractmethod
    def _render(self) -> None: ...
