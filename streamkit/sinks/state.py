"""Bounded table state behind LiveFrame: pure (no I/O, no widgets, pandas only when a DataFrame is asked for).

Rows are kept as they arrive, added in batches, with no per-message pandas work; :meth:`TableState.frame`
turns the buffer into a DataFrame in one go. Append mode keeps the newest rows; keyed mode keeps the latest row per key.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TableState", "parse_age"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "sec": 1, None: 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_age(age: float | str | None) -> float | None:
    """Seconds from ``30``, ``"90s"``, ``"15min"``, ``"2h"``, ``"1d"`` (``None``: no age limit).

    >>> from streamkit.sinks import parse_age
    >>> parse_age(30), parse_age("90s"), parse_age("15min"), parse_age("1d"), parse_age(None)
    (30.0, 90.0, 900.0, 86400.0, None)
    """
    if age is None or isinstance(age, (int, float)):
        if age is not None and age <= 0:
            raise ValueError(f"max_age must be positive, not {age}")
        return None if age is None else float(age)
    match = _AGE.match(age)
    if match is None:
        raise ValueError(f"max_age is seconds or a string like '90s', '15min', '2h', not {age!r}")
    return float(match[1]) * _UNITS[match[2]]


class TableState:
    """The rows a live table holds, bounded by count and/or age.

    Args:
        key: field (or function) naming a row's identity: keyed mode upserts the latest row per key.
        merge: in keyed mode, update the key's row with the new fields instead of replacing it (Mist APs send a
            "basic" and a "full" message under one MAC: merged, the row has the latest value of every field).
        max_rows: most rows kept (append mode: the newest; keyed mode: the most recently updated keys).
        max_age: drop rows older than this (seconds or ``"15min"``), by arrival time.
        clock: seconds now (injectable for tests).

    Keyed, merged and bounded by count: the least recently updated key goes first.

    >>> from streamkit.sinks import TableState
    >>> table = TableState(key="mac", max_rows=2)
    >>> table.add([{"mac": "a", "cpu": 1}, {"mac": "b", "cpu": 2}, {"mac": "a", "mem": 3}])
    >>> table.rows()
    [{'mac': 'b', 'cpu': 2}, {'mac': 'a', 'cpu': 1, 'mem': 3}]
    >>> table.add([{"mac": "c", "cpu": 5}])
    >>> [row["mac"] for row in table.rows()], table.received, table.evicted
    (['a', 'c'], 4, 1)
    >>> table.frame()
      mac  cpu  mem
    0   a    1  3.0
    1   c    5  NaN

    Appended and bounded by age (here on a clock the example moves):

    >>> now = [1000.0]
    >>> recent = TableState(max_rows=None, max_age="1min", clock=lambda: now[0])
    >>> recent.add([{"n": 1}, {"n": 2}])
    >>> now[0] += 90
    >>> recent.add([{"n": 3}])
    >>> recent.rows(), recent.evicted
    ([{'n': 3}], 2)
    """

    def __init__(
        self,
        *,
        key: str | Callable[[Mapping[str, Any]], Hashable] | None = None,
        max_rows: int | None = 10_000,
        max_age: float | str | None = None,
        merge: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}")
        if max_rows is None and max_age is None:
            raise ValueError("give max_rows=, max_age= or both: a live table must be bounded")
        self._key: Callable[[Mapping[str, Any]], Hashable] | None = (
            (key if callable(key) else (lambda row: row.get(key))) if key is not None else None
        )
        self.key_name = key if isinstance(key, str) else None
        self.max_rows = max_rows
        self.max_age = parse_age(max_age)
        self.merge = merge
        self._clock = clock
        self._rows: deque[tuple[float, Mapping[str, Any]]] = deque()
        self._keyed: OrderedDict[Hashable, tuple[float, Mapping[str, Any]]] = OrderedDict()
        #: Bumped on every change, so a view can tell whether it has anything new to show.
        self.version = 0
        self.received = 0
        self.evicted = 0
        self.changed_keys: set[Hashable] = set()

    @property
    def key_of(self) -> Callable[[Mapping[str, Any]], Hashable] | None:
        """The function giving a row's key in keyed mode; ``None`` in append mode."""
        return self._key

    def __len__(self) -> int:
        return len(self._keyed) if self._key is not None else len(self._rows)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take a batch of rows (a window result DataFrame is given as its records)."""
        now = self._clock()
        before = self.received
        if self._key is None:
            stamped = [(now, row) for row in rows]
            self._rows.extend(stamped)
            self.received += len(stamped)
        else:
            keyed, key_of, changed = self._keyed, self._key, self.changed_keys
            for row in rows:
                k = key_of(row)
                if self.merge:
                    old = keyed.get(k)
                    if old is not None:
                        row = {**old[1], **row}
                keyed[k] = (now, row)
                keyed.move_to_end(k)
                changed.add(k)
                self.received += 1
        if self.received != before:
            self.version += 1
        self.evict(now)

    def evict(self, now: float | None = None) -> int:
        """Drop what is over the bounds; returns how many rows went."""
        now = self._clock() if now is None else now
        before = len(self)
        store: Any = self._keyed if self._key is not None else self._rows
        pop = (lambda: store.popitem(last=False)) if self._key is not None else store.popleft
        if self.max_rows is not None:
            while len(store) > self.max_rows:
                pop()
        if self.max_age is not None:
            oldest = now - self.max_age
            first = (lambda: next(iter(store.values()))[0]) if self._key is not None else (lambda: store[0][0])
            while store and first() < oldest:
                pop()
        gone = before - len(self)
        if gone:
            self.evicted += gone
            self.version += 1
        return gone

    def rows(self, newest: int | None = None) -> list[Mapping[str, Any]]:
        """The rows, oldest first (or only the ``newest`` n)."""
        source: Iterable[tuple[float, Mapping[str, Any]]] = (
            self._keyed.values() if self._key is not None else self._rows
        )
        if newest is not None:
            items = list(source)[-newest:] if self._key is not None else list(self._tail(newest))
        else:
            items = list(source)
        return [row for _, row in items]

    def _tail(self, n: int) -> Iterable[tuple[float, Mapping[str, Any]]]:
        rows = self._rows
        start = max(0, len(rows) - n)
        return (rows[i] for i in range(start, len(rows)))

    def frame(self, newest: int | None = None) -> pd.DataFrame:
        """The rows as a DataFrame in one go; its columns are every field of those rows, in order of first
        appearance (the schema grows as new fields arrive; a row without a field gets NaN/None there)."""
        import pandas as pd

        return pd.DataFrame(self.rows(newest))
