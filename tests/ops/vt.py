"""Virtual-time helpers: run an operator over timed records with reactivex's TestScheduler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable
from reactivex.testing import ReactiveTest, TestScheduler

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed


def run(
    timed: Sequence[tuple[float, Any]],
    operator: Callable[[TestScheduler], Callable[[Observable[Any]], Observable[Any]]],
    *,
    complete_at: float | None = None,
    until: float = 1000.0,
) -> list[Any]:
    """Feed ``(time, record)`` pairs through ``operator(scheduler)``, subscribed at time 200; returns the
    recorded notifications (``on_next(time, value)`` ... ``on_completed(time)``)."""
    scheduler = TestScheduler()
    messages = [on_next(t, value) for t, value in timed]
    if complete_at is not None:
        messages.append(on_completed(complete_at))
    source = scheduler.create_hot_observable(messages)
    observer = scheduler.start(lambda: source.pipe(operator(scheduler)), disposed=until)
    return observer.messages


def values(messages: list[Any]) -> list[Any]:
    return [m.value.value for m in messages if m.value.kind == "N"]


def play(timed: Sequence[tuple[float, Any]], *, complete_at: float | None = None) -> Observable[Any]:
    """A cold Observable of ``(time, record)`` pairs played on the subscription's scheduler, relative to when each
    subscription starts (so one Observable serves several TestSchedulers)."""

    def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        assert scheduler is not None, "subscribe with a scheduler"
        timers = CompositeDisposable()
        for t, value in timed:
            timers.add(scheduler.schedule_relative(t, lambda _s, _v, value=value: observer.on_next(value)))
        if complete_at is not None:
            timers.add(scheduler.schedule_relative(complete_at, lambda _s, _v: observer.on_completed()))
        return timers

    return reactivex.create(subscribe)
