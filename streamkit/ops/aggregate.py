"""Window results to pandas: one DataFrame per window, pandas named-aggregation style."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

from reactivex import Observable
from reactivex import operators as rx

from .._time import utc_timestamp
from ..core import Window
from ._base import Operator

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["aggregate", "window_frame"]


def window_frame(window: Window | Sequence[Any]) -> pd.DataFrame:
    """The records of one window (or any list of records) as a DataFrame."""
    import pandas as pd

    items = window.items if isinstance(window, Window) else list(window)
    return pd.DataFrame.from_records(items) if items else pd.DataFrame()


# Each fast reduction folds one value at a time into its slot ``s[i]`` of a group's states; ``v`` is the record's
# value of the reduction's column, read once per record, and ``present`` whether pandas counts it (it skips None
# and NaN: ``v == v`` is false for NaN). These lines are put together into one function per aggregate (see
# Folds._source): a call per reduction and record would cost more than the reductions themselves.
_FOLDS = {
    "size": "s[{i}] += 1",
    "count": "if {present}: s[{i}] += 1",
    "sum": "if {present}: s[{i}] += {v}",  # in arrival order from 0, as sum() adds
    "mean": "if {present}: m = s[{i}]; m[0] += {v}; m[1] += 1",
    "min": "if {present} and (s[{i}] is None or {v} < s[{i}]): s[{i}] = {v}",  # the first of equals stays, as in min()
    "max": "if {present} and (s[{i}] is None or {v} > s[{i}]): s[{i}] = {v}",
    "first": "if s[{i}] is None and {present}: s[{i}] = {v}",
    "last": "if {present}: s[{i}] = {v}",
    "nunique": "if {present}: s[{i}].add({v})",
}


def _none() -> None:
    return None


def _zero() -> int:
    return 0


def _pair() -> list[Any]:
    return [0, 0]


def _or_nan(state: Any) -> Any:
    return math.nan if state is None else state


def _same(state: Any) -> Any:
    return state


#: Reductions folded record by record (same results as pandas, no per-window pandas groupby): each one's fold (a
#: line of :data:`_FOLDS`), its empty state and the value of a state; others go to pandas' ``groupby().agg()``.
FAST: dict[str, tuple[str, Callable[[], Any], Callable[[Any], Any]]] = {
    "size": (_FOLDS["size"], _zero, _same),
    "count": (_FOLDS["count"], _zero, _same),
    "sum": (_FOLDS["sum"], _zero, _same),
    "mean": (_FOLDS["mean"], _pair, lambda state: state[0] / state[1] if state[1] else math.nan),
    "min": (_FOLDS["min"], _none, _or_nan),
    "max": (_FOLDS["max"], _none, _or_nan),
    "nunique": (_FOLDS["nunique"], set, len),
    "first": (_FOLDS["first"], _none, _or_nan),
    "last": (_FOLDS["last"], _none, _or_nan),
}


def _group_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in key)


class Folds:
    """The fast reductions of one :func:`aggregate`, folded as records come: each window's records go into a
    :class:`Folded` (its groups, from the group to one state per named reduction), which gives the window's frame.
    ``aggregate`` folds a window's list of records in one go; ``event_windows`` followed by an aggregate folds each
    record as it arrives, so no window keeps its records.
    """

    def __init__(self, groups: list[str], named: dict[str, tuple[str, str]]) -> None:
        self.groups = groups
        self.named = named
        self.needed = {column for column, _ in named.values()} | set(groups)
        self._empty = tuple(FAST[how][1] for _, how in named.values())
        self._values = tuple(FAST[how][2] for _, how in named.values())
        columns = list(dict.fromkeys(column for column, _ in named.values()))
        scope: dict[str, Any] = {
            "empty": self._empty,
            **{f"by{n}": g for n, g in enumerate(groups)},
            **{f"c{n}": column for n, column in enumerate(columns)},
        }
        exec(self._source(columns), scope)  # the text holds no name or value given (see _source)
        self._fold_for: Callable[[Folded], Callable[[Any], None]] = scope["fold_for"]

    def _source(self, columns: list[str]) -> str:
        """The source of ``fold_for(window)``, the function folding one record into ``window``. The group and
        column names are its constants ``by0 ...`` and ``c0 ...``: nothing given to the aggregate is in the text."""
        if len(self.groups) == 1:
            group = "get(by0)"
        else:
            group = "(" + "".join(f"get(by{n}), " for n in range(len(self.groups))) + ")"
        lines = [
            "def fold_for(window):",
            "    groups, absent = window.groups, window.absent",
            "    def fold(record):",
            "        if absent:  # columns no record of the window had so far (settled by the first, usually)",
            "            if window.first is None:",
            "                window.first = sorted(record)[:20]",
            "            absent.difference_update(record.keys())",
            "        get = record.get",
            f"        group = {group}",
            "        s = groups.get(group)",
            "        if s is None:",
            "            s = groups[group] = [make() for make in empty]",
        ]
        read = {column for column, how in self.named.values() if how != "size"}  # a size needs no value
        lines += [f"        v{n} = get(c{n})" for n, column in enumerate(columns) if column in read]
        for i, (column, how) in enumerate(self.named.values()):
            v = f"v{columns.index(column)}"
            lines.append("        " + _FOLDS[how].format(i=i, v=v, present=f"{v} is not None and {v} == {v}"))
        lines.append("    return fold")
        return "\n".join(lines)

    def window(self) -> Folded:
        """A new window's groups, empty."""
        return Folded(self)

    def folder(self, window: Folded) -> Callable[[Any], None]:
        """The function folding one record into ``window``."""
        return self._fold_for(window)

    def frame(self, bounds: dict[str, Any], window: Folded) -> pd.DataFrame:
        """The window's aggregate: its ``bounds`` columns, the group columns in pandas' order, then one column per
        named reduction. Raises KeyError for columns none of its records had."""
        import pandas as pd

        if window.absent:
            raise _missing(window.absent, window.first or [])
        by = self.groups
        groups = {(group,): states for group, states in window.groups.items()} if len(by) == 1 else window.groups
        keys: list[Any] = sorted(groups, key=_group_order)
        columns: dict[str, list[Any]] = {g: [key[n] for key in keys] for n, g in enumerate(by)}
        for n, (name, value) in enumerate(zip(self.named, self._values, strict=True)):
            columns[name] = [value(groups[key][n]) for key in keys]
        size = len(keys)
        return pd.DataFrame({**{k: [v] * size for k, v in bounds.items()}, **columns})


class Folded:
    """One window's groups, folded as its records come: ``append`` folds a record (as a window's list of records
    is appended to)."""

    __slots__ = ("absent", "append", "first", "groups")

    def __init__(self, folds: Folds) -> None:
        self.groups: dict[Hashable, list[Any]] = {}
        self.absent = set(folds.needed)
        self.first: list[Any] | None = None
        self.append = folds.folder(self)


def bounds_of(start: float, end: float, key: Hashable | None, by_count: bool) -> dict[str, Any]:
    """A window's own columns: its bounds (UTC timestamps for time windows, positions for count windows) and its
    key when keyed."""
    if by_count:
        bounds: dict[str, Any] = {"window_start": start, "window_end": end}
    else:  # time windows' bounds are epoch seconds
        bounds = {"window_start": utc_timestamp(start, "s"), "window_end": utc_timestamp(end, "s")}
    if key is not None:
        bounds["key"] = key
    return bounds


def _missing(absent: set[str], first: list[Any]) -> KeyError:
    return KeyError(
        f"aggregate: {sorted(absent)} not in the window's records (the first has: {first}); "
        "flatten() nested fields first, or check the names"
    )


def aggregate(by: str | list[str] | None = None, **named: tuple[str, Any]) -> Operator:
    """Aggregate each window into a DataFrame: ``cpu=("cpu_util", "mean")`` as in ``DataFrame.groupby().agg``.

    Common reductions (``mean sum count size min max nunique first last``) are folded record by record without a
    pandas groupby per window, which is what keeps small windows cheap; after ``event_windows`` they are folded as
    the records arrive, so the windows keep no records. Any other reduction (``"median"``, a function) goes
    through ``groupby().agg()``. The frame has ``window_start`` and ``window_end`` columns (UTC timestamps for time
    windows, positions for count windows), ``key`` for keyed windows, the ``by`` columns, then one column per
    named aggregate.

    Example::

        per_ap = clients.pipe(
            sk.ops.tumbling(60),
            sk.ops.aggregate(by="ap_mac", clients=("mac", "nunique"), rssi=("rssi", "mean")),
        )
    """
    if not named:
        raise ValueError('name at least one aggregate, e.g. aggregate(by="mac", cpu=("cpu_util", "mean"))')
    groups = [by] if isinstance(by, str) else list(by or [])
    needed = {column for column, _ in named.values()} | set(groups)
    folds = Folds(groups, named) if all(isinstance(how, str) and how in FAST for _, how in named.values()) else None

    def one(window: Window) -> pd.DataFrame:
        import pandas as pd

        items = window.items if isinstance(window, Window) else list(window)
        bounds = bounds_of(window.start, window.end, window.key, window.by_count) if isinstance(window, Window) else {}
        if not items:
            return pd.DataFrame(columns=[*bounds, *groups, *named])
        if folds is not None:
            folded = folds.window()
            for record in items:
                folded.append(record)
            return folds.frame(bounds, folded)
        absent = set(needed)
        for record in items:  # usually settled by the first record
            absent -= record.keys()
            if not absent:
                break
        if absent:
            raise _missing(absent, sorted(items[0])[:20])
        frame = pd.DataFrame({column: [record.get(column) for record in items] for column in sorted(needed)})
        if groups:
            result = frame.groupby(groups, dropna=False, sort=True).agg(**named).reset_index()
        else:
            result = frame.assign(_all=0).groupby("_all").agg(**named).reset_index(drop=True)
        for position, (name, value) in enumerate(bounds.items()):
            result.insert(position, name, [value] * len(result))
        return result

    def operator(source: Observable[Any]) -> Observable[Any]:
        aggregated = getattr(source, "aggregated", None)
        if folds is not None and aggregated is not None:  # the windows fold their records as they arrive
            return aggregated(folds)  # type: ignore[no-any-return]
        return rx.map(one)(source)

    return operator
