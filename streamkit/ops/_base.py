"""What the operator families share: the operator type, clocks, record copies that keep their origin, user
functions whose errors go downstream, and per-subscription state for operators that expose counters."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable

from .._time import SECONDS_BELOW, ReplayClock
from ..core import Message

__all__ = [
    "KeyFn",
    "Operator",
    "PerSubscription",
    "copy_of",
    "describe",
    "described",
    "guarded",
    "key_function",
    "like",
    "now",
    "pick_scheduler",
    "seconds_range",
    "user_function",
]

Operator: TypeAlias = Callable[[Observable[Any]], Observable[Any]]
#: A key: a field name, or a function of the record.
KeyFn: TypeAlias = str | Callable[[Any], Hashable]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
S = TypeVar("S")


def pick_scheduler(mine: abc.SchedulerBase | None, subscription: abc.SchedulerBase | None) -> abc.SchedulerBase:
    """The operator's own scheduler, else the one the subscription was given, else streamkit's loop scheduler."""
    if mine is not None:
        return mine
    if subscription is not None:
        return subscription
    from ..runtime import scheduler

    return scheduler()


def now(scheduler: abc.SchedulerBase) -> float:
    """The scheduler's clock in seconds (virtual seconds under a TestScheduler)."""
    if type(scheduler) is ReplayClock:
        return scheduler.seconds  # no datetime built for every record of a replay
    return scheduler.to_seconds(scheduler.now)


def seconds_range(unit: str | None) -> tuple[float, float]:
    """The epoch numbers an event-time field holds as seconds already (``low < value < high``) for ``unit``: those
    below SECONDS_BELOW by magnitude, all of them with ``unit="s"``, none in another unit. Operators read such a
    number as it is, and give any other value to ``time_of``."""
    if unit is None:
        return -SECONDS_BELOW, SECONDS_BELOW
    return (-math.inf, math.inf) if unit == "s" else (0.0, 0.0)


def copy_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``record`` (one copy; a :class:`Message` keeps its origin and arrival)."""
    if type(record) is Message:
        return Message(record, record.origin, record.received)
    return dict(record)


def like(source: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as a record of the same kind as ``source``: a :class:`Message` keeps its origin and arrival."""
    if type(source) is Message:
        out = Message({}, source.origin, source.received)
        out.update(fields)
        return out
    return fields


def described(operator: Operator, text: str) -> Operator:
    """``operator`` with a description of what it does, for reports' provenance (see :func:`describe`)."""
    operator.__dict__["description"] = text
    return operator


def describe(operator: Any) -> str:
    """What an operator does, in words (its description), else its repr."""
    return str(getattr(operator, "description", None) or operator)


class _UserFunctionFailed(Exception):
    """A user function's exception on its way to the downstream observer (see :func:`guarded`)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def user_function(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` (a key function, a selector) as an operator calls it: what it raises inside a :func:`guarded`
    ``on_next`` goes to the downstream observer's ``on_error``, as in reactivex's own ``map`` and ``filter``."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise _UserFunctionFailed(error) from error

    return call


def guarded(on_next: Callable[[T], None], observer: abc.ObserverBase[Any]) -> Callable[[T], None]:
    """``on_next`` for an operator's source subscription: when a :func:`user_function` in it fails, the error ends
    ``observer`` (``on_error``) instead of reaching the producer. What ``observer`` itself raises passes through."""

    def on_next_guarded(value: T) -> None:
        try:
            on_next(value)
        except _UserFunctionFailed as failed:
            observer.on_error(failed.error)

    return on_next_guarded


def key_function(key: KeyFn) -> Callable[[Any], Hashable]:
    """A key as a function of the record: a field name reads the field; a function is a :func:`user_function`."""
    if callable(key):
        return user_function(key)
    return lambda record: record.get(key)


class PerSubscription(Generic[S]):
    """The states of an operator's subscriptions, for operators that expose counters: each subscription counts in
    its own state (made by ``make``), and the operator reports the sum over its subscriptions so far.

    A state leaves when its subscription ends (its counts stay in the totals), so memory stays bounded however
    often a pipeline reconnects.
    """

    def __init__(self, make: Callable[[], S], counters: tuple[str, ...]) -> None:
        self._make = make
        self._counters = counters
        self._lock = threading.Lock()
        self._ended = dict.fromkeys(counters, 0)
        #: The states of the subscriptions running now.
        self.live: tuple[S, ...] = ()

    def open(self) -> tuple[S, abc.DisposableBase]:
        """A new subscription's state, and the disposable that ends it (part of the subscription's disposable)."""
        state = self._make()
        with self._lock:
            self.live = (*self.live, state)

        def end() -> None:
            with self._lock:
                self.live = tuple(s for s in self.live if s is not state)
                for name in self._counters:
                    self._ended[name] += getattr(state, name)

        return state, Disposable(end)

    def total(self, counter: str) -> int:
        """``counter`` summed over every subscription so far."""
        with self._lock:
            return self._ended[counter] + sum(int(getattr(s, counter)) for s in self.live)
