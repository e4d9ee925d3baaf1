"""Bounded table state behind LiveFrame: pure (no I/O, no widgets, pandas only when a DataFrame is asked for).

Rows are added in batches with no per-message pandas work, and held cheaply: each row is one tuple of its values
(with its arrival time and its :class:`Schema`, the column names that rows of the same shape share), so that
neither the field names nor a dict per row is kept. A list of plain values is held as a tuple, any other container
(a list of dicts, a dict) as its pickle, each restored on the way out, so that a held row is nothing the garbage
collector walks: 100k rows cost a full collection nothing. :meth:`TableState.frame` builds the DataFrame in one go,
the same one ``pd.DataFrame(rows)`` gives.
Append mode keeps the newest rows; keyed mode keeps the latest row per key.
"""

from __future__ import annotations

import pickle
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Schema", "TableState", "parse_age"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "sec": 1, None: 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_NAN = (float("nan"),)
#: Schemas kept before the ones no held row uses are forgotten (fields named by data, such as a dict keyed by
#: client MAC, give a new schema per row).
_SCHEMAS = 1024

#: One held row: ``(arrival, schema number, *values)`` (a number, not the Schema: an entry holds nothing that the
#: garbage collector tracks).
Entry: TypeAlias = tuple[Any, ...]
_schema_of = itemgetter(1)
#: How a schema's tracked values are held: positions of lists held as tuples, positions of pickled values.
Held: TypeAlias = tuple[tuple[int, ...], tuple[int, ...]]
_NONE_HELD: Held = ((), ())
_HAVE_GC = 1 << 14  # Py_TPFLAGS_HAVE_GC: instances may hold references the garbage collector walks


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


def _picker(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function taking ``positions`` of a tuple, as a tuple (itemgetter gives a bare item for one position)."""
    if len(positions) == 1:
        (only,) = positions
        return lambda values: (values[only],)
    return itemgetter(*positions)


class Schema:
    """The field names of rows of one shape, in the rows' own order, shared by every row of that shape.

    ``held`` says how values the garbage collector would track are held: ``(lists, pickles)``, the positions of
    lists held as tuples (a tuple of plain values is not tracked; a list always is) and of values held pickled.
    """

    __slots__ = ("held", "index", "keys", "number")

    def __init__(self, number: int, keys: tuple[Hashable, ...], held: Held = ((), ())) -> None:
        #: What entries hold to name their schema.
        self.number = number
        self.keys = keys
        self.held = held
        self.index = {k: i for i, k in enumerate(keys)}

    def __repr__(self) -> str:
        lists, pickles = self.held
        return f"Schema({len(self.keys)} fields, lists at {lists}, pickled at {pickles})"

    def values(self, entry: Entry) -> tuple[Any, ...]:
        """The row's values as they came (lists as lists, pickled values unpickled)."""
        values = entry[2:]
        if self.held == _NONE_HELD:
            return values
        lists, pickles = self.held
        restored = list(values)
        for i in lists:
            restored[i] = list(restored[i])
        for i in pickles:
            restored[i] = pickle.loads(restored[i])
        return tuple(restored)

    def row(self, entry: Entry) -> dict[Hashable, Any]:
        """The row as a dict."""
        return dict(zip(self.keys, self.values(entry), strict=True))


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
        # append mode: a deque that drops its oldest entries itself (in C) beyond max_rows
        self._rows: deque[Entry] = deque(maxlen=max_rows if key is None else None)
        self._keyed: OrderedDict[Hashable, Entry] = OrderedDict()
        self._schemas: dict[tuple[Hashable, ...], int] = {}  # field names -> their schema's number (no lists)
        self._with_held: dict[tuple[tuple[Hashable, ...], Held], int] = {}
        self._by_number: dict[int, Schema] = {}
        #: Types whose values hold no references (seen so far): a row of only these is held as it is.
        self._plain: set[type] = {str, int, float, bool, type(None)}
        self._merges: dict[tuple[int, int], tuple[Callable[[tuple[Any, ...]], tuple[Any, ...]], int]] = {}
        self._schema_limit = _SCHEMAS
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

    # -- taking rows -----------------------------------------------------------------------------------------

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take a batch of rows (a window result DataFrame is given as its records)."""
        now = self._clock()
        if self._key is not None and not isinstance(rows, list):
            rows = list(rows)  # walked twice: for the entries, then for the keys
        entries = self._entries(rows, now)
        if not entries:
            self.evict(now)
            return
        self.received += len(entries)
        self.version += 1
        if self._key is None:
            store = self._rows
            before = len(store)
            store.extend(entries)
            dropped = before + len(entries) - len(store)  # what maxlen pushed out
            if dropped:
                self.evicted += dropped
        else:
            self._upsert(rows, entries)  # type: ignore[arg-type]
        self.evict(now)
        if len(self._by_number) > self._schema_limit:
            self._forget_schemas()

    def _entries(self, rows: Iterable[Mapping[str, Any]], now: float) -> list[Entry]:
        """Each row as ``(now, schema, *values)``; this is the per-row cost of a sink, so it stays in C where it
        can: one tuple of the keys to find the schema, one tuple of the values, one scan for tracked values."""
        schemas, plain = self._schemas, self._plain
        out: list[Entry] = []
        append = out.append
        for row in rows:
            keys = tuple(row)
            schema = schemas.get(keys)
            if schema is None:
                schema = self._schema(keys)
            entry = (now, schema, *row.values())
            if not {*map(type, entry)} <= plain:
                entry = self._freeze(entry)
            append(entry)
        return out

    def _freeze(self, entry: Entry) -> Entry:
        """The entry with nothing the garbage collector would walk: lists of plain values held as tuples, other
        containers pickled (what cannot be pickled stays as it is), under the schema that says where.

        A tuple is left untracked by the collector only when nothing in it can hold references: a dict in a row,
        even an empty one, would keep the whole row tracked.
        """
        values = list(entry[2:])
        lists: list[int] = []
        pickles: list[int] = []
        plain = self._plain
        for i, value in enumerate(values):
            kind = type(value)
            if kind in plain:
                continue
            if not kind.__flags__ & _HAVE_GC:  # holds no references (a datetime ...): plain from now on
                plain.add(kind)
                continue
            if (kind is list or kind is tuple) and {*map(type, value)} <= plain:
                if kind is list:
                    values[i] = tuple(value)
                    lists.append(i)
                continue
            try:
                values[i] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # not picklable: held as it is (the collector walks it, nothing worse)
                continue
            pickles.append(i)
        number = self._schema(self._by_number[entry[1]].keys, (tuple(lists), tuple(pickles)))
        return (entry[0], number, *values)

    def _schema(self, keys: tuple[Hashable, ...], held: Held = _NONE_HELD) -> int:
        """The number of the schema of these fields (whose tracked values are held as ``held`` says)."""
        plain = held == _NONE_HELD
        known = self._schemas.get(keys) if plain else self._with_held.get((keys, held))
        if known is not None:
            return known
        number = len(self._by_number)
        while number in self._by_number:
            number += 1
        self._by_number[number] = Schema(number, keys, held)
        if plain:
            self._schemas[keys] = number
        else:
            self._with_held[keys, held] = number
        return number

    def _upsert(self, rows: list[Mapping[str, Any]], entries: list[Entry]) -> None:
        keyed, key_of, changed, merge = self._keyed, self._key, self.changed_keys, self.merge
        assert key_of is not None
        for row, entry in zip(rows, entries, strict=True):
            k = key_of(row)
            if merge:
                old = keyed.get(k)
                if old is not None and old[1] != entry[1]:
                    entry = self._merged(old, entry)
            keyed[k] = entry
            keyed.move_to_end(k)
            changed.add(k)

    def _merged(self, old: Entry, new: Entry) -> Entry:
        """``{**old_row, **new_row}`` as an entry: the old row's fields in their order, then the new row's new ones;
        each field's newest value. The way to build it is worked out once per pair of schemas."""
        plan = self._merges.get((old[1], new[1]))
        if plan is None:
            plan = self._merges[old[1], new[1]] = self._merge_plan(old[1], new[1])
        pick, schema = plan
        return (new[0], schema, *pick(old[2:] + new[2:]))

    def _merge_plan(self, old_number: int, new_number: int) -> tuple[Callable[[tuple[Any, ...]], tuple[Any, ...]], int]:
        old, new = self._by_number[old_number], self._by_number[new_number]
        keys = old.keys + tuple(k for k in new.keys if k not in old.index)
        width = len(old.keys)
        positions = [width + new.index[k] if k in new.index else old.index[k] for k in keys]
        lists = {*old.held[0], *(width + i for i in new.held[0])}
        pickles = {*old.held[1], *(width + i for i in new.held[1])}
        held = (
            tuple(i for i, p in enumerate(positions) if p in lists),
            tuple(i for i, p in enumerate(positions) if p in pickles),
        )
        return _picker(positions), self._schema(keys, held)

    def _forget_schemas(self) -> None:
        """Drop the schemas (and merge plans) no held row uses any more."""
        held = set(map(_schema_of, self._entries_held()))
        self._by_number = {n: s for n, s in self._by_number.items() if n in held}
        self._schemas = {keys: n for keys, n in self._schemas.items() if n in held}
        self._with_held = {keys: n for keys, n in self._with_held.items() if n in held}
        self._merges.clear()
        self._schema_limit = max(_SCHEMAS, 2 * len(held))

    # -- bounds ----------------------------------------------------------------------------------------------

    def evict(self, now: float | None = None) -> int:
        """Drop what is over the bounds; returns how many rows went."""
        now = self._clock() if now is None else now
        before = len(self)
        if self._key is not None:
            keyed = self._keyed
            if self.max_rows is not None:
                while len(keyed) > self.max_rows:
                    keyed.popitem(last=False)
            if self.max_age is not None:
                oldest = now - self.max_age
                while keyed and next(iter(keyed.values()))[0] < oldest:
                    keyed.popitem(last=False)
        elif self.max_age is not None:
            rows = self._rows
            oldest = now - self.max_age
            while rows and rows[0][0] < oldest:
                rows.popleft()
        gone = before - len(self)
        if gone:
            self.evicted += gone
            self.version += 1
        return gone

    # -- reading -----------------------------------------------------------------------------------------------

    def _entries_held(self, newest: int | None = None) -> list[Entry]:
        store: Iterable[Entry] = self._keyed.values() if self._key is not None else self._rows
        if newest is None:
            return list(store)
        if newest <= 0:
            return []
        if self._key is not None:
            return list(store)[-newest:]
        rows = self._rows
        return [rows[i] for i in range(max(0, len(rows) - newest), len(rows))]

    def rows(self, newest: int | None = None) -> list[dict[Hashable, Any]]:
        """The rows as dicts, oldest first (or only the ``newest`` n)."""
        by_number = self._by_number
        return [by_number[entry[1]].row(entry) for entry in self._entries_held(newest)]

    def frame(self, newest: int | None = None) -> pd.DataFrame:
        """The rows as a DataFrame in one go; its columns are every field of those rows, in order of first
        appearance (the schema grows as new fields arrive; a row without a field gets NaN/None there).

        It is the DataFrame ``pd.DataFrame(rows)`` gives for the same rows as dicts, built from full-width tuples.
        """
        import pandas as pd

        entries = self._entries_held(newest)
        if not entries:
            return pd.DataFrame([])
        # the schemas, distinct, in order of first appearance
        schemas = [self._by_number[n] for n in dict.fromkeys(map(_schema_of, entries))]
        columns = tuple(dict.fromkeys(chain.from_iterable(s.keys for s in schemas)))
        width = len(columns)
        shape: dict[int, Callable[[Entry], tuple[Any, ...]] | None] = {}
        for s in schemas:
            if s.keys == columns and s.held == _NONE_HELD:
                shape[s.number] = None  # the row is already full width, in column order
            elif s.keys == columns:
                shape[s.number] = s.values
            else:
                missing = len(s.keys)  # the NaN appended after the values
                pick = _picker([s.index.get(c, missing) for c in columns])
                shape[s.number] = lambda entry, s=s, pick=pick: pick(s.values(entry) + _NAN)  # type: ignore[misc]
        table = [entry[2:] if (how := shape[entry[1]]) is None else how(entry) for entry in entries]
        if width == 0:
            return pd.DataFrame([{}] * len(table))
        return pd.DataFrame(table, columns=list(columns))
