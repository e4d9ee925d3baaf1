"""``streamkit report``: a standalone HTML report from a recording or an archive folder."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ._common import KEY_FIELDS, add_command, flat, scan_recording

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
    if path.is_dir():
        parts = _archive_parts(path, args.sql)
        source: Any = f"archive {path}"
    else:
        parts, source = _recording_parts(path)
    report(*parts, path=output, title=args.title or f"streamkit report: {path.name}", source=source)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


def _recording_parts(path: Path) -> tuple[list[Any], Any]:
    import pandas as pd
    from reactivex import merge

    from .._collect import collect
    from ..core import topic_text
    from ..recording import replay

    _, topics = scan_recording(path)
    rec = replay(path, speed=None)
    observables = [rec.subscribe(t) for t in topics]
    records = collect(merge(*observables), timeout=3600) if observables else []
    parts: list[Any] = [
        f"Recorded stream from `{path.name}`: {len(records):,} records in {len(topics)} subscription(s).\n\n"
        f"Replay: {rec.summary}."
    ]
    if records:
        times = pd.to_datetime([r.received for r in records], unit="s", utc=True)
        counts = pd.DataFrame({"topic": [topic_text(r.origin) for r in records], "time": times})
        per_minute = counts.groupby([pd.Grouper(key="time", freq="1min"), "topic"]).size().rename("records")
        parts += ["## Records per minute", per_minute.reset_index()]
        by_topic: dict[Topic, list[dict[str, Any]]] = {topic: [] for topic in topics}
        for r in records:
            by_topic[r.origin].append(flat(r) | {"received": r.received})
        for topic, rows in by_topic.items():
            frame = pd.DataFrame(rows)
            key = next((k for k in KEY_FIELDS if k in frame.columns), None)
            latest = frame.drop_duplicates(subset=key, keep="last") if key else frame.tail(50)
            latest = latest.assign(received=pd.to_datetime(latest["received"], unit="s", utc=True))
            parts += [f"## {topic_text(topic)}", f"Latest row per {key}." if key else "Last rows.", latest]
    return parts, rec


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
