"""Stream: one shared, ref-counted connection upstream per pipeline, however many observers; state per connection."""

from __future__ import annotations

from typing import Any

import reactivex
from reactivex import abc
from reactivex import operators as rx
from reactivex.disposable import Disposable
from reactivex.scheduler import HistoricalScheduler

from streamkit.core import Message, Stream
from streamkit.ops import count_window


class Source:
    """A hot source that counts its connections and disconnections."""

    def __init__(self) -> None:
        self.observers: list[abc.ObserverBase[Any]] = []
        self.connections = 0
        self.disposals = 0

    def connect(self, observer: abc.ObserverBase[Any]) -> abc.DisposableBase:
        self.connections += 1
        self.observers.append(observer)

        def dispose() -> None:
            self.disposals += 1
            self.observers.remove(observer)

        return Disposable(dispose)

    def emit(self, *values: Any) -> None:
        for value in values:
            for observer in list(self.observers):
                observer.on_next(value)


def test_a_pipeline_runs_once_per_item_however_many_observers():
    source = Source()
    calls: list[int] = []
    stream: Stream[int] = Stream(source.connect)
    doubled = stream.pipe(rx.map(lambda n: calls.append(n) or 2 * n))
    seen: list[list[int]] = [[], [], []]
    for box in seen:
        doubled.subscribe(box.append)
    source.emit(1, 2, 3)
    assert calls == [1, 2, 3]
    assert seen == [[2, 4, 6]] * 3
    assert source.connections == 1 and doubled.observers == 3


def test_the_last_observer_leaving_disconnects_and_the_next_one_starts_afresh():
    source = Source()
    windows = Stream(source.connect).pipe(count_window(2))
    first, second = [], []
    one = windows.subscribe(first.append)
    two = windows.subscribe(second.append)
    source.emit("a")
    one.dispose()
    assert source.disposals == 0
    two.dispose()
    assert source.disposals == 1 and not source.observers
    third: list[Any] = []
    windows.subscribe(third.append)
    source.emit("b", "c")
    assert source.connections == 2
    assert [w.items for w in third] == [["b", "c"]]  # the window state of the first connection is gone


def test_completion_reaches_every_observer_and_a_later_observer_connects_again():
    stream = Stream.of(reactivex.from_iterable([1, 2]))
    done: list[str] = []
    stream.subscribe(on_completed=lambda: done.append("first"))
    again: list[int] = []
    stream.subscribe(again.append, on_completed=lambda: done.append("second"))
    assert done == ["first", "second"] and again == [1, 2]


def test_an_observer_that_raises_is_reported_and_the_others_still_get_every_item():
    source = Source()
    failures: list[tuple[BaseException, str]] = []
    stream: Stream[int] = Stream(source.connect, observer_failed=lambda error, trace: failures.append((error, trace)))
    good: list[int] = []

    def bad(n: int) -> None:
        raise ValueError(f"bad {n}")

    stream.subscribe(bad)
    stream.subscribe(good.append)
    source.emit(1, 2)
    assert good == [1, 2]
    assert [str(error) for error, _ in failures] == ["bad 1", "bad 2"]
    assert "Traceback" in failures[0][1] and "in bad" in failures[0][1]


def test_operators_in_a_pipeline_get_the_sources_clock():
    clock = HistoricalScheduler(initial_clock=1_000.0)
    source = Source()
    stream: Stream[Any] = Stream(source.connect, clock=clock)
    seen_schedulers: list[Any] = []

    def spy(upstream: Any) -> Any:
        def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> Any:
            seen_schedulers.append(scheduler)
            return upstream.subscribe(observer, scheduler=scheduler)

        return reactivex.create(subscribe)

    piped = stream.pipe(spy).pipe(spy)
    assert piped.clock is clock
    piped.subscribe(lambda _: None)
    assert seen_schedulers == [clock, clock]


def test_a_message_is_a_dict_with_its_origin_and_arrival_outside_the_payload():
    message = Message({"origin": "payload's own", "n": 1}, ("context", "fw_single"), 12.5)
    assert message == {"origin": "payload's own", "n": 1}
    assert message.origin == ("context", "fw_single") and message.received == 12.5
    assert Message([1, 2], "/x", 0.0) == {"value": [1, 2]}
