"""Joins: two keyed streams within a time bound, latest-by-key enrichment, and static lookups."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as rx
from reactivex.disposable import CompositeDisposable

from .._time import check_unit, time_of
from ._base import Operator, copy_of, now, pick_scheduler, seconds_range

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["enrich", "join", "with_latest"]

On = str | tuple[str, str]


def _keys(on: On) -> tuple[str, str]:
    return (on, on) if isinstance(on, str) else on


def merge_records(
    left: Mapping[str, Any], right: Mapping[str, Any] | None, *, skip: str, suffix: str
) -> dict[str, Any]:
    """``left`` with ``right``'s fields added; a field both have gets ``suffix`` on the right's copy."""
    out = copy_of(left)
    if right is not None:
        for name, value in right.items():
            if name == skip and name in left:
                continue
            out[name + suffix if name in left else name] = value
    return out


def join(
    other: Observable[Any],
    *,
    on: On,
    within: float,
    how: str = "inner",
    time: str | None = None,
    unit: str | None = None,
    suffix: str = "_right",
    scheduler: abc.SchedulerBase | None = None,
) -> Operator:
    """Join each record with the ``other`` stream's records of the same key at most ``within`` seconds apart.

    Each matching pair is emitted once, when its later record arrives. ``how="left"`` also emits, once its time
    bound has passed, each left record that met no match (right fields absent). Records older than the newest time
    minus ``within`` are evicted, so both streams are expected in (roughly) time order.

    Args:
        other: the right-hand stream.
        on: a field name, or ``(left_field, right_field)``: client stats with the device stats of their AP are
            ``on=("ap_mac", "mac")``.
        time: the event-time field of both sides (epoch number, ISO 8601 text or datetime; ``"received"`` is the
            message's arrival); None: processing time, when records reach the operator on the ``scheduler``.
        unit: the unit of epoch numbers in ``time`` (``s ms us ns``); None: by magnitude.

    ``clients.pipe(sk.ops.join(devices, on=("ap_mac", "mac"), within=30))``; here on event time, ``how="left"``
    (``c2``'s AP reported 45 s later, too far apart to match):

    >>> import reactivex, streamkit as sk
    >>> from streamkit import ops
    >>> clients = reactivex.of({"mac": "c1", "ap_mac": "ap1", "t": 100}, {"mac": "c2", "ap_mac": "ap2", "t": 105})
    >>> devices = reactivex.of({"mac": "ap1", "cpu": 7, "t": 90}, {"mac": "ap2", "cpu": 12, "t": 150})
    >>> joined = clients.pipe(ops.join(devices, on=("ap_mac", "mac"), within=30, time="t", how="left"))
    >>> for record in sk.collect(joined, timeout=5):
    ...     print(record)
    {'mac': 'c1', 'ap_mac': 'ap1', 't': 100, 'cpu': 7, 't_right': 90}
    {'mac': 'c2', 'ap_mac': 'ap2', 't': 105}
    """
    if how not in ("inner", "left"):
        raise ValueError(f'how is "inner" or "left", not {how!r}')
    if within < 0:
        raise ValueError(f"within is seconds, zero or more, not {within}")
    check_unit(unit)
    left_key, right_key = _keys(on)
    time_field = time or ""
    low, high = seconds_range(unit)

    def operator(source: Observable[Any]) -> Observable[Any]:
        def subscribe(observer: abc.ObserverBase[Any], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = None if time is not None else pick_scheduler(scheduler, sub_scheduler)
            buffered: dict[str, defaultdict[Hashable, deque[list[Any]]]] = {  # side -> key -> [t, record, matched]
                "left": defaultdict(deque),
                "right": defaultdict(deque),
            }
            order: deque[tuple[float, str, Hashable]] = deque()  # arrival order, for eviction
            newest = -math.inf
            done = {"left": False, "right": False}

            def evict(limit: float) -> None:
                while order and order[0][0] < limit:
                    _, side, key = order.popleft()
                    entries = buffered[side][key]
                    _, record, matched = entries.popleft()
                    if side == "left" and how == "left" and not matched:
                        observer.on_next(merge_records(record, None, skip=right_key, suffix=suffix))
                    if not entries:
                        del buffered[side][key]

            def arrival(side: str) -> Callable[[Any], None]:
                mine, theirs = buffered[side], buffered["right" if side == "left" else "left"]
                key_field = left_key if side == "left" else right_key

                def on_next(record: Any) -> None:
                    nonlocal newest
                    # the record's time, inline (a call per record is much of the cost): epoch seconds as they are
                    value = now(sched) if sched is not None else record.get(time_field)
                    if sched is None and not ((type(value) is float or type(value) is int) and low < value < high):
                        value = time_of(record, time_field, unit)
                        if value is None:
                            return
                    t: float = value
                    if t > newest:
                        newest = t
                        evict(newest - within)
                    key = record.get(key_field)
                    entry = [t, record, False]
                    for other in theirs.get(key, ()):
                        if abs(other[0] - t) <= within:
                            entry[2] = other[2] = True
                            left, right = (record, other[1]) if side == "left" else (other[1], record)
                            observer.on_next(merge_records(left, right, skip=right_key, suffix=suffix))
                    mine[key].append(entry)
                    order.append((t, side, key))

                return on_next

            def completed(side: str) -> Callable[[], None]:
                def on_completed() -> None:
                    done[side] = True
                    if all(done.values()):
                        evict(math.inf)
                        observer.on_completed()

                return on_completed

            return CompositeDisposable(
                source.subscribe(arrival("left"), observer.on_error, completed("left"), scheduler=sub_scheduler),
                other.subscribe(arrival("right"), observer.on_error, completed("right"), scheduler=sub_scheduler),
            )

        return reactivex.create(subscribe)

    return operator


def with_latest(other: Observable[Any], *, on: On, suffix: str = "_right") -> Operator:
    """Enrich each record with the newest record of ``other`` that has the same key (as it stands when the
    record arrives); records whose key ``other`` has not shown yet pass through unchanged.

    Args:
        other: the stream whose newest record per key is remembered.
        on: a field name, or ``(field, other_field)``; suffix: added to ``other``'s fields the record has too.

    ``clients.pipe(sk.ops.with_latest(devices, on=("ap_mac", "mac")))``; here with Subjects, pushed by hand:

    >>> from reactivex import Subject
    >>> from streamkit import ops
    >>> clients, devices, out = Subject(), Subject(), []
    >>> _ = clients.pipe(ops.with_latest(devices, on=("ap_mac", "mac"))).subscribe(out.append)
    >>> clients.on_next({"mac": "c1", "ap_mac": "ap1"})
    >>> devices.on_next({"mac": "ap1", "cpu": 7})
    >>> clients.on_next({"mac": "c2", "ap_mac": "ap1"})
    >>> devices.on_next({"mac": "ap1", "cpu": 9})
    >>> clients.on_next({"mac": "c3", "ap_mac": "ap1"})
    >>> for record in out:
    ...     print(record)
    {'mac': 'c1', 'ap_mac': 'ap1'}
    {'mac': 'c2', 'ap_mac': 'ap1', 'cpu': 7}
    {'mac': 'c3', 'ap_mac': 'ap1', 'cpu': 9}
    """
    left_key, right_key = _keys(on)

    def operator(source: Observable[Any]) -> Observable[Any]:
        def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> Any:
            latest: dict[Hashable, Any] = {}

            def remember(record: Any) -> None:
                latest[record.get(right_key)] = record

            def on_next(record: Any) -> None:
                observer.on_next(merge_records(record, latest.get(record.get(left_key)), skip=right_key, suffix=suffix))

            return CompositeDisposable(
                other.subscribe(remember, observer.on_error, scheduler=scheduler),
                source.subscribe(on_next, observer.on_error, observer.on_completed, scheduler=scheduler),
            )

        return reactivex.create(subscribe)

    return operator


def enrich(table: pd.DataFrame | Mapping[Hashable, Mapping[str, Any]], *, on: On, suffix: str = "_right") -> Operator:
    """Add the fields of a static table (a DataFrame, or a dict from key to fields) to each record: a site or
    device inventory, say. ``on`` is the record's key field, or ``(record_field, table_column)``.

    Args:
        table: a DataFrame (its last row per key counts) or a dict from key to fields.
        on: the key field, or ``(record_field, table_column)``; suffix: added to table fields the record has too.

    ``devices.pipe(sk.ops.enrich(inventory_df, on="mac"))``; a key not in the table passes unchanged:

    >>> import pandas as pd, reactivex, streamkit as sk
    >>> from streamkit import ops
    >>> inventory = pd.DataFrame({"mac": ["ap1", "ap2"], "site": ["hq", "lab"]})
    >>> clients = reactivex.of({"mac": "c1", "ap_mac": "ap1"}, {"mac": "c2", "ap_mac": "ap3"})
    >>> for record in sk.collect(clients.pipe(ops.enrich(inventory, on=("ap_mac", "mac"))), timeout=5):
    ...     print(record)
    {'mac': 'c1', 'ap_mac': 'ap1', 'site': 'hq'}
    {'mac': 'c2', 'ap_mac': 'ap3'}
    """
    left_key, right_key = _keys(on)
    if isinstance(table, Mapping):
        lookup: Mapping[Hashable, Mapping[str, Any]] = table
    else:
        if right_key not in table.columns:
            raise KeyError(f"enrich: the table has no column {right_key!r} (columns: {list(table.columns)})")
        lookup = table.drop_duplicates(right_key, keep="last").set_index(right_key, drop=False).to_dict("index")
    return rx.map(lambda record: merge_records(record, lookup.get(record.get(left_key)), skip=right_key, suffix=suffix))
