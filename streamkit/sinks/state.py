"""Bounded table state behind LiveFrame: pure (no I/O, no widgets, pandas only when a DataFrame is asked for).

Rows are held cheaply: each row is one tuple, ``(arrival, shape, origin, received, *values)``, where the shape
(the field names, shared by every row with the same fields) is one tuple held once, so that neither the field
names nor a dict per row is kept. A container among the values (a list, a dict) is held as its ``marshal`` bytes
(else its pickle) and restored on the way out, so that a held row holds nothing the garbage collector walks: it
lets go of the row at its first collection, and 100k held rows cost later collections nothing.

A live table turns each record into its row as it arrives (:meth:`TableState.taker`: the record itself is then
free at once) and takes the rows in batches (:meth:`TableState.add_items`); :meth:`TableState.add` does both for a
batch of records. :meth:`TableState.frame` builds the DataFrame in one go, the one ``pd.DataFrame(rows)`` gives
for the same rows as dicts. Append mode keeps the newest rows; keyed mode keeps the latest row per key.
"""

from __future__ import annotations

import marshal
import pickle
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeAlias

from ..core import Message

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TableState", "parse_age"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "sec": 1, None: 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_NAN = (float("nan"),)
#: Shapes (and merge plans) remembered before the memory is cleared: fields named by data (a dict keyed by client
#: MAC, flattened) give a new shape per row. Forgetting costs nothing but sharing: each row holds its own shape.
_SHAPES = 4096
_HAVE_GC = 1 << 14  # Py_TPFLAGS_HAVE_GC: instances may hold references the garbage collector walks

#: A held row: ``(arrival, shape, origin, received, *values)``; ``origin``/``received`` are a Message's, else None.
Entry: TypeAlias = tuple[Any, ...]
#: A row's shape: ``(field names, (positions of values held marshalled, positions of values held pickled))``.
Shape: TypeAlias = tuple[tuple[Any, ...], tuple[tuple[int, ...], tuple[int, ...]]]
#: What TableState knows of the rows of some field names: their plain shape, the positions where the first such
#: row held containers, and the shapes of such rows with containers held (by where they are held).
Known: TypeAlias = tuple[Shape, tuple[int, ...], dict[tuple[tuple[int, ...], tuple[int, ...]], Shape]]
#: What a live table's observer gives :meth:`TableState.add_items`: an entry, or ``(key, entry)`` in keyed mode.
Item: TypeAlias = Any
VALUES = 4  # where an entry's values start
_PLAIN: Shape = ((), ((), ()))
_shape_of = itemgetter(1)
_origin_of = itemgetter(2)
_received_of = itemgetter(3)


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


def values_of(entry: Entry) -> tuple[Any, ...]:
    """A held row's values as they came (containers as they were)."""
    values = entry[VALUES:]
    marshalled, pickles = entry[1][1]
    if not marshalled and not pickles:
        return values
    restored = list(values)
    for i in marshalled:
        restored[i] = marshal.loads(restored[i])
    for i in pickles:
        restored[i] = pickle.loads(restored[i])
    return tuple(restored)


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
        # field names -> (the shape of rows with no containers, positions where the first such row had containers)
        self._shapes: dict[tuple[Any, ...], Known] = {}
        self._held_shapes: dict[Shape, Shape] = {}  # shapes with containers, by themselves (one object each)
        # (id of the old shape, id of the new) -> (picker, merged shape, old shape, new shape: kept, so ids stay)
        self._merges: dict[tuple[int, int], tuple[Callable[[tuple[Any, ...]], tuple[Any, ...]], Shape, Any, Any]] = {}
        #: Types whose values hold no references (seen so far).
        self._plain: set[type] = {str, int, float, bool, type(None)}
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
        items: list[Item] = []
        take = self.taker(items.append)
        for row in rows:
            take(row)
        self.add_items(items)

    def taker(
        self, put: Callable[[Item], None], *, frames: Callable[[Any], None] | None = None
    ) -> Callable[[Any], None]:
        """A function that turns each record (a dict, a Message, a DataFrame of rows) into its held row at once and
        gives it to ``put``, for :meth:`add_items` to take later: a live table's observer. A DataFrame (a window's
        aggregate) is also given to ``frames`` before its rows are taken.

        Its cost is a sink's cost per record, so it stays in C where it can: a tuple of the field names to find
        the shape, one tuple of the values. Fields where the first row of a shape held a container are looked at
        in every row of that shape (others are not: a container elsewhere is held as it is, which is correct, only
        not free for the garbage collector).
        """
        clock, key_of, shapes, new_shape, hold = self._clock, self._key, self._shapes, self._new_shape, self._hold

        def take(record: Any) -> None:
            kind = type(record)
            if kind is Message:
                keys = tuple(record)
                known = shapes.get(keys) or new_shape(keys, record)
                if known[1]:  # containers: held as bytes (see _hold)
                    values = list(record.values())
                    entry = (clock(), hold(values, known), record.origin, record.received, *values)
                else:
                    entry = (clock(), known[0], record.origin, record.received, *record.values())
            elif kind is dict or isinstance(record, Mapping):
                keys = tuple(record)
                known = shapes.get(keys) or new_shape(keys, record)
                if known[1]:
                    values = list(record.values())
                    entry = (clock(), hold(values, known), None, None, *values)
                else:
                    entry = (clock(), known[0], None, None, *record.values())
            elif hasattr(record, "to_dict") and hasattr(record, "columns"):  # a window's aggregate: its rows
                if frames is not None:
                    frames(record)
                for row in record.to_dict("records"):
                    take(row)
                return
            else:
                raise TypeError(f"a live table takes dicts (records) or DataFrames, not {kind.__name__}")
            put(entry if key_of is None else (key_of(record), entry))

        return take

    def _new_shape(self, keys: tuple[Any, ...], row: Mapping[str, Any]) -> Known:
        """The shape of rows with these fields, where this first one holds containers, and (filled as rows come)
        the shapes of rows of these fields with containers held at given positions."""
        if len(self._shapes) >= _SHAPES:
            self._shapes.clear()  # what rows hold stays valid: a shape is in each row
        plain = self._plain
        containers = []
        for i, value in enumerate(row.values()):
            kind = type(value)
            if kind in plain:
                continue
            if not kind.__flags__ & _HAVE_GC:  # holds no references (a datetime ...): plain from now on
                plain.add(kind)
                continue
            containers.append(i)
        known = self._shapes[keys] = ((keys, ((), ())), tuple(containers), {})
        return known

    def _hold(self, values: list[Any], known: Known) -> Shape:
        """Hold the containers among ``values`` (at the positions ``known`` gives) as bytes, in place, so that the
        garbage collector lets go of the row at its first collection: ``marshal`` (builtin values, exactly), else
        pickle, else as it is; returns the row's shape, which says where.

        Bytes, not tuples: a tuple is let go only when nothing in it can hold references (a dict, even an empty
        one, cannot be let go), and only after what it holds was let go first, which takes the collector an extra
        pass for a tuple in a tuple.
        """
        plain_shape, positions, held_shapes = known
        plain = self._plain
        marshalled: list[int] = []
        pickles: list[int] = []
        for i in positions:
            value = values[i]
            if type(value) in plain:
                continue
            try:
                values[i] = marshal.dumps(value)
                marshalled.append(i)
                continue
            except ValueError:  # something marshal does not write (a datetime, a subclass ...)
                pass
            try:
                values[i] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # not picklable: held as it is (the collector walks it, nothing worse)
                continue
            pickles.append(i)
        if not marshalled and not pickles:
            return plain_shape
        held = (tuple(marshalled), tuple(pickles))
        shape = held_shapes.get(held)
        if shape is None:
            shape = held_shapes[held] = self._held_shape((plain_shape[0], held))
        return shape

    def _held_shape(self, shape: Shape) -> Shape:
        """One object for each shape with containers (rows share it)."""
        known = self._held_shapes.get(shape)
        if known is None:
            if len(self._held_shapes) >= _SHAPES:
                self._held_shapes.clear()
            known = self._held_shapes[shape] = shape
        return known

    def add_items(self, items: list[Item]) -> None:
        """Take what :meth:`taker` made (in one go, under the caller's lock if several threads flush)."""
        now = self._clock()
        if items:
            self.received += len(items)
            self.version += 1
            if self._key is None:
                store = self._rows
                before = len(store)
                store.extend(items)
                dropped = before + len(items) - len(store)  # what maxlen pushed out
                if dropped:
                    self.evicted += dropped
            else:
                self._upsert(items)
        self.evict(now)

    def _upsert(self, items: list[tuple[Hashable, Entry]]) -> None:
        keyed, changed, merge = self._keyed, self.changed_keys, self.merge
        for k, entry in items:
            if merge:
                old = keyed.get(k)
                if old is not None and old[1] is not entry[1]:
                    entry = self._merged(old, entry)
            keyed[k] = entry
            keyed.move_to_end(k)
            changed.add(k)

    def _merged(self, old: Entry, new: Entry) -> Entry:
        """``{**old_row, **new_row}`` as an entry: the old row's fields in their order, then the new row's new ones;
        each field's newest value. The way to build it is worked out once per pair of shapes."""
        plan = self._merges.get((id(old[1]), id(new[1])))
        if plan is None or plan[2] is not old[1] or plan[3] is not new[1]:
            if len(self._merges) >= _SHAPES:
                self._merges.clear()
            plan = self._merges[id(old[1]), id(new[1])] = (*self._merge_plan(old[1], new[1]), old[1], new[1])
        pick, shape = plan[0], plan[1]
        return (new[0], shape, new[2], new[3], *pick(old[VALUES:] + new[VALUES:]))

    def _merge_plan(self, old: Shape, new: Shape) -> tuple[Callable[[tuple[Any, ...]], tuple[Any, ...]], Shape]:
        old_keys, new_keys = old[0], new[0]
        old_index = {k: i for i, k in enumerate(old_keys)}
        new_index = {k: i for i, k in enumerate(new_keys)}
        keys = old_keys + tuple(k for k in new_keys if k not in old_index)
        width = len(old_keys)
        positions = [width + new_index[k] if k in new_index else old_index[k] for k in keys]
        marshalled = {*old[1][0], *(width + i for i in new[1][0])}
        pickles = {*old[1][1], *(width + i for i in new[1][1])}
        held = (
            tuple(i for i, p in enumerate(positions) if p in marshalled),
            tuple(i for i, p in enumerate(positions) if p in pickles),
        )
        shape: Shape = (keys, held)
        if held[0] or held[1]:
            shape = self._held_shape(shape)
        else:
            known = self._shapes.get(keys)
            shape = known[0] if known is not None else shape
        return _picker(positions), shape

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

    def entries(self, newest: int | None = None) -> list[Entry]:
        """The held rows as they are held, oldest first (or only the ``newest`` n)."""
        store: Iterable[Entry] = self._keyed.values() if self._key is not None else self._rows
        if newest is None:
            return list(store)
        if newest <= 0:
            return []
        if self._key is not None:
            return list(store)[-newest:]
        rows = self._rows
        return [rows[i] for i in range(max(0, len(rows) - newest), len(rows))]

    def entries_of(self, keys: Iterable[Hashable]) -> list[tuple[Hashable, Entry]]:
        """In keyed mode, ``(key, held row)`` for those of ``keys`` still held (in the order given)."""
        keyed = self._keyed
        return [(k, keyed[k]) for k in keys if k in keyed]

    def keys(self) -> set[Hashable]:
        """In keyed mode, the keys of the rows held now."""
        return set(self._keyed)

    def rows(self, newest: int | None = None) -> list[dict[str, Any]]:
        """The rows as dicts, oldest first (or only the ``newest`` n)."""
        return [dict(zip(entry[1][0], values_of(entry), strict=True)) for entry in self.entries(newest)]

    def frame(self, newest: int | None = None) -> pd.DataFrame:
        """The rows as a DataFrame in one go; its columns are every field of those rows, in order of first
        appearance (the schema grows as new fields arrive; a row without a field gets NaN/None there).

        It is the DataFrame ``pd.DataFrame(rows)`` gives for the same rows as dicts, built from full-width tuples.
        """
        import pandas as pd

        entries = self.entries(newest)
        if not entries:
            return pd.DataFrame([])
        shapes = {id(shape): shape for shape in map(_shape_of, entries)}  # distinct, in order of first appearance
        columns = tuple(dict.fromkeys(chain.from_iterable(shape[0] for shape in shapes.values())))
        how: dict[int, Callable[[Entry], tuple[Any, ...]] | None] = {}
        for number, (keys, (marshalled, pickles)) in shapes.items():
            if keys == columns:
                how[number] = None if not marshalled and not pickles else values_of
            else:
                index = {k: i for i, k in enumerate(keys)}
                pick = _picker([index.get(c, len(keys)) for c in columns])  # past the values: the NaN
                how[number] = lambda entry, pick=pick: pick(values_of(entry) + _NAN)  # type: ignore[misc]
        table = [entry[VALUES:] if (shape := how[id(entry[1])]) is None else shape(entry) for entry in entries]
        if not columns:
            return pd.DataFrame([{}] * len(table))
        return pd.DataFrame(table, columns=list(columns))

    def seen(self, items: list[Item]) -> tuple[set[Hashable], float | None, float | None]:
        """Of items :meth:`taker` made: the origins of their Messages, and the first and last arrival among them."""
        entries = items if self._key is None else [entry for _, entry in items]
        origins = set(map(_origin_of, entries))
        origins.discard(None)
        received = list(map(_received_of, entries))
        if None in received:
            received = [r for r in received if r is not None]
        if not received:
            return origins, None, None
        return origins, min(received), max(received)
