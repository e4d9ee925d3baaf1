"""Windows: by count, by processing time, by event time (with a watermark), and per-key sessions.

Each operator emits :class:`Window` results carrying their bounds (and key, when keyed). Time-based ones take
an optional ``scheduler`` and read time only from it, so tests run them in virtual time.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

import reactivex
from reactivex import Observable, Subject, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable

from .._time import check_unit, time_of
from ..core import Message, Window
from ._base import (
    KeyFn,
    Operator,
    PerSubscription,
    described,
    guarded,
    key_function,
    now,
    pick_scheduler,
    seconds_range,
)
from .aggregate import BATCH, Folds, bounds_of

__all__ = ["Window", "count_window", "event_windows", "session", "sliding", "tumbling"]


def count_window(size: int, step: int | None = None) -> Operator:
    """Windows of ``size`` records, a new one every ``step`` records (default ``size``: tumbling).

    On completion the windows still open are emitted as they are, so every record is in every window it
    belongs to.

    Args:
        size: records per window; step: records between the starts of consecutive windows.

    ``events.pipe(sk.ops.count_window(100))``; here windows of three, a new one every two records:

    >>> import reactivex, streamkit as sk
    >>> from streamkit import ops
    >>> windows = sk.collect(reactivex.range(5).pipe(ops.count_window(3, step=2)), timeout=5)
    >>> windows[1]
    <Window positions 2\N{EN DASH}4, 3 records>
    >>> [w.items for w in windows]
    [[0, 1, 2], [2, 3, 4], [4]]
    """
    step = step or size
    if size < 1 or step < 1:
        raise ValueError(f"size and step are positive counts, not {size} and {step}")

    def operator(source: Observable[Any]) -> Observable[Window]:
        def subscribe(observer: abc.ObserverBase[Window], scheduler: abc.SchedulerBase | None = None) -> Any:
            windows: deque[tuple[int, list[Any]]] = deque()
            position = 0

            def emit(start: int, items: list[Any]) -> None:
                observer.on_next(Window(start, start + len(items), items, by_count=True))

            def on_next(item: Any) -> None:
                nonlocal position
                if position % step == 0:
                    windows.append((position, []))
                position += 1
                for _, items in windows:
                    items.append(item)
                while windows and len(windows[0][1]) >= size:
                    emit(*windows.popleft())

            def on_completed() -> None:
                while windows:
                    emit(*windows.popleft())
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return reactivex.create(subscribe)

    return described(operator, f"count windows of {size} records, a new one every {step}")


def tumbling(seconds: float, *, scheduler: abc.SchedulerBase | None = None, emit_empty: bool = False) -> Operator:
    """Processing-time windows of ``seconds``, back to back, aligned to multiples of ``seconds`` on the clock.

    Args:
        seconds: the window length.
        scheduler: the clock (default: the subscription's, else streamkit's loop).
        emit_empty: also emit windows in which nothing arrived (for continuous counts).

    ``devices.pipe(sk.ops.tumbling(60), sk.ops.aggregate(by="mac", cpu=("cpu_util", "mean")))``; here four
    records a second, in virtual time:

    >>> import reactivex
    >>> from reactivex.testing import TestScheduler
    >>> from streamkit import ops
    >>> clock, out = TestScheduler(), []
    >>> _ = reactivex.interval(0.25, scheduler=clock).pipe(ops.tumbling(1.0, scheduler=clock)).subscribe(out.append)
    >>> clock.advance_to(3.0)
    >>> [(w.start, w.end, w.items) for w in out]
    [(0.0, 1.0, [0, 1, 2]), (1.0, 2.0, [3, 4, 5, 6]), (2.0, 3.0, [7, 8, 9, 10])]
    """
    return sliding(seconds, seconds, scheduler=scheduler, emit_empty=emit_empty)


def sliding(
    seconds: float, every: float, *, scheduler: abc.SchedulerBase | None = None, emit_empty: bool = False
) -> Operator:
    """Processing-time windows of ``seconds`` emitted every ``every`` seconds (overlapping when
    ``every < seconds``); each holds what arrived in ``[end - seconds, end)``. A message arrives at its
    ``received`` time (so a replay, whose clock is the recording's, gives the windows the live stream gave);
    anything else when the operator sees it.

    Args:
        seconds: the window length; every: the period between windows' ends.
        scheduler: the clock (default: the subscription's, else streamkit's loop).
        emit_empty: also emit windows in which nothing arrived.

    ``clients.pipe(sk.ops.sliding(60, every=10))``; here two records a second, in virtual time:

    >>> import reactivex
    >>> from reactivex.testing import TestScheduler
    >>> from streamkit import ops
    >>> clock, out = TestScheduler(), []
    >>> windows = ops.sliding(2.0, every=1.0, scheduler=clock)
    >>> _ = reactivex.interval(0.5, scheduler=clock).pipe(windows).subscribe(out.append)
    >>> clock.advance_to(4.0)
    >>> [(w.start, w.end, w.items) for w in out]
    [(-1.0, 1.0, [0]), (0.0, 2.0, [0, 1, 2]), (1.0, 3.0, [1, 2, 3, 4]), (2.0, 4.0, [3, 4, 5, 6])]
    """
    if seconds <= 0 or every <= 0:
        raise ValueError(f"seconds and every are positive durations, not {seconds} and {every}")

    def operator(source: Observable[Any]) -> Observable[Window]:
        def subscribe(observer: abc.ObserverBase[Window], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = pick_scheduler(scheduler, sub_scheduler)
            timer = SerialDisposable()
            stamped: deque[tuple[float, Any]] = deque()  # (arrival, record); half-open [start, end) by arrival
            end = (math.floor(now(sched) / every) + 1) * every

            def close(final: bool = False) -> None:
                nonlocal end
                start = end - seconds
                while stamped and stamped[0][0] < start:
                    stamped.popleft()
                items = [item for t, item in stamped if final or t < end]
                if items or emit_empty:
                    observer.on_next(Window(start, end, items))
                end += every

            def tick(_: abc.SchedulerBase, __: Any = None) -> None:
                close()
                timer.disposable = sched.schedule_relative(max(0.0, end - now(sched)), tick)

            def on_next(item: Any) -> None:
                t = now(sched)
                if type(item) is Message and item.received < t:
                    # A message counts at its arrival (what a replay's clock reproduces), never before the window
                    # that is still open.
                    t = max(item.received, end - every)
                stamped.append((t, item))

            def on_completed() -> None:
                timer.dispose()
                close(final=True)
                observer.on_completed()

            timer.disposable = sched.schedule_relative(max(0.0, end - now(sched)), tick)
            subscription = source.subscribe(on_next, observer.on_error, on_completed, scheduler=sub_scheduler)
            return CompositeDisposable(subscription, timer)

        return reactivex.create(subscribe)

    return described(
        operator,
        (
            f"tumbling {seconds:g} s windows (processing time)"
            if every == seconds
            else f"sliding {seconds:g} s windows every {every:g} s (processing time)"
        ),
    )


class _Lateness:
    """One subscription's counts of late and time-less records."""

    __slots__ = ("late_count", "skipped")

    def __init__(self) -> None:
        self.late_count = 0
        self.skipped = 0


class event_windows:
    """Event-time windows on a record field (Mist ``_time``, ``last_seen``), closed by a watermark.

    The watermark is the newest event time seen minus ``allowed_lateness``; a window ``[start, end)`` is emitted
    once the watermark passes ``end``. A record whose windows have all closed is *late*: it goes to the
    :attr:`late` side output and is counted in :attr:`late_count`, never silently dropped. Records without a
    usable time are counted in :attr:`skipped` and also go to :attr:`late`.

    Each subscription has its own windows, watermark and counts; :attr:`late_count` and :attr:`skipped` are the
    sums over the subscriptions so far, and :attr:`late` carries every subscription's late records. In a shared
    pipeline (``stream.pipe(windows)``) there is one subscription per connection, so a late record counts once
    however many sinks watch.

    Followed by :func:`~streamkit.ops.aggregate` with only its common reductions (``mean sum count size min max
    nunique first last``), each window reduces its records a batch at a time as they arrive (it holds at most a
    batch of them, not all), and emits its aggregate's DataFrame.

    Args:
        field: the event-time field: epoch number, ISO 8601 text or datetime (see ``streamkit._time``);
            ``"received"`` is the message's arrival time.
        size: window length in seconds; slide: a new window every ``slide`` seconds (default ``size``: tumbling).
        allowed_lateness: how far behind the newest event time a record may be and still count.
        key: a field name or function: separate windows per key.
        unit: the unit of epoch numbers in ``field`` (``s ms us ns``); None: by magnitude.

    ``clients.pipe(windows, sk.ops.aggregate(by="ap_mac", clients=("mac", "nunique")))``; here minute windows on
    a field ``t`` in epoch seconds, with 10 s of allowed lateness:

    >>> import reactivex, streamkit as sk
    >>> from streamkit import ops
    >>> windows = ops.event_windows("t", size=60, allowed_lateness=10)
    >>> late = []
    >>> _ = windows.late.subscribe(late.append)          # what came too late
    >>> records = reactivex.of({"t": 5, "v": 1}, {"t": 50, "v": 2}, {"t": 65, "v": 3}, {"t": 130, "v": 4},
    ...                        {"t": 30, "v": 5}, {"t": 61, "v": 6})
    >>> [(w.start, w.end, [r["v"] for r in w.items]) for w in sk.collect(records.pipe(windows), timeout=5)]
    [(0.0, 60.0, [1, 2]), (60.0, 120.0, [3]), (120.0, 180.0, [4])]
    >>> late, windows.late_count, windows.skipped
    ([{'t': 30, 'v': 5}, {'t': 61, 'v': 6}], 2, 0)
    """

    def __init__(
        self,
        field: str = "_time",
        *,
        size: float,
        slide: float | None = None,
        allowed_lateness: float = 0.0,
        key: KeyFn | None = None,
        unit: str | None = None,
    ) -> None:
        if size <= 0 or (slide is not None and slide <= 0) or allowed_lateness < 0:
            raise ValueError("size and slide are positive seconds; allowed_lateness is zero or more")
        self.field = field
        self.size = size
        self.slide = slide or size
        self.allowed_lateness = allowed_lateness
        self.unit = check_unit(unit)
        self._key = key_function(key) if key is not None else None
        self._user_key = callable(key)  # only a key function can raise (field names cannot)
        #: Late (and time-less) records of every subscription, as they arrive.
        self.late: Subject[Any] = Subject()
        self._runs: PerSubscription[_Lateness] = PerSubscription(_Lateness, ("late_count", "skipped"))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to run on a Dask worker) without its subscriptions' state: a copy starts with its own."""
        return {k: v for k, v in self.__dict__.items() if k not in ("late", "_runs")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.late = Subject()
        self._runs = PerSubscription(_Lateness, ("late_count", "skipped"))

    @property
    def late_count(self) -> int:
        """Records that came after all their windows had closed, over every subscription so far."""
        return self._runs.total("late_count")

    @property
    def skipped(self) -> int:
        """Records without a usable event time, over every subscription so far."""
        return self._runs.total("skipped")

    @property
    def description(self) -> str:
        what = "tumbling" if self.slide == self.size else f"sliding every {self.slide:g} s,"
        return (
            f"{what} {self.size:g} s windows on event time {self.field!r}, {self.allowed_lateness:g} s allowed lateness"
        )

    def __repr__(self) -> str:
        return f"<event_windows: {self.description}>"

    def _starts(self, t: float) -> list[float]:
        """Starts of the windows ``[start, start + size)`` that contain ``t``."""
        first = math.floor((t - self.size) / self.slide) + 1
        last = math.floor(t / self.slide)
        return [k * self.slide for k in range(first, last + 1)]

    def __call__(self, source: Observable[Any]) -> Observable[Window]:
        return _EventWindows(self, source)

    def _subscribe(
        self,
        source: Observable[Any],
        observer: abc.ObserverBase[Any],
        scheduler: abc.SchedulerBase | None,
        folds: Folds | None,
    ) -> abc.DisposableBase:
        """Window ``source`` for ``observer``: Windows of records, or with ``folds`` each window's aggregate (its
        records reduced a batch at a time as they arrive)."""
        field_, size, lateness, unit, key_of, late = (
            self.field,
            self.size,
            self.allowed_lateness,
            self.unit,
            self._key,
            self.late,
        )
        tumbling = self.slide == size
        low, high = seconds_range(unit)  # the fast path reads numbers in there as seconds
        counts, end_counts = self._runs.open()
        collected: Callable[[], Any] = list if folds is None else folds.window
        windows: dict[tuple[float, Hashable], Any] = {}  # (start, key) -> its records (a Folded with folds)
        due: list[tuple[float, float, int, Hashable]] = []  # (end, start, order, key): a heap
        order = 0
        watermark = -math.inf

        def close_until(limit: float) -> None:
            while due and due[0][0] <= limit:
                end, start, _, key = heapq.heappop(due)
                items = windows.pop((start, key))
                if folds is None:
                    observer.on_next(Window(start, end, items, key))
                    continue
                try:
                    frame = folds.frame(bounds_of(start, end, key, False), items)
                except KeyError as error:
                    observer.on_error(error)
                    return
                observer.on_next(frame)

        current: list[Any] = [None, None, None]  # the window the last record went to: start, key, items

        def on_next(record: Any) -> None:
            nonlocal order, watermark
            if tumbling:  # fast path: consecutive records of one window and key
                value = record.get(field_)
                if (type(value) is float or type(value) is int) and low < value < high:
                    start = value // size * size
                    if start == current[0] and start + size > watermark:
                        key = key_of(record) if key_of is not None else None
                        if key == current[1]:
                            items = current[2]
                            items.append(record)
                            if folds is not None and len(items) >= BATCH:
                                folds.reduce(items)
                            if value - lateness > watermark:
                                watermark = value - lateness
                                if due[0][0] <= watermark:
                                    close_until(watermark)
                            return
            t = time_of(record, field_, unit)
            if t is None:
                counts.skipped += 1
                late.on_next(record)
                return
            key = key_of(record) if key_of is not None else None
            placed = False
            starts = [t // size * size] if tumbling else self._starts(t)
            for start in starts:
                end = start + size
                if end <= watermark:
                    continue  # that window has closed
                items = windows.get((start, key))
                if items is None:
                    items = windows[(start, key)] = collected()
                    heapq.heappush(due, (end, start, order, key))
                    order += 1
                items.append(record)
                if folds is not None and len(items) >= BATCH:
                    folds.reduce(items)
                placed = True
                current[:] = [start, key, items]
            if not placed:
                counts.late_count += 1
                late.on_next(record)
                return
            if t - lateness > watermark:
                watermark = t - lateness
                close_until(watermark)

        def on_completed() -> None:
            close_until(math.inf)
            observer.on_completed()

        handler = guarded(on_next, observer) if self._user_key else on_next  # no extra call on the fast path
        subscription = source.subscribe(handler, observer.on_error, on_completed, scheduler=scheduler)
        return CompositeDisposable(subscription, end_counts)


class _EventWindows(Observable[Window]):
    """``event_windows`` applied to a source: its Windows, or (:meth:`aggregated`) each window's aggregate reduced
    as the records arrive, which is what ``aggregate`` after ``event_windows`` asks for."""

    def __init__(self, windows: event_windows, source: Observable[Any]) -> None:
        super().__init__()
        self._windows = windows
        self._source = source

    def _subscribe_core(
        self, observer: abc.ObserverBase[Window], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._windows._subscribe(self._source, observer, scheduler, None)

    def aggregated(self, folds: Folds) -> Observable[Any]:
        """Each window's aggregate as a DataFrame (see :class:`~streamkit.ops.aggregate.Folds`)."""
        windows, source = self._windows, self._source

        def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> Any:
            return windows._subscribe(source, observer, scheduler, folds)

        return reactivex.create(subscribe)


def session(
    key: KeyFn,
    gap: float,
    *,
    time_field: str | None = None,
    unit: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator:
    """Per-key sessions: a key's burst of activity, ended by ``gap`` seconds without a record of that key.

    Emits ``Window(start=first, end=last + gap, items, key)``. By processing time (the ``scheduler``'s clock),
    or by event time when ``time_field`` is given (a session closes when newer event times pass its end).

    Args:
        key: a field name or function; gap: seconds of silence that end a session.
        time_field: the event-time field (``"received"``: the message's arrival); None: processing time.
        unit: the unit of epoch numbers in ``time_field`` (``s ms us ns``); None: by magnitude.

    ``clients.pipe(sk.ops.session("mac", gap=120))``; here by event time, a field ``t`` in epoch seconds:

    >>> import reactivex, streamkit as sk
    >>> from streamkit import ops
    >>> seen = reactivex.of({"mac": "a", "t": 0}, {"mac": "a", "t": 30}, {"mac": "b", "t": 40}, {"mac": "a", "t": 200})
    >>> sessions = sk.collect(seen.pipe(ops.session("mac", gap=60, time_field="t")), timeout=5)
    >>> [(w.key, w.start, w.end, len(w)) for w in sessions]
    [('a', 0.0, 90.0, 2), ('b', 40.0, 100.0, 1), ('a', 200.0, 260.0, 1)]
    """
    if gap <= 0:
        raise ValueError(f"gap is a positive number of seconds, not {gap}")
    check_unit(unit)
    key_of = key_function(key)

    def operator(source: Observable[Any]) -> Observable[Window]:
        def subscribe(observer: abc.ObserverBase[Window], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = None if time_field is not None else pick_scheduler(scheduler, sub_scheduler)
            open_: dict[Hashable, list[Any]] = {}  # key -> [first, last, items]
            timers = CompositeDisposable()
            newest = -math.inf

            def emit(k: Hashable) -> None:
                first, last, items = open_.pop(k)
                observer.on_next(Window(first, last + gap, items, k))

            def watch(k: Hashable, at: float) -> None:
                assert sched is not None
                holder = SerialDisposable()
                timers.add(holder)

                def check(_: abc.SchedulerBase, __: Any = None) -> None:
                    timers.remove(holder)
                    state = open_.get(k)
                    if state is None:
                        return
                    if now(sched) - state[1] >= gap:
                        emit(k)
                    else:
                        watch(k, state[1] + gap)

                holder.disposable = sched.schedule_relative(max(0.0, at - now(sched)), check)

            def on_next(record: Any) -> None:
                nonlocal newest
                k = key_of(record)
                if sched is None:
                    t = time_of(record, time_field or "", unit)
                    if t is None:
                        return
                else:
                    t = now(sched)
                state = open_.get(k)
                if state is not None and t - state[1] >= gap:
                    emit(k)
                    state = None
                if state is None:
                    open_[k] = [t, t, [record]]
                    if sched is not None:
                        watch(k, t + gap)
                else:
                    state[1] = max(state[1], t)
                    state[2].append(record)
                if sched is None and t > newest:
                    newest = t
                    for other in [o for o, s in open_.items() if newest - s[1] >= gap]:
                        emit(other)

            def on_completed() -> None:
                timers.dispose()
                for k in sorted(open_, key=lambda o: open_[o][0]):
                    emit(k)
                observer.on_completed()

            subscription = source.subscribe(
                guarded(on_next, observer), observer.on_error, on_completed, scheduler=sub_scheduler
            )
            return CompositeDisposable(subscription, timers)

        return reactivex.create(subscribe)

    return described(
        operator,
        (
            f"sessions per {key if isinstance(key, str) else 'key'} ended by {gap:g} s of silence"
            + (f" (event time: {time_field})" if time_field else " (processing time)")
        ),
    )
