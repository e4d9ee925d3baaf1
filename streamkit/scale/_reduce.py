"""Mergeable window aggregates: what a shard computes next to its connection, and how the kernel merges the
shards' partials into the frame :func:`streamkit.ops.aggregate` gives for the same window.

Each reduction keeps a small state per (window, group) that merges associatively: counts add, sums add (exactly:
Shewchuk's partials, so a mean equals ``math.fsum(values) / n`` whatever the split), min/max compare, first/last
keep the value with the earliest/latest arrival, nunique unions its set. No records cross the wire, only states.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._time import utc_timestamp
from ..core import Message, Window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MERGEABLE", "Aggregation", "Partial", "aggregation"]

#: Reductions a shard can pre-aggregate (the others need every record in one place).
MERGEABLE = ("size", "count", "sum", "mean", "min", "max", "first", "last", "nunique")

#: A window's identity across shards: (start, end, key, by_count).
WindowId = tuple[float, float, Hashable, bool]


def _present(value: Any) -> bool:
    return value is not None and value == value  # pandas skips None and NaN


def _msum(partials: list[float], x: float) -> None:
    """Add ``x`` to Shewchuk's exact partial sums (the algorithm behind ``math.fsum``), in place."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


def _add_number(state: list[Any], value: Any) -> None:
    """A sum's state is ``[exact_int, float_partials]``: ints stay ints (as ``sum`` keeps them), floats exact."""
    if type(value) is int or type(value) is bool:
        state[0] += value
    else:
        _msum(state[1], float(value))


def _sum_value(state: list[Any]) -> Any:
    ints, floats = state[0], state[1]
    if not floats:
        return ints
    return math.fsum([*floats, float(ints)]) if ints else math.fsum(floats)


@dataclass(frozen=True)
class Aggregation:
    """What to aggregate per window on the shards: ``by`` group columns and named reductions, as in
    :func:`streamkit.ops.aggregate` (whose frame the merged result equals). Create it with :func:`aggregation`.

    >>> agg = aggregation(by="site", n=("mac", "count"), cpu=("cpu", "mean"))
    >>> agg
    Aggregation(by=['site'], n=('mac', 'count'), cpu=('cpu', 'mean'))
    """

    by: tuple[str, ...]
    named: tuple[tuple[str, str, str], ...]  # (name, column, reduction)
    needed: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needed", frozenset(self.by) | {column for _, column, _ in self.named})

    def __repr__(self) -> str:
        named = ", ".join(f"{name}=({column!r}, {how!r})" for name, column, how in self.named)
        return f"Aggregation(by={list(self.by)}, {named})"

    # -- on the shard --------------------------------------------------------------------------------------

    def partial(self, window: Window) -> Partial:
        """The window's states, one per group (raises what :func:`streamkit.ops.aggregate` raises on a missing
        column)."""
        items = window.items
        if items:
            absent = set(self.needed)
            for record in items:
                absent -= record.keys()
                if not absent:
                    break
            if absent:
                raise KeyError(
                    f"aggregate: {sorted(absent)} not in the window's records (the first has: "
                    f"{sorted(items[0])[:20]}); flatten() nested fields first, or check the names"
                )
        groups: dict[tuple[Any, ...], list[Any]] = {}
        by, named = self.by, self.named
        for position, record in enumerate(items):
            group = tuple(record.get(g) for g in by)
            states = groups.get(group)
            if states is None:
                states = groups[group] = [self._empty(how) for _, _, how in named]
            when = (record.received, position) if type(record) is Message else (math.inf, position)
            for n, (_, column, how) in enumerate(named):
                self._add(states, n, how, record.get(column), when)
        return Partial((window.start, window.end, window.key, window.by_count), groups)

    @staticmethod
    def _empty(how: str) -> Any:
        if how in ("size", "count"):
            return 0
        if how in ("sum", "mean"):
            return [0, [], 0]  # exact int part, float partials, count of present values
        if how == "nunique":
            return set()
        return None  # min, max, first, last: nothing yet

    @staticmethod
    def _add(states: list[Any], n: int, how: str, value: Any, when: tuple[float, int]) -> None:
        if how == "size":
            states[n] += 1
            return
        if not _present(value):
            return
        if how == "count":
            states[n] += 1
        elif how in ("sum", "mean"):
            state = states[n]
            _add_number(state, value)
            state[2] += 1
        elif how == "min":
            if states[n] is None or value < states[n]:
                states[n] = value
        elif how == "max":
            if states[n] is None or value > states[n]:
                states[n] = value
        elif how == "first":
            if states[n] is None:
                states[n] = (when, value)
        elif how == "last":
            states[n] = (when, value)
        else:  # nunique
            states[n].add(value)

    # -- in the kernel -------------------------------------------------------------------------------------

    def merge(self, into: dict[tuple[Any, ...], list[Any]], partial: Mapping[tuple[Any, ...], list[Any]]) -> None:
        """Merge one shard's states of a window into ``into`` (in place)."""
        for group, states in partial.items():
            mine = into.get(group)
            if mine is None:
                into[group] = [self._copy(s) for s in states]
                continue
            for n, (_, _, how) in enumerate(self.named):
                mine[n] = self._combine(how, mine[n], states[n])

    @staticmethod
    def _copy(state: Any) -> Any:
        if isinstance(state, list):
            return [state[0], list(state[1]), state[2]]
        if isinstance(state, set):
            return set(state)
        return state

    @staticmethod
    def _combine(how: str, a: Any, b: Any) -> Any:
        if how in ("size", "count"):
            return a + b
        if how in ("sum", "mean"):
            a[0] += b[0]
            for x in b[1]:
                _msum(a[1], x)
            a[2] += b[2]
            return a
        if how == "nunique":
            return a | b
        if a is None:
            return b
        if b is None:
            return a
        if how == "min":
            return b if b < a else a
        if how == "max":
            return b if b > a else a
        if how == "first":
            return b if b[0] < a[0] else a
        return b if b[0] > a[0] else a  # last

    @staticmethod
    def _value(how: str, state: Any) -> Any:
        if how in ("size", "count"):
            return state
        if how == "sum":
            return _sum_value(state)
        if how == "mean":
            if not state[2]:
                return math.nan
            total = math.fsum([*state[1], float(state[0])]) if state[1] else float(state[0])
            return total / state[2]
        if how == "nunique":
            return len(state)
        if state is None:
            return math.nan
        return state[1] if how in ("first", "last") else state

    def frame(self, window: WindowId, groups: Mapping[tuple[Any, ...], list[Any]]) -> pd.DataFrame:
        """The merged window as :func:`streamkit.ops.aggregate` frames it."""
        import pandas as pd

        from ..ops.aggregate import _group_order

        start, end, key, by_count = window
        if by_count:
            bounds: dict[str, Any] = {"window_start": start, "window_end": end}
        else:
            bounds = {"window_start": utc_timestamp(start, "s"), "window_end": utc_timestamp(end, "s")}
        if key is not None:
            bounds["key"] = key
        ordered = sorted(groups, key=_group_order)
        columns: dict[str, list[Any]] = {g: [group[n] for group in ordered] for n, g in enumerate(self.by)}
        for n, (name, _, how) in enumerate(self.named):
            columns[name] = [self._value(how, groups[group][n]) for group in ordered]
        size = len(ordered)
        return pd.DataFrame({**{k: [v] * size for k, v in bounds.items()}, **columns})


@dataclass(frozen=True, slots=True)
class Partial:
    """One shard's states of one window: ``{group: [state per named reduction]}``."""

    window: WindowId
    groups: dict[tuple[Any, ...], list[Any]]


def aggregation(by: str | Iterable[str] | None = None, **named: tuple[str, str]) -> Aggregation:
    """Window aggregates for the shards to pre-compute: the arguments of :func:`streamkit.ops.aggregate`, limited to
    the reductions that merge (:data:`MERGEABLE`).

    >>> aggregation(by="site_id", devices=("mac", "nunique"), cpu=("cpu_util", "max"))
    Aggregation(by=['site_id'], devices=('mac', 'nunique'), cpu=('cpu_util', 'max'))
    >>> aggregation(p50=("cpu_util", "median"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: p50=('cpu_util', 'median'): the shards pre-aggregate only size, count, sum, mean, ...
    """
    if not named:
        raise ValueError('name at least one aggregate, e.g. aggregation(by="site_id", n=("mac", "count"))')
    for name, spec in named.items():
        if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str)):
            raise ValueError(f"{name}= is a (column, reduction) pair such as ('cpu_util', 'mean'), not {spec!r}")
        if spec[1] not in MERGEABLE:
            raise ValueError(
                f"{name}={spec!r}: the shards pre-aggregate only {', '.join(MERGEABLE)}; aggregate on the records in "
                "the kernel for the others (no windows= or aggregate= on subscribe, then "
                ".pipe(sk.ops.tumbling(...), sk.ops.aggregate(...)))"
            )
    groups = (by,) if isinstance(by, str) else tuple(by or ())
    return Aggregation(groups, tuple((name, column, how) for name, (column, how) in named.items()))
