"""Window results to pandas: one DataFrame per window, pandas named-aggregation style."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

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


def _present(values: list[Any]) -> list[Any]:
    return [v for v in values if v is not None and v == v]  # pandas skips None and NaN


def _mean(values: list[Any]) -> float:
    present = _present(values)
    return math.fsum(present) / len(present) if present else math.nan


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    def reduce(values: list[Any]) -> Any:
        present = _present(values)
        return pick(present) if present else math.nan

    return reduce


#: Reductions computed without pandas (same results, no per-window pandas overhead); others go to pandas.
FAST: dict[str, Callable[[list[Any]], Any]] = {
    "size": len,
    "count": lambda values: len(_present(values)),
    "sum": lambda values: sum(_present(values)),
    "mean": _mean,
    "min": _extreme(min),
    "max": _extreme(max),
    "nunique": lambda values: len(set(_present(values))),
    "first": lambda values: next(iter(_present(values)), math.nan),
    "last": lambda values: next(iter(reversed(_present(values))), math.nan),
}


def _group_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in key)


def _fast(items: list[Any], groups: list[str], named: dict[str, tuple[str, Any]]) -> dict[str, list[Any]]:
    """The aggregate's columns (group columns, then one per named aggregate), computed without pandas."""
    columns = {column: [record.get(column) for record in items] for column, _ in named.values()}
    positions: dict[Any, list[int]] = {}
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
    keys = sorted(positions, key=_group_order)
    out: dict[str, list[Any]] = {g: [key[n] for key in keys] for n, g in enumerate(groups)}
    for name in named:
        out[name] = []
    for key in keys:
        take = itemgetter(*positions[key])
        count = len(positions[key])
        for name, (column, how) in named.items():
            out[name].append(FAST[how](_as_list(take(columns[column]), count)))
    return out


def _as_list(taken: Any, count: int) -> list[Any]:
    """``itemgetter`` gives a bare value for one position and a tuple for several."""
    return [taken] if count == 1 else list(taken)


def aggregate(by: str | list[str] | None = None, **named: tuple[str, Any]) -> Operator:
    """Aggregate each window into a DataFrame: ``cpu=("cpu_util", "mean")`` as in ``DataFrame.groupby().agg``.

    Common reductions (``mean sum count size min max nunique first last``) are computed without a pandas
    groupby per window, which is what keeps small windows cheap; any other reduction (``"median"``, a function)
    goes through ``groupby().agg()``. The frame has ``window_start`` and ``window_end`` columns (UTC timestamps
    for time windows, positions for count windows), ``key`` for keyed windows, the ``by`` columns, then one column
    per named aggregate.

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
    fast = all(isinstance(how, str) and how in FAST for _, how in named.values())

    def one(window: Window) -> pd.DataFrame:
        import pandas as pd

        items = window.items if isinstance(window, Window) else list(window)
        bounds: dict[str, Any] = {}
        if isinstance(window, Window):
            if window.by_count:
                bounds = {"window_start": window.start, "window_end": window.end}
            else:  # time windows' bounds are epoch seconds
                bounds = {
                    "window_start": utc_timestamp(window.start, "s"),
                    "window_end": utc_timestamp(window.end, "s"),
                }
            if window.key is not None:
                bounds["key"] = window.key
        if not items:
            return pd.DataFrame(columns=[*bounds, *groups, *named])
        absent = set(needed)
        for record in items:  # usually settled by the first record
            absent -= record.keys()
            if not absent:
                break
        if absent:
            raise KeyError(
                f"aggregate: {sorted(absent)} not in the window's records (the first has: {sorted(items[0])[:20]}); "
                "flatten() nested fields first, or check the names"
            )
        if fast:
            columns = _fast(items, groups, named)
            size = len(next(iter(columns.values())))
            return pd.DataFrame({**{k: [v] * size for k, v in bounds.items()}, **columns})
        frame = pd.DataFrame({column: [record.get(column) for record in items] for column in sorted(needed)})
        if groups:
            result = frame.groupby(groups, dropna=False, sort=True).agg(**named).reset_index()
        else:
            result = frame.assign(_all=0).groupby("_all").agg(**named).reset_index(drop=True)
        for position, (name, value) in enumerate(bounds.items()):
            result.insert(position, name, [value] * len(result))
        return result

    return rx.map(one)
