"""What the operator families share: the operator type, clocks, record copies that keep their origin."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from reactivex import Observable, abc

from ..core import Message

__all__ = ["Operator", "copy_of", "describe", "described", "like", "now", "pick_scheduler"]

Operator: TypeAlias = Callable[[Observable[Any]], Observable[Any]]


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
    return scheduler.to_seconds(scheduler.now)


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
