"""Window results to pandas: one DataFrame per window, pandas named-aggregation style."""

from __future__ import annotations

import math
import operator
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
    """The records of one window (or any list of records) as a DataFrame.

    Args:
        window: a :class:`Window` (its ``items``) or a list of records; empty gives an empty DataFrame.

    >>> from streamkit import Window, ops
    >>> ops.window_frame(Window(0, 2, [{"mac": "a", "rssi": -60}, {"mac": "b", "rssi": -70}], by_count=True))
      mac  rssi
    0   a   -60
    1   b   -70
    """
    import pandas as pd

    items = window.items if isinstance(window, Window) else list(window)
    return pd.DataFrame.from_records(items) if items else pd.DataFrame()


def _present(values: list[Any]) -> list[Any]:
    return [v for v in values if v is not None and v == v]  # pandas skips None and NaN


def _mean(values: list[Any]) -> tuple[Any, int]:
    present = _present(values)
    return math.fsum(present), len(present)


def _pick(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    def reduce(values: list[Any]) -> Any:
        present = _present(values)
        return pick(present) if present else None

    return reduce


def _lesser(a: Any, b: Any) -> Any:
    return a if b is None or (a is not None and not b < a) else b  # the first of equal values stays, as in min()


def _greater(a: Any, b: Any) -> Any:
    return a if b is None or (a is not None and not b > a) else b


def _or_nan(state: Any) -> Any:
    return math.nan if state is None else state


def _same(state: Any) -> Any:
    return state


#: Reductions computed without pandas (same results, no per-window pandas groupby), each as three functions: the
#: state of a batch of values, two states merged (the earlier first), the value of a state. A window's records are
#: reduced a batch at a time (:class:`Folded`), in C where it can be (list comprehensions, builtins); any other
#: reduction goes to pandas' ``groupby().agg()``.
FAST: dict[str, tuple[Callable[[list[Any]], Any], Callable[[Any, Any], Any], Callable[[Any], Any]]] = {
    "size": (len, operator.add, _same),
    "count": (lambda values: len(_present(values)), operator.add, _same),
    "sum": (lambda values: sum(_present(values)), operator.add, _same),
    "mean": (
        _mean,
        lambda a, b: (a[0] + b[0], a[1] + b[1]),
        lambda state: state[0] / state[1] if state[1] else math.nan,
    ),
    "min": (_pick(min), _lesser, _or_nan),
    "max": (_pick(max), _greater, _or_nan),
    "nunique": (lambda values: set(_present(values)), operator.or_, len),
    "first": (_pick(operator.itemgetter(0)), lambda a, b: b if a is None else a, _or_nan),
    "last": (_pick(operator.itemgetter(-1)), lambda a, b: a if b is None else b, _or_nan),
}

#: Records a window holds before it reduces them into its groups' states: enough to reduce in bulk, few enough
#: that a window's memory stays bounded however many records it spans.
BATCH = 4096


def _group_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in key)


class Folds:
    """The fast reductions of one :func:`aggregate`: a window's records go into a :class:`Folded`, which reduces
    them a batch at a time into its groups' states, and gives the window's frame. ``event_windows`` followed by an
    aggregate gives each window one, so a window keeps at most a batch of records, not all of them.
    """

    def __init__(self, groups: list[str], named: dict[str, tuple[str, str]]) -> None:
        self.groups = groups
        self.named = named
        self.needed = {column for column, _ in named.values()} | set(groups)
        self._columns = list(dict.fromkeys(column for column, _ in named.values()))
        self._ways = tuple((column, *FAST[how]) for column, how in named.values())

    def window(self) -> Folded:
        """A new window's groups, empty."""
        return Folded(self)

    def reduce(self, window: Folded) -> None:
        """Reduce the records ``window`` holds into its groups' states (and let go of them)."""
        items = window[:]
        del window[:]
        if not items:
            return
        if window.absent:  # columns no record of the window had so far (settled by the first, usually)
            if window.first is None:
                window.first = sorted(items[0])[:20]
            _settle(window.absent, items)
        columns = {column: [record.get(column) for record in items] for column in self._columns}
        positions: dict[Any, list[int]] = {}
        groups = self.groups
        if len(groups) == 1:
            only = groups[0]
            for i, value in enumerate([record.get(only) for record in items]):
                found = positions.get(value)
                if found is None:
                    positions[value] = [i]
                else:
                    found.append(i)
            positions = {(value,): found for value, found in positions.items()}
        elif groups:
            for i, record in enumerate(items):
                positions.setdefault(tuple(record.get(g) for g in groups), []).append(i)
        else:
            positions[()] = list(range(len(items)))
        states = window.groups
        for group, found in positions.items():
            take = operator.itemgetter(*found)
            count = len(found)
            batch = [state(_as_list(take(columns[column]), count)) for column, state, _, _ in self._ways]
            old = states.get(group)
            states[group] = (
                batch
                if old is None
                else [merge(a, b) for (_, _, merge, _), a, b in zip(self._ways, old, batch, strict=True)]
            )

    def frame(self, bounds: dict[str, Any], window: Folded) -> pd.DataFrame:
        """The window's aggregate: its ``bounds`` columns, the group columns in pandas' order, then one column per
        named reduction. Raises KeyError for columns none of its records had."""
        import pandas as pd

        self.reduce(window)
        if window.absent:
            raise _missing(window.absent, window.first or [])
        groups = window.groups
        keys = sorted(groups, key=_group_order)
        columns: dict[str, list[Any]] = {g: [key[n] for key in keys] for n, g in enumerate(self.groups)}
        for n, (name, (_, _, _, value)) in enumerate(zip(self.named, self._ways, strict=True)):
            columns[name] = [value(groups[key][n]) for key in keys]
        size = len(keys)
        return pd.DataFrame({**{k: [v] * size for k, v in bounds.items()}, **columns})


def _as_list(taken: Any, count: int) -> list[Any]:
    """``itemgetter`` gives a bare value for one position and a tuple for several."""
    return [taken] if count == 1 else list(taken)


class Folded(list[Any]):
    """One window of an aggregate: the records it holds until they are reduced (a list: records are appended to
    it), and its groups' states so far."""

    __slots__ = ("absent", "first", "groups")

    def __init__(self, folds: Folds) -> None:
        super().__init__()
        self.groups: dict[tuple[Any, ...], list[Any]] = {}
        self.absent = set(folds.needed)
        self.first: list[Any] | None = None


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


def _settle(absent: set[str], items: list[Any]) -> set[str]:
    """Take from ``absent`` (in place) the columns the records have; usually settled by the first record."""
    for record in items:
        absent.difference_update(record.keys())
        if not absent:
            break
    return absent


def _missing(absent: set[str], first: list[Any]) -> KeyError:
    return KeyError(
        f"aggregate: {sorted(absent)} not in the window's records (the first has: {first}); "
        "flatten() nested fields first, or check the names"
    )


def aggregate(by: str | list[str] | None = None, **named: tuple[str, Any]) -> Operator:
    """Aggregate each window into a DataFrame: ``cpu=("cpu_util", "mean")`` as in ``DataFrame.groupby().agg``.

    Common reductions (``mean sum count size min max nunique first last``) are computed without a pandas groupby
    per window, which is what keeps small windows cheap; after ``event_windows`` they are reduced a batch of
    records at a time as the records arrive, so a window holds at most a batch (:data:`BATCH`) of its records.
    Any other reduction (``"median"``, a function) goes through ``groupby().agg()``. The frame has
    ``window_start`` and ``window_end`` columns (UTC timestamps for time windows, positions for count windows),
    ``key`` for keyed windows, the ``by`` columns, then one column per named aggregate.

    Args:
        by: the field (or fields) to group by within each window; None: one row per window.
        named: ``name=(field, reduction)``, a reduction being a pandas name (``"mean"``) or a function.

    ``clients.pipe(sk.ops.tumbling(60), sk.ops.aggregate(by="ap_mac", clients=("mac", "nunique")))``; here
    count windows of three records:

    >>> import reactivex, streamkit as sk
    >>> from streamkit import ops
    >>> clients = reactivex.of({"ap": "a", "rssi": -60}, {"ap": "b", "rssi": -70}, {"ap": "a", "rssi": -50})
    >>> sk.collect(clients.pipe(ops.count_window(3), ops.aggregate(by="ap", n=("rssi", "count"),
    ...                                                            rssi=("rssi", "mean"))), timeout=5)[0]
       window_start  window_end ap  n  rssi
    0             0           3  a  2 -55.0
    1             0           3  b  1 -70.0
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
            folded.extend(items)
            return folds.frame(bounds, folded)
        absent = _settle(set(needed), items)
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
