"""Window results to pandas: one DataFrame per window, pandas named-aggregation style."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reactivex import operators as rx

from ._base import Operator
from .windows import Window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["aggregate", "window_frame"]


def window_frame(window: Window | Sequence[Any]) -> pd.DataFrame:
    """The records of one window (or any list of records) as a DataFrame."""
    import pandas as pd

    items = window.items if isinstance(window, Window) else list(window)
    return pd.DataFrame.from_records(items) if items else pd.DataFrame()


def aggregate(by: str | list[str] | None = None, **named: tuple[str, Any]) -> Operator:
    """Aggregate each window into a DataFrame: ``cpu=("cpu_util", "mean")`` as in ``DataFrame.groupby().agg``.

    The frame has ``window_start`` and ``window_end`` columns (UTC timestamps for time windows, positions for
    count windows), ``key`` for keyed windows, the ``by`` columns, then one column per named aggregate.

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

    def one(window: Window) -> pd.DataFrame:
        import pandas as pd

        frame = window_frame(window)
        if frame.empty:
            result = pd.DataFrame(columns=[*groups, *named])
        else:
            missing = sorted(needed - set(frame.columns))
            if missing:
                raise KeyError(
                    f"aggregate: {missing} not in the window's records (they have: {sorted(frame.columns)[:20]}); "
                    "flatten() nested fields first, or check the names"
                )
            if groups:
                result = frame.groupby(groups, dropna=False, sort=True).agg(**named).reset_index()
            else:
                result = frame.assign(_all=0).groupby("_all").agg(**named).reset_index(drop=True)
        if isinstance(window, Window):
            if window.key is not None:
                result.insert(0, "key", [window.key] * len(result))
            start, end = window.start, window.end
            if not window.by_count:
                start, end = pd.to_datetime(start, unit="s", utc=True), pd.to_datetime(end, unit="s", utc=True)
            result.insert(0, "window_end", [end] * len(result))
            result.insert(0, "window_start", [start] * len(result))
        return result

    return rx.map(one)
