"""Reports: one standalone HTML file (opens offline) from tables, charts and text, with provenance.

``sk.report("# Busy APs", frame, plot, path="busy.html", source=mist, windows=[per_minute])`` writes a page with
a provenance block (source, subscriptions, the time range the data covers, window definitions, when and by which
streamkit it was generated) and then each part in order: markdown text, DataFrames and LiveFrames as tables,
LivePlots and plotly figures as interactive charts (plotly.js is embedded once, so the file needs no network).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._redact import safe_url
from .._time import epoch_seconds, utc_datetime
from .._version import __version__
from ..core import topic_text
from ..ops._base import describe
from .frame import LiveFrame
from .plot import LivePlot
from .view import LiveView, clock_columns, is_time_column, window_labels

__all__ = ["Provenance", "report"]

MAX_TABLE_ROWS = 500
#: Columns looked at first for a table's time range; after them, any column whose values read as times.
TIME_COLUMNS = ("received", "_time", "timestamp", "time", "last_seen")

#: Colours are JupyterLab's ``--jp-*`` variables (a report shown in a notebook follows its theme), with the
#: light colours of a standalone page as fallbacks.
STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:var(--jp-content-font-color1,#222);padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}
table.sk-table{border-collapse:collapse;font-size:12px;margin:.5em 0 1.5em}
table.sk-table td,table.sk-table th{border-bottom:1px solid var(--jp-border-color2,#ddd);padding:2px 8px;
text-align:right;white-space:nowrap}
table.sk-table th{background:var(--jp-layout-color2,#f4f4f4)}
.sk-prov{background:var(--jp-layout-color1,#f7f7fa);border:1px solid var(--jp-border-color1,#e0e0ea);border-radius:6px;
padding:.5em 1em;font-size:13px;margin:1em 0}
.sk-prov th{text-align:left;padding-right:1em;vertical-align:top;white-space:nowrap;font-weight:600}
.sk-caption{font-size:12px;color:var(--jp-content-font-color2,#666);margin:.2em 0}
.sk-scroll{overflow-x:auto}
"""


@dataclass
class Provenance:
    """Where a report's data came from; gathered from the parts and the ``source`` / ``windows`` arguments.

    :func:`report` fills one and shows its :meth:`rows` at the top of the page; the time range is the widest
    span of what was added:

    >>> from streamkit.sinks import Provenance
    >>> provenance = Provenance()
    >>> provenance.add_source("archive/devices")
    >>> provenance.add_time(1_795_463_640, 1_795_463_700)
    >>> provenance.add_time(1_795_463_600, None)
    >>> provenance.windows.append("tumbling 60 s windows (processing time)")
    >>> for name, value in provenance.rows()[:4]:
    ...     print(f"{name}: {value}")
    Source: archive/devices
    Subscriptions: not given
    Time range: 2026-11-23T19:53:20Z to 2026-11-23T19:55:00Z (100.0 s)
    Windows: tumbling 60 s windows (processing time)
    """

    sources: list[str] = field(default_factory=list)
    subscriptions: set[str] = field(default_factory=set)
    first: float | None = None
    last: float | None = None
    windows: list[str] = field(default_factory=list)
    generated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def add_time(self, first: float | None, last: float | None) -> None:
        if first is not None:
            self.first = first if self.first is None else min(self.first, first)
        if last is not None:
            self.last = last if self.last is None else max(self.last, last)

    def add_source(self, source: Any) -> None:
        from ..connection.client import Client  # loaded already when a client is passed

        if isinstance(source, Client):
            header = getattr(source, "header", None)  # a replay: what was recorded, and from where
            if header is not None:
                self.sources.append(f"{header.get('kind')} {header.get('url')} (recorded {header.get('started')})")
            else:
                self.sources.append(f"{source.name} {safe_url(source.url)}")
            self.subscriptions.update(topic_text(t) for t in (*source.topics, *source.stats.per_topic))
        elif isinstance(source, (str, Path)):
            self.sources.append(str(source))
        else:
            self.sources.append(repr(source))

    def rows(self) -> list[tuple[str, str]]:
        span = "no timed data"
        if self.first is not None and self.last is not None:
            span = f"{_utc(self.first)} to {_utc(self.last)} ({_duration(self.last - self.first)})"
        return [
            ("Source", "; ".join(self.sources) or "not given"),
            ("Subscriptions", ", ".join(sorted(self.subscriptions)) or "not given"),
            ("Time range", span),
            ("Windows", "; ".join(self.windows) or "none"),
            ("Generated", f"{self.generated.isoformat(timespec='seconds')} by streamkit {__version__}"),
        ]


def _utc(t: float) -> str:
    when = utc_datetime(t, "s")
    return "?" if when is None else when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _time_columns(df: Any) -> list[Any]:
    """The columns of ``df`` that hold times: by name, datetime dtype, or values (epoch numbers of a plausible
    magnitude, ISO 8601 text)."""
    import pandas as pd

    kinds = pd.api.types
    head = df.head(50)
    # every column's first values in one conversion (a Series per column costs far more on wide tables)
    firsts = head.to_numpy(dtype=object).T.tolist() if len(head) else [[] for _ in df.columns]
    twice = df.columns.duplicated(keep=False)  # (a duplicated name is no column of its own)
    return [
        name
        for name, dtype, values, duplicated in zip(df.columns, df.dtypes, firsts, twice, strict=True)
        if not duplicated and (kinds.is_datetime64_any_dtype(dtype) or is_time_column(name, values))
    ]


def _frame_times(df: Any) -> tuple[float | None, float | None]:
    """The span of a DataFrame's first time-like column (by name, else by value): datetimes, epoch numbers (unit
    by magnitude) or ISO 8601 text, in epoch seconds."""
    import pandas as pd

    if df.empty:
        return None, None
    named = [name for name in TIME_COLUMNS if name in df.columns]
    for name in [*named, *(c for c in _time_columns(df) if c not in named)]:
        column = df[name].dropna()
        if not isinstance(column, pd.Series) or column.empty:
            continue
        if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_numeric_dtype(column):
            low, high = epoch_seconds(column.min()), epoch_seconds(column.max())
        else:  # text or mixed: each value on its own
            seconds = [t for t in map(epoch_seconds, column) if t is not None]
            low, high = (min(seconds), max(seconds)) if seconds else (None, None)
        if low is not None and high is not None:
            return low, high
    return None, None


def _meaningful_index(df: Any) -> bool:
    """Whether a table's index says something (a name, times, labels) rather than row positions."""
    import pandas as pd

    index = df.index
    return any(name is not None for name in index.names) or not pd.api.types.is_integer_dtype(index)


def readable(df: Any) -> tuple[Any, str]:
    """A copy of ``df`` for reading, and what to say about its times: time columns (by name or by value) as UTC
    text, the time of day only when they all fall on one day, a window's ``window_start``/``window_end`` as one
    ``window`` label. Columns that are not times are left as they are.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"window_start": pd.to_datetime([1795455840, 1795455850], unit="s", utc=True),
    ...                    "window_end": pd.to_datetime([1795455850, 1795455860], unit="s", utc=True),
    ...                    "room": ["lab", "lab"], "ts": [1795455844.5, 1795455851.25], "temp": [21.5, 21.7]})
    >>> shown, note = readable(df)
    >>> shown.columns.tolist(), shown["ts"][0], note
    (['window', 'room', 'ts', 'temp'], '17:44:04.500', '; times UTC, 2026-11-23')
    >>> shown["window"][0] == "17:44:00\N{EN DASH}17:44:10"
    True
    """
    out = df.copy()
    texts, note = clock_columns({name: out[name].tolist() for name in _time_columns(out)})
    for name, column in texts.items():
        out[name] = column
    if "window_start" in texts and "window_end" in texts:
        at = list(out.columns).index("window_start")
        out = out.drop(columns=["window_start", "window_end"])
        out.insert(at, "window", window_labels(texts["window_start"], texts["window_end"]))
    return out, note


class _Page:
    def __init__(self) -> None:
        self.body: list[str] = []
        self.has_charts = False
        self._markdown: Any = None

    def markdown(self, text: str) -> None:
        if self._markdown is None:
            from markdown_it import MarkdownIt

            self._markdown = MarkdownIt("commonmark", {"html": False}).enable("table")  # text, not markup
        self.body.append(self._markdown.render(text))

    def table(self, df: Any, caption: str) -> None:
        shown, times = readable(df.tail(MAX_TABLE_ROWS))
        note = f" (the last {MAX_TABLE_ROWS} shown)" if len(df) > MAX_TABLE_ROWS else ""
        self.body.append(f'<p class="sk-caption">{html.escape(caption)}: {len(df):,} rows{note}{times}</p>')
        table = shown.to_html(classes="sk-table", border=0, index=_meaningful_index(df), na_rep="")
        self.body.append('<div class="sk-scroll">' + table + "</div>")

    def chart(self, figure: Any) -> None:
        import plotly.io as pio

        self.has_charts = True
        self.body.append(pio.to_html(figure, full_html=False, include_plotlyjs=False))

    def html(self, title: str, provenance: Provenance) -> str:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in provenance.rows())
        script = ""
        if self.has_charts:
            from plotly.offline import get_plotlyjs

            script = f'<script type="text/javascript">{get_plotlyjs()}</script>'
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style>{script}</head><body><h1>{html.escape(title)}</h1>"
            f'<table class="sk-prov">{rows}</table>' + "\n".join(self.body) + "</body></html>\n"
        )


def report(
    *parts: Any,
    path: str | Path = "report.html",
    title: str = "streamkit report",
    source: Any = None,
    windows: Iterable[Any] = (),
    time_range: tuple[Any, Any] | None = None,
) -> Path:
    """Write one standalone HTML file from ``parts``, in order, and return its path.

    Args:
        parts: markdown text (``str``), pandas DataFrames, LiveFrames (their table now), LivePlots and plotly
            figures (interactive charts).
        source: the client, replay or recording the data came from (or a list of them), for the provenance.
        windows: the window operators used (or descriptions), listed in the provenance.
        time_range: the first and last time the data covers (epoch numbers, ISO 8601, datetimes); default: from
            the parts (the records a LiveFrame or LivePlot received, by arrival time, which on a replay is the
            recorded time; windows' bounds; a DataFrame's first time column).

    A LiveFrame or LivePlot goes in as it is now, e.g. ``sk.report("# Busy APs", frame, plot, source=mist)``; here
    a DataFrame (its ``received`` column gives the time range):

    >>> import shutil, tempfile, pandas as pd, streamkit as sk
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> busiest = pd.DataFrame({"ap": ["ap-1", "ap-2"], "clients": [31, 12], "received": [1700000000, 1700003600]})
    >>> path = sk.report(
    ...     "# Busy APs",
    ...     "Clients per AP over the last hour.",
    ...     busiest,
    ...     path=folder / "busy-aps.html",
    ...     source="devices.jsonl.gz",
    ...     windows=["tumbling 60 s"],
    ... )
    >>> page = path.read_text()
    >>> "<h1>Busy APs</h1>" in page, "<td>ap-2</td>" in page, "devices.jsonl.gz" in page
    (True, True, True)
    >>> "2023-11-14T22:13:20Z to 2023-11-14T23:13:20Z (60.0 min)" in page
    True
    >>> shutil.rmtree(folder)
    """
    provenance = Provenance(windows=[describe(w) for w in windows])
    for one in source if isinstance(source, (list, tuple)) else ([source] if source is not None else []):
        provenance.add_source(one)
    page = _Page()
    for part in parts:
        _add(page, provenance, part)
    if time_range is not None:
        first, last = (epoch_seconds(t) for t in time_range)
        if first is None or last is None:
            raise ValueError(f"time_range is two times (epoch numbers, ISO 8601, datetimes), not {time_range!r}")
        provenance.first, provenance.last = first, last
    target = Path(path)
    target.write_text(page.html(title, provenance), encoding="utf-8")
    return target


def _add(page: _Page, provenance: Provenance, part: Any) -> None:
    import pandas as pd

    if isinstance(part, LiveView):
        origins, first, last = part.seen()
        provenance.subscriptions.update(topic_text(t) for t in origins)
        provenance.add_time(first, last)
    if isinstance(part, str):
        page.markdown(part)
    elif isinstance(part, LiveFrame):
        df = part.df
        mode = f"keyed by {part.state.key_name}" if part.state.key_name else "latest rows"
        page.table(df, f"Live table ({mode}, {part.state.received:,} records received)")
    elif isinstance(part, pd.DataFrame):
        provenance.add_time(*_frame_times(part))
        page.table(part, "Table")
    elif isinstance(part, LivePlot):
        page.chart(part.figure)
    elif hasattr(part, "to_plotly_json"):
        page.chart(part)
    elif isinstance(part, Sequence):
        raise TypeError("give report parts one by one: sk.report(text, frame, plot, ...)")
    else:
        kinds = "markdown text, DataFrames, LiveFrames, LivePlots and plotly figures"
        raise TypeError(f"a report takes {kinds}, not {type(part).__name__}")
