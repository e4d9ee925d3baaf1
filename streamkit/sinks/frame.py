"""LiveFrame: a bounded, live pandas table of a stream, shown in a notebook cell."""

from __future__ import annotations

import html
from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reactivex import Observable

from ..notebook.controls import MARKS
from ..notebook.display import show_html
from .grid import Grid, grid_available
from .plot import closest_first
from .state import TableState
from .view import LiveView, clock_columns, column_texts, is_time_column, span_of, window_labels

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LiveFrame"]

STYLE = (
    "<style>.sk-live{border-collapse:collapse;color:var(--jp-ui-font-color1,#222)}"
    ".sk-live td,.sk-live th{padding:2px 8px;font-size:12px;white-space:nowrap;text-align:left}"
    ".sk-live th{border-bottom:1px solid var(--jp-border-color1,#bbb);font-weight:600}"
    ".sk-live td.sk-num,.sk-live th.sk-num{text-align:right;font-variant-numeric:tabular-nums}"
    ".sk-live td.sk-new{background:var(--jp-warn-color3,rgba(255,200,0,.3))}"
    ".sk-head{font-size:12px;color:var(--jp-ui-font-color2,#555);margin:2px 0}"
    ".sk-head .sk-error{color:var(--jp-error-color1,#c62828)}.sk-title{font-weight:600;font-size:13px}</style>"
)


class LiveFrame(LiveView):
    """A live, bounded table of a stream's records; ``frame.df`` is a pandas DataFrame snapshot at any time.

    In a notebook the table is Perspective's grid (``perspective-python``, in the ``notebook`` extra): sort,
    filter, group and pick columns in the browser, over every row held; times shown as dates in the browser's
    time zone (or ``tz``), numbers formatted, missing values as ``-``; in a keyed frame a changed number flashes.
    Without it (or with ``grid=False``, or where widgets do not show) the cell shows the newest ``show`` rows as an
    HTML table (sorted by ``sort_by``), with times as UTC text, whole numbers without decimals, other numbers
    rounded, missing values as ``-``, and in a keyed frame the cells that changed since the last frame marked.

    Args:
        source: an Observable of dicts (records, flattened rows) or of DataFrames (window results).
        key: keyed mode: the latest row per key (e.g. ``"mac"``); without it rows are appended.
        merge: keyed mode merges each record's fields into its key's row (default) rather than replacing it.
        max_rows / max_age: bounds (``max_age`` as seconds or ``"15min"``); the oldest rows go first.
        columns: the fields shown, in order; default all but internal ones (named ``_...``, e.g. ``_partition``),
            which ``frame.df`` holds and the grid's column list offers.
        sort_by: a field, ``"-field"`` for descending, or a list of them (default: newest first).
        title: a title above the table.
        tz: the time zone of the grid's times (e.g. ``"UTC"``; default the browser's).
        grid: the interactive grid (default when Perspective is installed) or the HTML table (False).
        fps: most display updates per second; show: rows shown by the HTML table, and the rows the grid is
            tall enough for.

    In a cell, ``frame`` shows a table that keeps updating; ``frame.df`` is a DataFrame of it at any time:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         devices = mist.subscribe(sim.channel("device_stats")).pipe(sk.ops.flatten())
    ...         frame = sk.LiveFrame(devices, key="mac", max_rows=10_000, sort_by="-uptime", title="APs")
    ...         rows = sk.collect(devices, count=8, timeout=10)     # meanwhile the frame fills
    >>> df = frame.df
    >>> frame.state.received >= 8, len(frame) == len(df) <= len(sim.devices)    # the latest row per device
    (True, True)
    >>> {"mac", "_time", "uptime"} <= set(df.columns), df["mac"].is_unique
    (True, True)
    >>> frame.status                                 # the client closed: its streams completed
    <ViewState.COMPLETED: 'completed'>
    >>> frame.close()
    """

    def __init__(
        self,
        source: Observable[Any],
        *,
        key: str | Callable[[Mapping[str, Any]], Hashable] | None = None,
        max_rows: int | None = 10_000,
        max_age: float | str | None = None,
        merge: bool = True,
        columns: Sequence[str] | None = None,
        sort_by: str | Sequence[str] | None = None,
        title: str | None = None,
        tz: str | None = None,
        grid: bool | None = None,
        fps: float = 4.0,
        show: int = 15,
    ) -> None:
        if isinstance(columns, str):
            raise TypeError(f"columns is a list of field names, e.g. columns=[{columns!r}]")
        if grid and not grid_available():
            raise ImportError("the grid needs perspective-python: pip install 'streamkit[notebook]' (or grid=False)")
        self.state = TableState(key=key, max_rows=max_rows, max_age=max_age, merge=merge)
        self.columns = list(columns) if columns is not None else None
        self.sort_by = parse_sort(sort_by)
        self.title = title
        self.tz = tz
        self.show = show
        self._use_grid = grid_available() if grid is None else grid
        #: The Perspective grid once the frame is shown (None before, or with the HTML table).
        self.grid: Grid | None = None
        self._head: Any = None  # the grid's header (an ipywidgets.HTML)
        self._shown: dict[Hashable, dict[str, Any]] = {}  # HTML table: the rows drawn last, for changed cells
        super().__init__(source, fps=fps)

    def __repr__(self) -> str:
        mode = f"key={self.state.key_name!r}" if self.state.key_name else "append"
        return f"<LiveFrame {mode} rows={len(self.state)} received={self.state.received} {self.status}>"

    # -- data ----------------------------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """A DataFrame of everything held now (built in one go from the buffer)."""
        self._flush()
        return self.state.frame()

    def __len__(self) -> int:
        self._flush()
        return len(self.state)

    def to_parquet(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the current rows to a Parquet file (needs pyarrow: ``pip install 'streamkit[archive]'``)."""
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("to_parquet needs pyarrow: pip install 'streamkit[archive]'") from None
        self.df.to_parquet(path, **kwargs)
        return Path(path)

    def to_csv(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the current rows to a CSV file."""
        self.df.to_csv(path, index=False, **kwargs)
        return Path(path)

    def _taker(self) -> Callable[[Any], None]:
        # each record becomes its held row as it arrives; window aggregates also give their span (see _note)
        self._frames: list[Any] = []
        return self.state.taker(self._pending.append, frames=self._frames.append)

    def _ingest(self, batch: list[Any]) -> None:
        self.state.add_items(batch)

    def _note(self, batch: list[Any]) -> None:
        origins, first, last = self.state.seen(batch)
        self._origins.update(origins)
        spans = [(first, last)] if first is not None and last is not None else []
        frames = self._frames
        if frames:  # emptied in place, as the queue is (the observer holds this list)
            taken = frames[:]
            del frames[: len(taken)]
            spans.extend(span for span in map(span_of, taken) if span is not None)
        for low, high in spans:
            self._first_at = low if self._first_at is None else min(self._first_at, low)
            self._last_at = high if self._last_at is None else max(self._last_at, high)

    def _version(self) -> int:
        self.state.evict()  # age bounds move with the clock even when nothing arrives
        return self.state.version

    def release(self) -> None:
        """Free what only the frame's output used (the grid's table and widget in the kernel), once that output is
        gone: running its cell again does this. The rows stay readable in ``frame.df``."""
        if self.grid is not None:
            self.grid.release()

    # -- display -------------------------------------------------------------------------------------------

    def _header(self) -> str:
        mode = f"latest per {html.escape(str(self.state.key_name or 'key'))}" if self.state.key_of else "newest first"
        mark = MARKS[self.status][0]
        text = (
            f"{mark} {self.status} · {len(self.state):,} rows ({mode}) · {self.rate:,.1f} rec/s · "
            f"{self.state.received:,} received · {self.state.evicted:,} evicted"
        )
        missing = self._missing_columns()
        if missing:
            text += f" · {html.escape(missing)}"
        late = self.grid.late_fields if self.grid is not None else []
        if late:
            names = ", ".join(late[:5]) + (" …" if len(late) > 5 else "")
            text += f" · not in the grid (they came later; see frame.df): {html.escape(names)}"
        if self.error is not None:
            text += f" · <span class='sk-error'>error: {html.escape(str(self.error))}</span>"
        title = f"<div class='sk-title'>{html.escape(self.title)}</div>" if self.title and self.grid is None else ""
        return f"{title}<div class='sk-head'>{text}</div>"

    def _missing_columns(self) -> str:
        """What to say of chosen columns no row has had (closest fields first), once rows have come."""
        if self.columns is None or not len(self.state):
            return ""
        fields = list(self.grid.kinds) if self.grid and self.grid.kinds else list(self.state.frame(newest=50).columns)
        absent = [c for c in self.columns if c not in fields]
        if not absent:
            return ""
        known = ", ".join(closest_first(absent[0], [f for f in fields if not f.startswith("_")])[:8])
        return f"no field {', '.join(map(repr, absent))} in the rows so far; fields: {known}"

    def _table_html(self) -> str:
        if self.grid is None:
            self.state.changed_keys = set()  # only the grid reads them (the HTML table compares the rows it shows)
        rows = self._shown_rows()
        if not rows:
            return self._no_rows()
        return _html_table(self._readable(rows), self._changed_cells(rows))

    def _no_rows(self) -> str:
        """What the table says while it has no rows: why."""
        if self.error is not None:
            return "<i>no rows: the stream failed before any record came (see the error above)</i>"
        if self.completed or self.closed:
            return f"<i>no rows: the stream {'completed' if self.completed else 'was closed'} empty</i>"
        return "<i>waiting for records…</i>"

    def _shown_rows(self) -> list[dict[str, Any]]:
        """The rows the table shows: the newest ``show`` (newest first), or with ``sort_by`` the first ``show`` of
        every row held in that order (a top 10 by CPU is the top 10 of all rows, not of the newest)."""
        if not self.sort_by or not len(self.state):
            return self.state.rows(newest=self.show)[::-1]
        table = self.state.frame()[::-1]  # newest first among equals
        names = [name for name, _ in self.sort_by if name in table.columns]
        if names:
            ascending = [up for name, up in self.sort_by if name in table.columns]
            table = table.sort_values(names, ascending=ascending, kind="stable", na_position="last")
        rows: list[dict[str, Any]] = table.head(self.show).to_dict("records")
        return rows

    def _readable(self, rows: list[dict[str, Any]]) -> dict[Any, list[Any]]:
        """The shown fields of ``rows`` as columns for reading: times as UTC text (a window's bounds as one
        ``window`` label), as :func:`~streamkit.sinks.reports.readable` gives a DataFrame, without making one
        (the table is redrawn several times a second)."""
        fields = dict.fromkeys(chain.from_iterable(rows))
        shown = self.columns or [c for c in fields if not str(c).startswith("_")]
        columns: dict[Any, list[Any]] = {name: [row.get(name) for row in rows] for name in shown if name in fields}
        texts, _ = clock_columns({name: values for name, values in columns.items() if is_time_column(name, values)})
        if "window_start" in texts and "window_end" in texts:
            label = window_labels(texts.pop("window_start"), texts.pop("window_end"))
            columns = {
                ("window" if name == "window_start" else name): (label if name == "window_start" else values)
                for name, values in columns.items()
                if name != "window_end"
            }
        columns.update(texts)
        return columns

    def _changed_cells(self, rows: list[dict[str, Any]]) -> list[set[str]]:
        """Per shown row of a keyed frame, the fields whose value changed since the last draw."""
        key_of = self.state.key_of
        if key_of is None:
            return [set() for _ in rows]
        before, self._shown = self._shown, {}
        marks = []
        for row in rows:
            key = key_of(row)
            old = before.get(key)
            marks.append(set() if old is None else {f for f, v in row.items() if old.get(f, v) != v})
            self._shown[key] = row
        return marks

    def _repr_html_(self) -> str:
        self._flush()
        return STYLE + self._header() + self._table_html()

    def _render(self) -> None:
        if self.grid is None:
            self._widget.value = self._repr_html_()
            return
        with self._lock:
            self.grid.sync()
        if self.grid.widget is None:
            self.grid.note.value = self._no_rows()
        self._head.value = STYLE + self._header()

    def _ipython_display_(self) -> None:
        if not self._use_grid:
            self._widget = show_html(self, self._widget)
            return
        from IPython.display import display

        from ..notebook.controls import framed

        if self._widget is None:
            self._widget = self._grid_widget()
        display(framed(self, self._widget))

    def _grid_widget(self) -> Any:
        """The grid under a header line (state, counts, errors), following the notebook's theme."""
        import ipywidgets

        from ..notebook.theme import theme_watch

        grid = self.grid = Grid(
            self.state,
            columns=self.columns,
            sort_by=self.sort_by,
            title=self.title,
            tz=self.tz,
            show=self.show,
        )
        watch = theme_watch()
        watch.observe(lambda change: setattr(grid, "theme", "Pro Dark" if change["new"] else "Pro Light"), "dark")
        self._head = ipywidgets.HTML(STYLE + self._header())
        self._draw(force=True)
        return ipywidgets.VBox([self._head, grid.view, watch])


def parse_sort(sort_by: str | Sequence[str] | None) -> list[tuple[str, bool]]:
    """``(field, ascending)`` pairs from a field name, ``"-name"`` for descending, or a list of them.

    >>> parse_sort("-cpu_util"), parse_sort(["site", "-n"]), parse_sort(None)
    ([('cpu_util', False)], [('site', True), ('n', False)], [])
    """
    if sort_by is None:
        return []
    names = [sort_by] if isinstance(sort_by, str) else list(sort_by)
    return [(name[1:], False) if name.startswith("-") else (name, True) for name in names]


def _html_table(table: dict[Any, list[Any]], marks: list[set[str]]) -> str:
    """An HTML table of readable columns (:func:`~streamkit.sinks.view.column_texts`: numbers right-aligned,
    missing values as ``-``), changed cells marked."""
    columns = []  # (name, escaped cell texts, opening tag, opening tag of a changed cell)
    head = []
    for name, values in table.items():
        texts, number = column_texts(values)
        title = html.escape(str(name))
        head.append(f"<th class='sk-num'>{title}</th>" if number else f"<th>{title}</th>")
        opening = ("<td class='sk-num'>", "<td class='sk-num sk-new'>") if number else ("<td>", "<td class='sk-new'>")
        columns.append((name, [html.escape(text) for text in texts], *opening))
    body = [
        "<tr>"
        + "".join(f"{new if name in changed else plain}{texts[n]}</td>" for name, texts, plain, new in columns)
        + "</tr>"
        for n, changed in enumerate(marks)
    ]
    return f"<table class='sk-live'><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>"
