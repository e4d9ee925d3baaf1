"""The grid a LiveFrame shows in a notebook: Perspective's datagrid, kept in step with the frame's rows.

Perspective (``perspective-python``) holds the rows in a table of its own, in the kernel, and the browser asks it
for what is on screen: sorting, filtering, grouping and picking columns happen there, on every row held, without
the kernel drawing anything. The kernel's cost is sending the rows that changed since the last frame, once: an
append frame is a table indexed by arrival number (column ``#``; the oldest rows are removed as the frame evicts
them), a keyed frame a table indexed by its key. (A table of ``limit`` rows that overwrites its oldest would save
the removals, but it overwrites in the order rows were sent, and rows are sent a batch per shape of row, not in
arrival order.)

A Perspective table's schema is fixed when it is made, and the browser's viewer keeps the table it was shown
(a second viewer in the page cannot be made from the same widget code), so the grid's table is made once, from
the rows held when the first ones are drawn: numbers as floats (shown without decimals when whole), times by
name or value as datetimes, anything else as text. A field that first appears later stays out of the grid (the
header names it; it is in ``frame.df``), and a value that does not fit its column shows as missing.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from .._time import epoch_seconds, unit_of
from .state import VALUES, Entry, TableState, values_of
from .view import is_time_column, is_time_value, value_text

if TYPE_CHECKING:
    from perspective.widget import PerspectiveWidget

__all__ = ["ROW", "Grid", "grid_available"]

#: The column of an append grid holding each row's arrival number (its index; newest first by default).
ROW = "#"
#: The column of a keyed grid whose key is a function (its value, as text).
KEY = "key"
_NONE = type(None)
_NUMBERS = (int, float)
_PLAIN_NUMBERS = frozenset({int, float, _NONE})
_PLAIN_TEXT = frozenset({str, _NONE})
_TO_MILLIS = {"s": 1000, "ms": 1, "us": 1e-3, "ns": 1e-6}
#: Pixels a grid row takes, and the grid's title bar and column names above its rows.
ROW_PX, HEAD_PX = 26, 70


def grid_available() -> bool:
    """Whether the interactive grid can be shown: Perspective's widget is installed.

    >>> isinstance(grid_available(), bool)
    True
    """
    return importlib.util.find_spec("perspective") is not None


def kind_of(name: str, values: Sequence[Any]) -> str | None:
    """Perspective's type for a column of these values; None while they are all missing.

    >>> kind_of("cpu", [1, None, 2]), kind_of("cpu", [1, 2.5]), kind_of("bytes", [5_000_000_000])
    ('float', 'float', 'float')
    >>> kind_of("seen", [1_795_455_844]), kind_of("at", ["2026-11-23T19:54:04Z"]), kind_of("ips", [["10.0.0.1"]])
    ('datetime', 'datetime', 'string')
    >>> kind_of("x", [None]), kind_of("up", [True, None]), kind_of("time", ["lab-a"]), kind_of("n", [1, "a"])
    (None, 'boolean', 'string', 'string')
    """
    types = set(map(type, values)) - {_NONE}
    if not types:
        return None
    if types == {bool}:
        return "boolean"
    present = [v for v in values if v is not None]
    if types <= {int, float}:
        return "datetime" if is_time_column(name, present) else "float"  # times by name or by value
    return "datetime" if all(map(is_time_value, present)) else "string"  # text: by value only


def wider(old: str | None, new: str | None) -> str | None:
    """The type that holds both (two different ones: text).

    >>> wider(None, "datetime"), wider("datetime", "string"), wider("float", None), wider("float", "float")
    ('datetime', 'string', 'float', 'float')
    """
    if old is None or new is None or old == new:
        return old or new
    return "string"


def _number(value: Any) -> float | None:
    if type(value) in _NUMBERS or type(value) is bool:
        return float(value)
    return None


def _flag(value: Any) -> bool | None:
    return value if type(value) is bool else None


def _millis(value: Any) -> float | None:
    seconds = epoch_seconds(value)
    return None if seconds is None else seconds * 1000.0


def _millis_column(values: Sequence[Any]) -> list[Any]:
    """A column of times as Perspective's datetimes take them (epoch milliseconds): one multiplication per value
    when they are epoch numbers of one unit (the usual column), else value by value.

    >>> _millis_column([1_795_455_844, None, 1_795_455_845.5])
    [1795455844000, None, 1795455845500.0]
    >>> _millis_column([1_795_455_844_000, "2026-11-23T17:44:04Z"])
    [1795455844000.0, 1795455844000.0]
    """
    if set(map(type, values)) <= _PLAIN_NUMBERS:
        sizes = [abs(v) for v in values if v is not None]
        if sizes and unit_of(min(sizes)) == unit_of(max(sizes)):
            factor = _TO_MILLIS[unit_of(sizes[0])]
            return [None if v is None else v * factor for v in values]
    return [_millis(v) for v in values]


def _text_column(values: Sequence[Any]) -> Sequence[Any]:
    """A column as Perspective's text takes it (lists and dicts as JSON, missing as null).

    >>> _text_column(["a", None]), _text_column(["a", ["10.0.0.1"], float("nan"), 6])
    (['a', None], ['a', '["10.0.0.1"]', None, '6'])
    """
    return values if set(map(type, values)) <= _PLAIN_TEXT else [value_text(v) for v in values]


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


_WIDGET: Any = None
#: Perspective 5.6's widget bundle defines its layout elements (``regular-layout...``) without asking whether they
#: exist, and each widget evaluates the bundle again, so a second grid in a page failed with "the name
#: "regular-layout" has already been used with this registry". The grid's copy defines each only when absent.
_LAYOUT_DEFINE = re.compile(r'customElements\.define\("(regular-layout[\w-]*)",')


def guarded_bundle(source: str) -> str:
    """Perspective's widget bundle with its unguarded custom element definitions guarded.

    >>> guarded_bundle('x};customElements.define("regular-layout-tab",Ro);y')
    'x};customElements.get("regular-layout-tab")||customElements.define("regular-layout-tab",Ro);y'
    """
    return _LAYOUT_DEFINE.sub(r'customElements.get("\1")||customElements.define("\1",', source)


def _widget_class() -> Any:
    """Perspective's widget, answering the browser on streamkit's loop: a front end may send widget messages on
    another thread (JupyterLab's subshells), and the table must only ever be touched from one thread, or a
    request from the browser and an update from the stream wait on each other for good."""
    global _WIDGET
    if _WIDGET is None:
        from perspective.widget import PerspectiveWidget

        from .. import runtime

        class Widget(PerspectiveWidget):  # type: ignore[misc]
            _esm = guarded_bundle(str(PerspectiveWidget._esm))  # anywidget holds the file as FileContents

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self._sk_loop = runtime.get_loop()
                super().__init__(*args, **kwargs)

            def handle_message(self, widget: Any, content: Any, buffers: Any) -> None:
                handle = super().handle_message
                if runtime.in_loop_thread(self._sk_loop):
                    handle(widget, content, buffers)
                else:
                    self._sk_loop.call_soon_threadsafe(handle, widget, content, buffers)

        _WIDGET = Widget
    return _WIDGET


class Grid:
    """A Perspective grid kept in step with a :class:`~streamkit.sinks.TableState` (call :meth:`sync` per frame,
    on the kernel's loop).

    Args:
        state: the rows to show.
        columns: the fields shown, in order (the others can be picked in the grid); default every field but the
            internal ones (named ``_...``).
        sort_by: ``(field, ascending)`` pairs (:func:`~streamkit.sinks.frame.parse_sort`); default newest first in
            an append grid.
        title: shown above the grid (default what the rows are: "newest first", "latest per mac").
        tz: the time zone of times (e.g. ``"UTC"``); default the browser's.
        show: the rows the grid is tall enough for (a keyed grid: fewer when fewer keys came with its first rows;
            the grid can be resized by its corner, and scrolls).

    >>> grid = Grid(TableState(key="mac"), columns=None, sort_by=[("cpu", False)], title="APs", tz="UTC", show=10)
    >>> grid.state.add([{"mac": "a", "cpu": 3, "last_seen": 1_795_455_844, "_partition": 2}])
    >>> grid.sync()
    >>> grid.kinds, grid.widget.columns, grid.widget.sort
    ({'mac': 'string', 'cpu': 'float', 'last_seen': 'datetime', '_partition': 'float'}, \
['mac', 'cpu', 'last_seen'], [['cpu', 'desc']])

    Later rows update the table; a field that first comes now stays out of it, and is named:

    >>> grid.state.add([{"mac": "a", "cpu": 4.5}, {"mac": "b", "cpu": "n/a", "radio": 6}])
    >>> grid.sync()
    >>> grid.records(), grid.late_fields
    ([{'mac': 'a', 'cpu': 4.5, 'last_seen': 1795455844000, '_partition': 2.0}, \
{'mac': 'b', 'cpu': None, 'last_seen': None, '_partition': None}], ['radio'])
    """

    #: Most columns a grid's table takes (fields named by data, e.g. flattened per-client maps, can be thousands);
    #: the others stay in ``frame.df``.
    MAX_COLUMNS = 400
    #: Most late fields the grid remembers, to name them.
    MAX_LATE = 50

    def __init__(
        self,
        state: TableState,
        *,
        columns: Sequence[str] | None,
        sort_by: Sequence[tuple[str, bool]],
        title: str | None,
        tz: str | None,
        show: int,
    ) -> None:
        import ipywidgets
        import perspective

        self.state = state
        self.tz = tz
        self.chosen = list(columns) if columns is not None else None
        self.index = ROW if state.key_of is None else (state.key_name or KEY)
        #: The table's schema: field -> Perspective type, in order of first appearance (set by the first rows).
        self.kinds: dict[str, str] = {}
        #: Fields that first came after the table was made (not in the grid; in ``frame.df``).
        self.late_fields: list[str] = []
        self._client = perspective.GLOBAL_CLIENT  # the one Perspective's widget answers the browser through
        self.table: Any = None
        #: Whether :meth:`release` was called (the grid then takes no more rows).
        self.released = False
        sort = [[name, "asc" if up else "desc"] for name, up in sort_by]
        sort = sort or ([[ROW, "desc"]] if self.index == ROW else [])
        title = title or ("newest first" if self.index == ROW else f"latest per {state.key_name or 'key'}")
        self._config: dict[str, Any] = {"plugin": "Datagrid", "title": title, "sort": sort, "settings": False}
        self._show = show
        self._theme = "Pro Light"
        #: Perspective's widget, once the first rows came (None before).
        self.widget: PerspectiveWidget | None = None
        #: What the cell shows before the first rows (its ``value`` says why there are none).
        self.note = ipywidgets.HTML("<i>waiting for records…</i>")
        self.view = ipywidgets.Box([self.note])
        self._sent = 0  # append grid: rows numbered below this were sent
        self._low = 0  # append grid: the oldest row number in the table
        self._keys: set[Hashable] = set()  # keyed grid: keys in the table
        self._evicted = 0

    @property
    def theme(self) -> str:
        """Perspective's theme for the grid (``"Pro Light"``, ``"Pro Dark"`` ...)."""
        return self._theme

    @theme.setter
    def theme(self, theme: str) -> None:
        self._theme = theme
        if self.widget is not None:
            self.widget.theme = theme

    # -- keeping the table in step ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Send the table what changed since the last call: new and changed rows, and which rows went."""
        if self.released:
            return
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
        if self.table is None:
            if rows:
                self._make(rows)
            return
        for columns in self._batches(rows):
            self._update(columns)
        if gone:
            self.table.remove(self._index_values(gone))

    def release(self) -> None:
        """Free what the browser was shown: close the widget and delete the table (the rows stay in the state).
        For a grid whose output is gone (its cell ran again); the grid takes no more rows after this."""
        self.released = True
        if self.widget is not None:
            self.widget.close()
        if self.table is not None:
            self.table.delete()
            self.table = None

    def records(self) -> list[dict[str, Any]]:
        """The table's rows as Perspective holds them (times in epoch milliseconds), in index order."""
        if self.table is None:
            return []
        view = self.table.view()
        try:
            return list(view.to_records())
        finally:
            view.delete()  # a table with views left open cannot be deleted (release)

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

    def _update(self, columns: dict[str, Any]) -> None:
        kinds = self.kinds
        out: dict[str, Any] = {}
        for name, values in columns.items():
            kind = kinds.get(name)
            if kind is None:
                late = self.late_fields
                if len(late) < self.MAX_LATE and name not in late and any(v is not None for v in values):
                    late.append(name)
                continue
            if kind == "float":
                out[name] = values if set(map(type, values)) <= _PLAIN_NUMBERS else [_number(v) for v in values]
            elif kind == "datetime":
                out[name] = _millis_column(values)
            elif kind == "string":
                out[name] = _text_column(values)
            elif kind == "boolean":
                out[name] = [_flag(v) for v in values]
            else:  # the index of an append grid
                out[name] = values
        if out:
            self.table.update(orjson.dumps(out), format="columns")

    def _make(self, rows: list[tuple[Any, Entry]]) -> None:
        """The table, with the schema these rows need, filled with them, and the widget showing it."""
        batches = self._batches(rows)
        kinds: dict[str, str] = {ROW: "integer"} if self.index == ROW else {}
        for columns in batches:
            for name, values in columns.items():
                if name == ROW or (name not in kinds and len(kinds) >= self.MAX_COLUMNS):
                    continue
                kind = wider(kinds.get(name), kind_of(name, values))
                if kind is not None:
                    kinds[name] = kind
        self.kinds = kinds
        self.table = self._client.table(kinds, index=self.index)
        for columns in batches:
            self._update(columns)
        shown = self.chosen if self.chosen is not None else self._default_columns()
        widget = _widget_class()(
            self.table,
            **self._config,
            columns=[c for c in shown if c in kinds],
            theme=self._theme,
            columns_config=self._columns_config(),
        )
        tall = self._show if self.index == ROW else min(self._show, max(len(self.state), 3))
        widget.layout.height = f"{HEAD_PX + ROW_PX * tall}px"
        widget.layout.width = "100%"
        self.widget = widget
        self.view.children = [widget]

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
            elif kind == "float":
                column: dict[str, Any] = {  # plain text (not Perspective's blue and red by sign), at most 2 decimals
                    "fg_mode": "disabled",
                    "number_format": {"minimumFractionDigits": 0, "maximumFractionDigits": 2},
                }
                if self.index != ROW and name != self.index:
                    column["bg_mode"] = "pulse"  # a changed value flashes (up or down) in a keyed grid
                config[name] = column
        return config
