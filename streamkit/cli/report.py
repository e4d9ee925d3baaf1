"""``streamkit report``: a standalone HTML report from a recording or an archive folder."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ._common import KEY_FIELDS, add_command, flat, internal, scan_recording

if TYPE_CHECKING:
    from pathlib import Path

    from ..core import Topic

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` to the command line."""
    parser = add_command(
        commands,
        "report",
        run,
        help="write a standalone HTML report from a recording or an archive",
        description="Render a report that opens offline in a browser: per-subscription tables and counts from a "
        "recording, or dataset summaries and SQL query results from an archive folder.",
        epilog="examples:\n  streamkit report devices.jsonl.gz -o devices.html\n"
        "  streamkit report archive/ --sql 'select name, avg(cpu_util) from devices group by 1' -o cpu.html",
    )
    parser.add_argument("input", metavar="RECORDING_OR_ARCHIVE")
    parser.add_argument("-o", "--output", default="report.html", help="default: %(default)s")
    parser.add_argument("--title", help="default: from the input's name")
    parser.add_argument("--sql", action="append", help="archive: a DuckDB query to include (repeatable)")


def run(args: argparse.Namespace) -> None:
    """Write the report of a recording (a file) or an archive (a folder) and say how big it is."""
    from pathlib import Path

    from ..sinks.reports import report

    path = Path(args.input)
    output = Path(args.output)
    span: tuple[float, float] | None = None
    if path.is_dir():
        parts = _archive_parts(path, args.sql)
        source: Any = f"archive {path}"
    else:
        parts, source, span = _recording_parts(path)
    title = args.title or f"streamkit report: {path.name}"
    report(*parts, path=output, title=title, source=source, time_range=span)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


#: Most columns a recording's table shows (the key, names, times first); the rest are in the recording.
MAX_COLUMNS = 12
#: Most keys (devices ...) drawn in one chart.
MAX_TRACES = 20
#: Names that say what a row is, shown right after its key.
LABEL_FIELDS = ("name", "type", "model", "site_id", "hostname", "status", "state")
#: Fields charted over time when a subscription has them (the first one found), else the fullest numeric one.
TREND_FIELDS = ("cpu_util", "num_clients", "rssi", "mem_used_kb", "tx_bps", "rx_bps", "temp", "value")
#: (spans shorter than this many seconds, pandas frequency, its name) for the counts over time.
_BUCKETS = (
    (120, "1s", "second"),
    (1200, "10s", "10 seconds"),
    (7200, "1min", "minute"),
    (86400, "10min", "10 minutes"),
)


def _recording_parts(path: Path) -> tuple[list[Any], Any, tuple[float, float] | None]:
    """The report of a recording: counts over time per subscription, then per subscription the latest (merged)
    row per device or key and a chart of a numeric field per key, all on the recorded times."""
    import importlib.util

    import pandas as pd
    from reactivex import merge

    from .._collect import collect
    from ..core import topic_text
    from ..recording import replay

    _, topics = scan_recording(path)
    rec = replay(path, speed=None)
    observables = [rec.subscribe(t) for t in topics]
    records = collect(merge(*observables), timeout=3600) if observables else []
    charts = importlib.util.find_spec("plotly") is not None
    parts: list[Any] = [
        f"Recorded stream from `{path.name}`: {len(records):,} records in {len(topics)} subscription(s).\n\n"
        f"Replay: {rec.summary}."
        + ("" if charts or not records else "\n\nCharts need plotly: `pip install 'streamkit[notebook]'`.")
    ]
    if not records:
        return parts, rec, None
    arrivals = [r.received for r in records]  # on a replay: the recorded arrival times
    first, last = min(arrivals), max(arrivals)
    freq, label = next(((f, name) for below, f, name in _BUCKETS if last - first < below), ("1h", "hour"))
    counts = pd.DataFrame(
        {"topic": [topic_text(r.origin) for r in records], "time": pd.to_datetime(arrivals, unit="s", utc=True)}
    )
    per_bucket = counts.groupby([pd.Grouper(key="time", freq=freq), "topic"]).size().rename("records").reset_index()
    parts.append(f"## Records per {label}")
    parts.append(_bars(per_bucket, label) if charts else per_bucket)
    by_topic: dict[Topic, list[dict[str, Any]]] = {topic: [] for topic in topics}
    for r in records:
        by_topic[r.origin].append(flat(r) | {"received": r.received})
    for topic, rows in by_topic.items():
        parts += _topic_parts(topic_text(topic), rows, charts)
    return parts, rec, (first, last)


def _topic_parts(name: str, rows: list[dict[str, Any]], charts: bool) -> list[Any]:
    import pandas as pd

    from ..sinks.state import TableState

    key = next((k for k in KEY_FIELDS if any(k in row for row in rows[:200])), None)
    if key is not None:  # the latest row per key, each record's fields merged in (as a keyed LiveFrame does)
        table = TableState(key=key, merge=True, max_rows=len(rows))
        table.add(rows)
        latest = table.frame()
        caption = f"Latest values per {key} ({len(latest):,} {key}s, {len(rows):,} records; fields merged)."
    else:
        latest = pd.DataFrame(rows[-50:])
        caption = f"The last {len(latest)} of {len(rows):,} records."
    chosen = _chosen_columns(latest, key)
    if len(chosen) < len(latest.columns):
        caption += f" {len(chosen)} of {len(latest.columns)} fields shown; all are in the recording."
    parts: list[Any] = [f"## {name}", caption, latest[chosen]]
    trend = _trend_field(latest, key) if charts else None
    if trend is not None:
        parts.append(_trend_chart(rows, key, trend))
    return parts


def _chosen_columns(df: Any, key: str | None) -> list[str]:
    """The key, what names a row, the times, then the first other fields that have values; no internal fields."""
    usable = [
        c for c in df.columns if isinstance(c, str) and not internal(c) and df[c].notna().any() and not _nested(df[c])
    ]
    first = [c for c in (key, *LABEL_FIELDS, "_time", "received") if c is not None and c in usable]
    rest = [c for c in usable if c not in first]
    return list(dict.fromkeys(first))[:MAX_COLUMNS] + rest[: max(0, MAX_COLUMNS - len(first))]


def _nested(column: Any) -> bool:
    value = column.dropna().head(1).tolist()
    return bool(value) and isinstance(value[0], (dict, list))


def _trend_field(df: Any, key: str | None) -> str | None:
    """The numeric field worth a chart over time: not an id, a time or a flag, with values that change."""
    import pandas as pd

    from ..sinks.view import is_time_column

    best: tuple[int, str] | None = None
    for c in [*(f for f in TREND_FIELDS if f in df.columns), *df.columns]:
        if not isinstance(c, str) or c == key or internal(c) or c in ("received", "_time"):
            continue
        column = df[c]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        if column.nunique() < 2 or is_time_column(c, column.head(20).tolist()):
            continue
        if c in TREND_FIELDS:
            return c
        if best is None or column.notna().sum() > best[0]:
            best = (int(column.notna().sum()), c)
    return None if best is None else best[1]


def _bars(per_bucket: Any, label: str) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure(layout={"title": f"Records per {label}", "barmode": "stack", "height": 320})
    for topic, group in per_bucket.groupby("topic"):
        figure.add_trace(go.Bar(x=group["time"], y=group["records"], name=str(topic)))
    figure.update_xaxes(type="date")
    return figure


def _trend_chart(rows: list[dict[str, Any]], key: str | None, field: str) -> Any:
    import pandas as pd
    import plotly.graph_objects as go

    values = pd.DataFrame(
        [{"key": row.get(key) if key else field, "t": row["received"], "v": row.get(field)} for row in rows]
    )
    values = values.dropna(subset=["v"])
    values["t"] = pd.to_datetime(values["t"], unit="s", utc=True)
    title = f"{field} by {key}" if key else field
    shown = list(dict.fromkeys(values["key"]))[:MAX_TRACES]
    if len(shown) < values["key"].nunique():
        title += f" (the first {MAX_TRACES} {key}s)"
    figure = go.Figure(layout={"title": title, "height": 360})
    for name in shown:
        one = values[values["key"] == name]
        figure.add_trace(go.Scatter(x=one["t"], y=one["v"], name=str(name), mode="lines+markers"))
    figure.update_xaxes(type="date")
    return figure


def _archive_parts(path: Path, sql: list[str] | None) -> list[Any]:
    from ..sinks import archive

    found = archive.datasets(path)
    parts: list[Any] = [f"Archive at `{path}`: {len(found)} dataset(s)."]
    for name in found:
        summary = archive.query(
            f'select count(*) as rows, min(received) as first, max(received) as last from "{name}"',
            tables={name: found[name]},
        )
        parts += [f"## {name}", summary]
    for statement in sql or []:
        parts += [f"## Query\n\n```sql\n{statement}\n```", archive.query(statement, tables=found)]
    return parts
