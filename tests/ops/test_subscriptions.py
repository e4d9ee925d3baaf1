"""Every operator keeps its state per subscription, lets disposal reach its sources, and sends the errors of
user functions downstream (RxPY's rules; design rule 11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import reactivex
from reactivex import Observable, Subject
from reactivex.scheduler import HistoricalScheduler, ImmediateScheduler
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.subscription import Subscription

import streamkit as sk
from streamkit import ops
from streamkit.core import Stream, Window

from .vt import play

Factory = Callable[[Observable[Any]], Callable[[Observable[Any]], Observable[Any]]]


def rec(k: str, s: str, t: Any, v: int) -> dict[str, Any]:
    return {"k": k, "s": s, "t": t, "v": v, "n": {"x": v}}


# relative times; event times "t" include a late record (5 after 12) and one without a time
RECORDS = [
    (10, rec("a", "on", 1, 1)),
    (20, rec("b", "on", 3, 2)),
    (30, rec("a", "on", 12, 3)),
    (40, rec("a", "off", 5, 4)),
    (55, rec("b", "off", 26, 5)),
    (70, rec("a", "on", 40, 6)),
    (71, rec("b", "on", None, 7)),
]
OTHER = [(15, {"k": "a", "w": 1, "t": 2}), (45, {"k": "b", "w": 2, "t": 24})]
END = 100


def chain(*operators: Any) -> Callable[[Observable[Any]], Observable[Any]]:
    return lambda source: source.pipe(*operators)


#: Every operator of sk.ops, built once per test (a factory gets the right-hand stream for joins). Those without
#: a scheduler take the subscription's (the TestScheduler); backpressure never does, so it gets its own.
OPERATORS: dict[str, Factory] = {
    "aggregate": lambda other: chain(ops.count_window(2), ops.aggregate(by="k", total=("v", "sum"))),
    "aggregate[time]": lambda other: chain(ops.tumbling(20), ops.aggregate(by="k", total=("v", "mean"))),
    "backpressure": lambda other: ops.backpressure("drop_oldest", size=2, scheduler=ImmediateScheduler()),
    "changes": lambda other: ops.changes("k", "s"),
    "changes[first]": lambda other: ops.changes(lambda r: r["k"], ["s"], include_first=True),
    "count_window": lambda other: ops.count_window(3, 2),
    "enrich": lambda other: ops.enrich({"a": {"site": "x"}}, on="k"),
    "event_windows": lambda other: ops.event_windows("t", size=10),
    "event_windows[keyed sliding]": lambda other: ops.event_windows("t", size=10, slide=5, key="k"),
    "flatten": lambda other: ops.flatten(),
    "flatten[explode]": lambda other: ops.flatten(explode="n"),
    "join": lambda other: ops.join(other, on="k", within=20),
    "join[time]": lambda other: ops.join(other, on="k", within=5, time="t", how="left"),
    "parse_time": lambda other: ops.parse_time("t", into="when"),
    "rate": lambda other: ops.rate(25),
    "sample": lambda other: ops.sample(25),
    "session": lambda other: ops.session("k", gap=15),
    "session[time]": lambda other: ops.session("k", gap=5, time_field="t"),
    "sliding": lambda other: ops.sliding(20, 10),
    "throttle": lambda other: ops.throttle(15),
    "tumbling": lambda other: ops.tumbling(20, emit_empty=True),
    "with_latest": lambda other: ops.with_latest(other, on="k"),
}

NOT_OPERATORS = {"POLICIES", "Window", "flatten_record", "window_frame"}


def test_every_operator_of_sk_ops_is_covered():
    assert {name.split("[")[0] for name in OPERATORS} == set(ops.__all__) - NOT_OPERATORS


def comparable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return (list(value.columns), value.to_dict("records"))
    return value


def notifications(observer: Any) -> list[tuple[float, str, Any]]:
    return [(m.time, m.value.kind, comparable(getattr(m.value, "value", None))) for m in observer.messages]


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_two_subscriptions_at_once_see_the_same(name):
    scheduler = TestScheduler()
    piped = play(RECORDS, complete_at=END).pipe(OPERATORS[name](play(OTHER, complete_at=END)))
    first, second = scheduler.create_observer(), scheduler.create_observer()
    scheduler.schedule_absolute(200, lambda *_: piped.subscribe(first, scheduler=scheduler))
    scheduler.schedule_absolute(200, lambda *_: piped.subscribe(second, scheduler=scheduler))
    scheduler.start()
    assert notifications(first) == notifications(second)
    assert notifications(first)[-1] == (200 + END, "C", None)
    assert len(notifications(first)) > 1, "the operator emitted something"


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_a_second_subscription_after_the_first_starts_afresh(name):
    piped = play(RECORDS, complete_at=END).pipe(OPERATORS[name](play(OTHER, complete_at=END)))
    seen = []
    for _ in range(2):
        scheduler = TestScheduler()
        seen.append(notifications(scheduler.start(lambda: piped)))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_disposing_downstream_reaches_every_source(name):
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable([ReactiveTest.on_next(t, r) for t, r in RECORDS])
    other = scheduler.create_cold_observable([ReactiveTest.on_next(t, r) for t, r in OTHER])
    operator = OPERATORS[name](other)
    scheduler.start(lambda: source.pipe(operator), disposed=260)
    assert source.subscriptions == [Subscription(200, 260)]
    if name.startswith(("join", "with_latest")):
        assert other.subscriptions == [Subscription(200, 260)]


# -- errors of user functions go downstream -----------------------------------------------------------------


class Boom(Exception):
    pass


def fails_on(bad: str) -> Callable[[Any], Any]:
    def key(record: Any) -> Any:
        if record["k"] == bad:
            raise Boom(record["k"])
        return record["k"]

    return key


class FailingTable(dict):
    def get(self, key: Any, default: Any = None) -> Any:
        raise Boom(key)


def reduction_fails(values: Any) -> Any:
    raise Boom("reduction")


USER_FUNCTIONS = {
    "event_windows key": lambda: ops.event_windows("t", size=10, key=fails_on("b")),
    "event_windows key, fast path": lambda: ops.event_windows("t", size=100, key=fails_on("b")),
    "sliding event_windows key": lambda: ops.event_windows("t", size=10, slide=5, key=fails_on("b")),
    "session key": lambda: ops.session(fails_on("b"), gap=5, scheduler=TestScheduler()),
    "event-time session key": lambda: ops.session(fails_on("b"), gap=5, time_field="t"),
    "changes key": lambda: ops.changes(fails_on("b"), "s"),
    "aggregate reduction": lambda: chain(
        ops.count_window(1), ops.aggregate(x=("v", lambda values: 1 / 0 if 2 in list(values) else 1))
    ),
    "aggregate by group": lambda: chain(ops.count_window(2), ops.aggregate(by="k", x=("v", reduction_fails))),
    "enrich table": lambda: ops.enrich(FailingTable(), on="k"),
}


@pytest.mark.parametrize("name", sorted(USER_FUNCTIONS))
def test_an_error_in_a_user_function_goes_to_on_error_not_to_the_producer(name):
    producer: Subject[Any] = Subject()
    got: list[Any] = []
    errors: list[Exception] = []
    producer.pipe(USER_FUNCTIONS[name]()).subscribe(got.append, errors.append)
    producer.on_next(rec("a", "on", 1, 1))
    producer.on_next(rec("b", "on", 2, 2))  # raises inside the operator: the producer does not see it
    producer.on_next(rec("a", "off", 30, 3))  # after the error: nothing more
    producer.on_completed()
    assert len(errors) == 1
    assert isinstance(errors[0], (Boom, ZeroDivisionError, TypeError))
    assert not producer.observers, "the failed subscription let go of its source"


def test_what_the_observer_itself_raises_is_not_turned_into_on_error():
    producer: Subject[Any] = Subject()
    errors: list[Exception] = []

    def observer_fails(_: Any) -> None:
        raise Boom("observer")

    producer.pipe(ops.changes(fails_on("never"), "s", include_first=True)).subscribe(observer_fails, errors.append)
    with pytest.raises(Boom, match="observer"):
        producer.on_next(rec("a", "on", 1, 1))
    assert errors == []


# -- counters are per subscription, summed on the operator --------------------------------------------------


def late_records() -> list[dict[str, Any]]:
    return [{"t": 1}, {"t": 12}, {"t": 3}, {"x": "no time"}, {"t": 25}]


def test_event_windows_count_per_subscription_and_sum_over_them():
    windows = ops.event_windows("t", size=10)
    late: list[Any] = []
    windows.late.subscribe(late.append)
    source = reactivex.from_iterable(late_records())
    first = sk.collect(source.pipe(windows), timeout=5)
    assert (windows.late_count, windows.skipped, len(late)) == (1, 1, 2)
    second = sk.collect(source.pipe(windows), timeout=5)
    assert first == second == [Window(0, 10, [{"t": 1}]), Window(10, 20, [{"t": 12}]), Window(20, 30, [{"t": 25}])]
    assert (windows.late_count, windows.skipped, len(late)) == (2, 2, 4)  # the sum over both subscriptions
    assert windows._runs.live == ()  # ended subscriptions keep only their counts


def test_a_shared_pipeline_counts_a_late_record_once_however_many_sinks_watch():
    windows = ops.event_windows("t", size=10)
    late: list[Any] = []
    windows.late.subscribe(late.append)
    subject: Subject[Any] = Subject()
    pipeline = Stream.of(subject).pipe(windows)
    sinks: list[list[Any]] = [[], [], []]
    for sink in sinks:
        pipeline.subscribe(sink.append)
    for record in late_records():
        subject.on_next(record)
    assert windows.late_count == 1 and windows.skipped == 1 and len(late) == 2
    assert sinks[0] == sinks[1] == sinks[2] == [Window(0, 10, [{"t": 1}]), Window(10, 20, [{"t": 12}])]
    assert len(windows._runs.live) == 1


def test_backpressure_counts_per_subscription_and_sums_over_them():
    scheduler = TestScheduler()
    bp = ops.backpressure("buffer", size=2, scheduler=scheduler)
    subject: Subject[Any] = Subject()
    shared = Stream.of(subject).pipe(bp)
    seen: list[list[Any]] = [[], []]
    shared.subscribe(seen[0].append)
    shared.subscribe(seen[1].append)
    own: list[Any] = []
    subscription = subject.pipe(bp).subscribe(own.append)  # a second subscription of the operator
    for n in range(5):
        subject.on_next(n)
    assert bp.pending == 4 and bp.dropped == 6  # per subscription: 2 kept, 3 dropped
    scheduler.start()
    assert seen[0] == seen[1] == own == [0, 1]
    assert (bp.delivered, bp.dropped, bp.pending) == (4, 6, 0)
    subscription.dispose()
    assert len(bp._runs.live) == 1 and bp.delivered == 4  # the ended subscription's counts stay


def test_backpressure_hands_on_from_the_loop_scheduler_never_from_the_subscriptions_clock(monkeypatch):
    loop = TestScheduler()
    monkeypatch.setattr("streamkit.runtime.scheduler", lambda: loop)
    clock = HistoricalScheduler()  # a replay's clock: moves only when frames arrive
    subject: Subject[Any] = Subject()
    got: list[Any] = []
    Stream.of(subject, clock=clock).pipe(ops.backpressure("buffer", size=10)).subscribe(got.append)
    subject.on_next(1)
    subject.on_next(2)
    assert got == []  # waiting for the loop, not for the clock
    loop.start()
    assert got == [1, 2]
