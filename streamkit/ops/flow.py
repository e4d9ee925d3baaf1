"""Flow control and stream health: throttle, sample, backpressure for slow observers, rate, changes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as rx
from reactivex.disposable import CompositeDisposable, SerialDisposable

from ._base import KeyFn, Operator, PerSubscription, guarded, key_function, now, pick_scheduler

__all__ = ["POLICIES", "backpressure", "changes", "rate", "sample", "throttle"]

#: The policies of :class:`backpressure`: what goes when the observer falls behind.
POLICIES = ("latest", "drop_oldest", "buffer")


def _with_scheduler(
    make: Callable[[abc.SchedulerBase], Callable[[Observable[Any]], Observable[Any]]],
    scheduler: abc.SchedulerBase | None,
) -> Operator:
    """A reactivex time-based operator that gets the operator's, the subscription's or streamkit's scheduler."""

    def operator(source: Observable[Any]) -> Observable[Any]:
        def subscribe(observer: abc.ObserverBase[Any], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = pick_scheduler(scheduler, sub_scheduler)
            return source.pipe(make(sched)).subscribe(observer, scheduler=sub_scheduler)

        return reactivex.create(subscribe)

    return operator


def throttle(seconds: float, *, scheduler: abc.SchedulerBase | None = None) -> Operator:
    """At most one record per ``seconds``: the first of each period passes, the rest of the period is dropped.

    Args:
        seconds: the period.
        scheduler: the clock (default: the subscription's, else streamkit's loop).

    ``devices.pipe(sk.ops.throttle(1.0))``; here four records a second, in virtual time:

    >>> import reactivex
    >>> from reactivex.testing import TestScheduler
    >>> from streamkit import ops
    >>> clock, out = TestScheduler(), []
    >>> _ = reactivex.interval(0.25, scheduler=clock).pipe(ops.throttle(1.0, scheduler=clock)).subscribe(out.append)
    >>> clock.advance_to(3.0)
    >>> out
    [0, 4, 8]
    """
    return _with_scheduler(lambda sched: rx.throttle_first(seconds, scheduler=sched), scheduler)


def sample(seconds: float, *, scheduler: abc.SchedulerBase | None = None) -> Operator:
    """Every ``seconds``, the newest record of the period (nothing when none arrived).

    Args:
        seconds: the period.
        scheduler: the clock (default: the subscription's, else streamkit's loop).

    ``cpu.pipe(sk.ops.sample(0.5))``; here four records a second, in virtual time:

    >>> import reactivex
    >>> from reactivex.testing import TestScheduler
    >>> from streamkit import ops
    >>> clock, out = TestScheduler(), []
    >>> _ = reactivex.interval(0.25, scheduler=clock).pipe(ops.sample(1.0, scheduler=clock)).subscribe(out.append)
    >>> clock.advance_to(3.1)
    >>> out
    [2, 6, 10]
    """
    return _with_scheduler(lambda sched: rx.sample(seconds, scheduler=sched), scheduler)


class _Queue:
    """One subscription's pending records and counts."""

    __slots__ = ("delivered", "dropped", "items")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.dropped = 0
        self.delivered = 0


class backpressure:
    """Decouple a slow observer: records queue here and are handed on one by one from the scheduler, so the
    receive loop never waits for the observer. When the observer falls behind, the policy decides what goes:

    - ``"latest"``: keep only the newest pending record (good for "current state" views);
    - ``"drop_oldest"``: keep the newest ``size`` records;
    - ``"buffer"``: keep the oldest ``size`` records and drop new arrivals while full.

    :attr:`dropped` counts exactly what the policy discarded, :attr:`delivered` what was handed on, and
    :attr:`pending` what waits now; memory stays bounded by ``size`` per subscription. Each subscription has its
    own queue and counts; the counters are the sums over the subscriptions so far (a shared pipeline,
    ``stream.pipe(bp)``, has one subscription per connection however many sinks watch it).

    Records are handed on from ``scheduler``, else streamkit's loop scheduler; never from the subscription's clock
    (a replay's clock only moves when frames arrive, so a hand-off waiting on it would stall).

    Args:
        policy: one of :data:`POLICIES`.
        size: the most records pending per subscription (``"latest"``: 1).
        scheduler: where records are handed on from.

    ``devices.pipe(bp := sk.ops.backpressure("drop_oldest", size=10_000)).subscribe(slow_writer)``; here five
    records arrive at once and the observer gets the newest two:

    >>> import reactivex
    >>> from reactivex.testing import TestScheduler
    >>> from streamkit import ops
    >>> clock, out = TestScheduler(), []
    >>> bp = ops.backpressure("drop_oldest", size=2, scheduler=clock)
    >>> _ = reactivex.of(1, 2, 3, 4, 5).pipe(bp).subscribe(out.append)
    >>> clock.advance_to(1)
    >>> out, bp.dropped, bp.delivered, bp.pending
    ([4, 5], 3, 2, 0)
    """

    def __init__(self, policy: str = "latest", *, size: int = 1000, scheduler: abc.SchedulerBase | None = None):
        if policy not in POLICIES:
            raise ValueError(f"policy is one of {', '.join(POLICIES)}, not {policy!r}")
        if size < 1:
            raise ValueError(f"size is a positive count, not {size}")
        self.policy = policy
        self.size = 1 if policy == "latest" else size
        self.scheduler = scheduler
        self._runs: PerSubscription[_Queue] = PerSubscription(_Queue, ("dropped", "delivered"))

    @property
    def dropped(self) -> int:
        """Records the policy discarded, over every subscription so far."""
        return self._runs.total("dropped")

    @property
    def delivered(self) -> int:
        """Records handed on, over every subscription so far."""
        return self._runs.total("delivered")

    @property
    def pending(self) -> int:
        """Records waiting now, over the running subscriptions."""
        return sum(len(run.items) for run in self._runs.live)

    def __repr__(self) -> str:
        return (
            f"<backpressure {self.policy} size={self.size} pending={self.pending} "
            f"delivered={self.delivered} dropped={self.dropped}>"
        )

    def __call__(self, source: Observable[Any]) -> Observable[Any]:
        size, keep_oldest = self.size, self.policy == "buffer"

        def subscribe(observer: abc.ObserverBase[Any], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = pick_scheduler(self.scheduler, None)  # not the subscription's clock: see the docstring
            run, end_run = self._runs.open()
            queue = run.items
            drain = SerialDisposable()
            draining = completed = False

            def step(_: abc.SchedulerBase, __: Any = None) -> None:
                nonlocal draining
                if queue:
                    run.delivered += 1
                    observer.on_next(queue.popleft())
                if queue:
                    drain.disposable = sched.schedule(step)
                    return
                draining = False
                if completed:
                    observer.on_completed()

            def on_next(item: Any) -> None:
                nonlocal draining
                if len(queue) >= size:
                    run.dropped += 1
                    if keep_oldest:
                        return
                    queue.popleft()
                queue.append(item)
                if not draining:
                    draining = True
                    drain.disposable = sched.schedule(step)

            def on_completed() -> None:
                nonlocal completed
                completed = True
                if not draining:
                    observer.on_completed()

            subscription = source.subscribe(on_next, observer.on_error, on_completed, scheduler=sub_scheduler)
            return CompositeDisposable(subscription, drain, end_run)

        return reactivex.create(subscribe)


def rate(seconds: float = 1.0, *, scheduler: abc.SchedulerBase | None = None) -> Operator:
    """Messages per second of a stream, every ``seconds``: ``{"time": end, "count": n, "rate": n / seconds}``.

    Args:
        seconds: the length of each count.
        scheduler: the clock (default: the subscription's, else streamkit's loop).

    ``devices.pipe(sk.ops.rate(5))``; here four records a second, in virtual time:

    >>> import reactivex
    >>> from reactivex.testing import TestScheduler
    >>> from streamkit import ops
    >>> clock, out = TestScheduler(), []
    >>> _ = reactivex.interval(0.25, scheduler=clock).pipe(ops.rate(1.0, scheduler=clock)).subscribe(out.append)
    >>> clock.advance_to(2.1)
    >>> out
    [{'time': 1.0, 'count': 3, 'rate': 3.0}, {'time': 2.0, 'count': 4, 'rate': 4.0}]
    """
    if seconds <= 0:
        raise ValueError(f"seconds is a positive duration, not {seconds}")

    def operator(source: Observable[Any]) -> Observable[dict[str, float]]:
        def subscribe(observer: abc.ObserverBase[Any], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = pick_scheduler(scheduler, sub_scheduler)
            count = 0
            timer = SerialDisposable()
            end = now(sched) + seconds

            def tick(_: abc.SchedulerBase, __: Any = None) -> None:
                nonlocal count, end
                observer.on_next({"time": end, "count": count, "rate": count / seconds})
                count = 0
                end += seconds
                timer.disposable = sched.schedule_relative(max(0.0, end - now(sched)), tick)

            def on_next(_: Any) -> None:
                nonlocal count
                count += 1

            def on_completed() -> None:
                timer.dispose()
                observer.on_completed()

            timer.disposable = sched.schedule_relative(seconds, tick)
            subscription = source.subscribe(on_next, observer.on_error, on_completed, scheduler=sub_scheduler)
            return CompositeDisposable(subscription, timer)

        return reactivex.create(subscribe)

    return operator


def changes(key: KeyFn, fields: str | Sequence[str], *, include_first: bool = False) -> Operator:
    """Only the records in which one of ``fields`` differs from the previous record of the same key: state
    transitions, e.g. SMC node status changes for alerts. The first record of a key counts as a change only with
    ``include_first``. Each subscription remembers its own previous records.

    Args:
        key: a field name or a function of the record; fields: the field (or fields) to compare.
        include_first: whether a key's first record is a change.

    >>> import reactivex, streamkit as sk
    >>> nodes = reactivex.of(
    ...     {"name": "fw-1", "engine_node_status": "Online"},
    ...     {"name": "fw-1", "engine_node_status": "Online"},
    ...     {"name": "fw-2", "engine_node_status": "Online"},
    ...     {"name": "fw-1", "engine_node_status": "Offline"},
    ... )
    >>> sk.collect(nodes.pipe(sk.ops.changes("name", "engine_node_status")), timeout=5)
    [{'name': 'fw-1', 'engine_node_status': 'Offline'}]
    """
    names = [fields] if isinstance(fields, str) else list(fields)
    key_of = key_function(key)

    def operator(source: Observable[Any]) -> Observable[Any]:
        def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> Any:
            last: dict[Hashable, tuple[Any, ...]] = {}

            def on_next(record: Any) -> None:
                k = key_of(record)
                values = tuple(record.get(name) for name in names)
                before = last.get(k)
                last[k] = values
                if values != before if before is not None else include_first:
                    observer.on_next(record)

            return source.subscribe(
                guarded(on_next, observer), observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return operator
