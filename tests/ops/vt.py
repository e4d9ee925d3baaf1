"""Virtual-time helpers: run an operator over timed records with reactivex's TestScheduler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reactivex import Observable
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
