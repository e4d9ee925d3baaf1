"""The grid a LiveFrame shows in a notebook: Perspective's datagrid, kept in step with the frame's rows.

Perspective (``perspective-python``) holds the rows in a table of its own, in the kernel, and the browser asks it
for what is on screen: sorting, filtering, grouping and picking columns happen there, on every row held, without
the kernel drawing anything. The kernel's cost is sending the rows that changed since the last frame, once: an
append frame is a table indexed by arrival number (column ``#``; the oldest rows are removed as the frame evicts
them), a keyed frame a table indexed by its key.

A Perspective table's schema is fixed when it is made. Columns get their type from their values (times by name
or value become datetimes; whole numbers past 32 bits, floats; anything else, text); a field that appears later,
or a value that does not fit its column, makes a new table with the wider schema, and the grid keeps the user's
sort, filter and columns.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from .._time import epoch_seconds
from .state import VALUES, Entry, TableState, values_of
from .view import is_time_column, is_time_value

if TYPE_CHECKING:
    from perspective.widget import PerspectiveWidget

__all__ = ["ROW", "Grid", "grid_available", "parse_sort"]

#: The column of an append grid holding each row's arrival number (its index; newest first by default).
ROW = "#"
#: The column of a keyed grid whose key is a function (its value, as text).
KEY = "key"
_INT32 = 2**31 - 1
_NONE = type(None)
_NUMBERS = (int, float)
_WIDER = {frozenset({"integer", "float"}): "float"}
#: Pixels a grid row takes, and the grid's own header and column names above its rows.
ROW_PX, HEAD_PX = 26, 70


def grid_available() -> bool:
    """Whether the interactive grid can be shown: Perspective's widget is installed.

    >>> isinstance(grid_available(), bool)
    True
    """
    return importlib.util.find_spec("perspective") is not None


def parse_sort(sort_by: str | Sequence[str] | None) -> list[list[str]]:
    """Perspective's sort from a field name, ``"-name"`` for descending, or a list of them.

    >>> parse_sort("-cpu_util"), parse_sort(["site", "-n"]), parse_sort(None)
    ([['cpu_util', 'desc']], [['site', 'asc'], ['n', 'desc']], [])
    """
    if sort_by is None:
        return []
    names = [sort_by] if isinstance(sort_by, str) else list(sort_by)
    return [[name[1:], "desc"] if name.startswith("-") else [name, "asc"] for name in names]


def kind_of(name: str, values: Sequence[Any]) -> str | None:
    """Perspective's type for a column of these values; None while they are all missing.

    >>> kind_of("cpu", [1, None, 2]), kind_of("cpu", [1, 2.5]), kind_of("bytes", [5_000_000_000])
    ('integer', 'float', 'float')
    >>> kind_of("seen", [1_795_455_844]), kind_of("at", ["2026-11-23T19:54:04Z"]), kind_of("ips", [["10.0.0.1"]])
    ('datetime', 'datetime', 'string')
    >>> kind_of("x", [None]), kind_of("up", [True, None]), kind_of("time", ["lab-a"])
    (None, 'boolean', 'string')
    """
    types = set(map(type, values)) - {_NONE}
    if not types:
        return None
    if types == {bool}:
        return "boolean"
    present = [v for v in values if v is not None]
    if types <= {int, float}:
        if is_time_column(name, present):  # by name or by value
            return "datetime"
        if types == {int}:
            return "integer" if max(map(abs, present)) <= _INT32 else "float"
        return "float"
    return "datetime" if all(map(is_time_value, present)) else "string"  # text: by value only


def fits(kind: str, values: Sequence[Any]) -> bool:
    """Whether a column of ``kind`` holds these values as they are (the usual case, checked in C where it can).

    >>> fits("integer", [1, None, 2]), fits("integer", [2**40]), fits("float", [1, 2.5]), fits("datetime", ["x"])
    (True, False, True, False)
    """
    types = set(map(type, values)) - {_NONE}
    if not types or kind == "string":
        return True
    if kind == "float":
        return types <= {int, float}
    if kind == "integer":
        return types == {int} and max(map(abs, filter(None, values)), default=0) <= _INT32
    if kind == "boolean":
        return types == {bool}
    return types <= {int, float} or all(is_time_value(v) for v in values if v is not None and type(v) not in _NUMBERS)


def wider(old: str | None, new: str | None) -> str | None:
    """The type that holds both (integer and float: float; any other two: text).

    >>> wider("integer", "float"), wider(None, "datetime"), wider("datetime", "string"), wider("float", None)
    ('float', 'datetime', 'string', 'float')
    """
    if old is None or new is None or old == new:
        return old or new
    return _WIDER.get(frozenset({old, new}), "string")


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, dict, tuple)):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _millis(value: Any) -> float | None:
    seconds = epoch_seconds(value)
    return None if seconds is None else seconds * 1000.0


def _groups(entries: Iterable[tuple[Any, Entry]]) -> list[tuple[tuple[str, ...], list[Any], list[tuple[Any, ...]]]]:
    """Held rows by shape: (field names, the rows' tags, the rows' values) in order of first appearance."""
    groups: dict[int, tuple[tuple[str, ...], list[Any], list[tuple[Any, ...]]]] = {}
    for tag, entry in entries:
        shape = entry[1]
        group = groups.get(id(shape))
        if group is None:
            group = groups[id(shape)] = (shape[0], [], [])
        group[1].append(tag)
        held = shape[1]
        group[2].append(values_of(entry) if held[0] or held[1] else entry[VALUES:])
    return list(groups.values())


class Grid:
    """A Perspective grid kept in step with a :class:`~streamkit.sinks.TableState` (call :meth:`sync` per frame,
    on the kernel's loop).

    Args:
        state: the rows to show.
        columns: the fields shown, in order (the others can be picked in the grid); default every field but the
            internal ones (named ``_...``).
        sort_by: a field, ``"-field"`` for descending, or a list; default newest first in an append grid.
        title: shown above the grid. tz: the time zone of times (e.g. ``"UTC"``); default the browser's.
        height: the grid's height in pixels.

    >>> now = [0.0]
    >>> grid = Grid(TableState(key="mac"), columns=None, sort_by="-cpu", title="APs", tz="UTC", height=300,
    ...             clock=lambda: now[0])
    >>> grid.state.add([{"mac": "a", "cpu": 3, "last_seen": 1_795_455_844, "_partition": 2}])
    >>> grid.sync()
    >>> grid.kinds, grid.widget.columns, grid.widget.sort
    ({'mac': 'string', 'cpu': 'integer', 'last_seen': 'datetime', '_partition': 'integer'}, \
['mac', 'cpu', 'last_seen'], [['cpu', 'desc']])

    A float where there were integers needs a new table: the rows wait for it (at most ``REBUILD_EVERY``):

    >>> grid.state.add([{"mac": "a", "cpu": 4.5}, {"mac": "b", "cpu": 1}])
    >>> grid.sync()
    >>> len(grid.records()), grid.rebuilds
    (1, 1)
    >>> now[0] += Grid.REBUILD_EVERY
    >>> grid.sync()
    >>> grid.kinds["cpu"], grid.rebuilds, grid.records()
    ('float', 2, [{'mac': 'a', 'cpu': 4.5, 'last_seen': 1795455844000, '_partition': 2}, \
{'mac': 'b', 'cpu': 1.0, 'last_seen': None, '_partition': None}])
    """

    #: Most columns a grid's table takes (fields named by data, e.g. flattened per-client maps, can be thousands);
    #: the others stay in ``frame.df``.
    MAX_COLUMNS = 400
    #: Least seconds between two new tables (a new field or type): rows wait for the next one meanwhile.
    REBUILD_EVERY = 2.0

    def __init__(
        self,
        state: TableState,
        *,
        columns: Sequence[str] | None,
        sort_by: str | Sequence[str] | None,
        title: str | None,
        tz: str | None,
        height: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import perspective
        from perspective.widget import PerspectiveWidget

        self.state = state
        self.tz = tz
        self.chosen = list(columns) if columns is not None else None
        self.index = ROW if state.key_of is None else (state.key_name or KEY)
        #: The table's schema: field -> Perspective type, in order of first appearance.
        self.kinds: dict[str, str] = {}
        #: How many tables were made (a new field or type makes one).
        self.rebuilds = 0
        self._whole: set[str] = set()  # float columns of whole numbers (past 32 bits): shown without decimals
        self._client = perspective.Server().new_local_client()  # the grid's own: its tables go with it
        self.table: Any = None
        self._retired: list[Any] = []  # tables replaced while the browser still had views on them
        self._clock = clock
        self._rebuilt_at = -math.inf
        self._stale = False
        sort = parse_sort(sort_by) or ([[ROW, "desc"]] if self.index == ROW else [])
        self.widget: PerspectiveWidget = PerspectiveWidget(
            None, plugin="Datagrid", title=title, sort=sort, settings=False, theme="Pro Light"
        )
        self.widget.layout.height = f"{height}px"
        self._sent = 0  # append grid: rows numbered below this were sent
        self._low = 0  # append grid: the oldest row number in the table
        self._keys: set[Hashable] = set()  # keyed grid: keys in the table
        self._evicted = 0

    # -- keeping the table in step ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Send the table what changed since the last call: new and changed rows, and which rows went."""
        state = self.state
        gone: list[Any]
        rows: list[tuple[Any, Entry]]
        if state.key_of is None:
            received, held = state.received, len(state)
            low = received - held
            gone = list(range(self._low, min(low, self._sent)))
            fresh = min(received - self._sent, held)
            rows = list(zip(range(received - fresh, received), state.entries(newest=fresh), strict=True))
            self._sent, self._low = received, low
        else:
            changed, state.changed_keys = state.changed_keys, set()
            rows = state.entries_of(changed)
            self._keys.update(k for k, _ in rows)
            gone = []
            if state.evicted != self._evicted:
                self._evicted = state.evicted
                gone = list(self._keys - state.keys())
                self._keys.difference_update(gone)
        if self._retired:
            self._reap()
        if not self._stale and not rows and not gone:
            return
        self._stale = self._stale or self._needs_rebuild(rows)
        if self._stale:  # rows wait for the new table, which holds every row
            if self._clock() - self._rebuilt_at >= self.REBUILD_EVERY:
                self._rebuild()
            return
        for columns in self._batches(rows):
            self._update(columns)
        if gone:
            self.table.remove(self._index_values(gone))

    def records(self) -> list[dict[str, Any]]:
        """The table's rows as Perspective holds them (times in epoch milliseconds), in index order."""
        return [] if self.table is None else list(self.table.view().to_records())

    def missing(self) -> list[str]:
        """Of the chosen ``columns``, those no row has had so far."""
        return [] if self.chosen is None or not self.kinds else [c for c in self.chosen if c not in self.kinds]

    def _index_values(self, tags: list[Any]) -> list[Any]:
        return [str(k) for k in tags] if self.index == KEY else tags

    def _batches(self, rows: list[tuple[Any, Entry]]) -> list[dict[str, Any]]:
        """Rows as columns, one batch per shape, with the index column."""
        batches = []
        for names, tags, values in _groups(rows):
            columns: dict[str, Any] = dict(zip(names, zip(*values, strict=True), strict=True))
            if self.index in (ROW, KEY):
                columns[self.index] = self._index_values(tags)
            batches.append(columns)
        return batches

    def _needs_rebuild(self, rows: list[tuple[Any, Entry]]) -> bool:
        if self.table is None:
            return bool(rows)
        kinds, full = self.kinds, len(self.kinds) >= self.MAX_COLUMNS
        for columns in self._batches(rows):
            for name, values in columns.items():
                kind = kinds.get(name)
                if kind is None:
                    if not full and kind_of(name, values) is not None:
                        return True
                elif not fits(kind, values):
                    return True
        return False

    def _update(self, columns: dict[str, Any]) -> None:
        kinds = self.kinds
        out: dict[str, Any] = {}
        for name, values in columns.items():
            kind = kinds.get(name)
            if kind is None:  # missing everywhere so far, or past MAX_COLUMNS
                continue
            if kind == "datetime":
                out[name] = [_millis(v) for v in values]
            elif kind == "string":
                out[name] = [_text(v) for v in values]
            else:
                out[name] = values
        if out:
            self.table.update(orjson.dumps(out), format="columns")

    def _rebuild(self) -> None:
        """A table with the schema every held row needs, filled with them; the grid keeps what the user set."""
        state = self.state
        if state.key_of is None:
            entries = state.entries()
            tagged: list[tuple[Any, Entry]] = list(
                zip(range(self._sent - len(entries), self._sent), entries, strict=True)
            )
        else:
            tagged = state.entries_of(state.keys())
            self._keys = {k for k, _ in tagged}
        batches = self._batches(tagged)
        kinds: dict[str, str] = {}
        whole: dict[str, bool] = {}
        for columns in batches:
            for name, values in columns.items():
                if name not in kinds and len(kinds) >= self.MAX_COLUMNS:
                    continue
                kind = wider(kinds.get(name), kind_of(name, values) if name != ROW else "integer")
                if kind is not None:
                    kinds[name] = kind
                    whole[name] = whole.get(name, True) and set(map(type, values)) <= {int, _NONE}
        old_default = self._default_columns()
        self.kinds = kinds
        self._whole = {name for name, kind in kinds.items() if kind == "float" and whole[name]}
        if self.table is not None:
            self._retired.append(self.table)
        self.table = self._client.table(kinds, index=self.index)
        for columns in batches:
            self._update(columns)
        widget = self.widget
        saved = widget.save()
        widget.load(self.table)
        shown = saved["columns"]
        if self.chosen is not None:
            shown = self.chosen
        elif not shown or shown == old_default:
            shown = self._default_columns()
        widget.restore(**{**saved, "columns": [c for c in shown if c in kinds]})
        widget.columns_config = self._columns_config()
        self.rebuilds += 1
        self._rebuilt_at = self._clock()
        self._stale = False

    def _reap(self) -> None:
        """Delete replaced tables once the browser has let go of their views."""
        kept = []
        for table in self._retired:
            try:
                table.delete()
            except Exception:  # views still open on it: next time
                kept.append(table)
        self._retired = kept

    def _default_columns(self) -> list[str]:
        names = [name for name in self.kinds if not name.startswith("_") and name != ROW]
        if self.index in names:  # the key first
            names.remove(self.index)
            names.insert(0, self.index)
        return names

    def _columns_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name, kind in self.kinds.items():
            if kind == "datetime" and self.tz:
                config[name] = {"date_format": {"timeZone": self.tz}}
            elif name in self._whole:
                config[name] = {"number_format": {"maximumFractionDigits": 0}}
            elif kind in ("integer", "float") and self.index != ROW and name != self.index:
                config[name] = {"bg_mode": "pulse"}  # a changed value flashes (up or down) in a keyed grid
        return config
