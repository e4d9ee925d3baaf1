"""The stream commands of the command line: ``tail``, ``record``, ``replay``, ``report`` (see :mod:`streamkit.cli`).

Credentials come from the environment (``MIST_API_TOKEN``, ``SMC_URL`` / ``SMC_API_KEY``), never from arguments
that other users could read in the process list. Progress goes to stderr; data to stdout or a file.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from reactivex import Observable, merge

from ._json import dumps
from .connection.client import Client
from .core import Message, Stream, Topic, topic_text
from .ops.flatten import flatten_record
from .protocols.feed import ALL
from .protocols.smc import subscription_topic

__all__ = ["record_command", "replay_command", "report_command", "tail_command", "topics_of"]

KEY_FIELDS = ("mac", "name", "id", "href")
SHOWN_COLUMNS = 7


def topics_of(texts: list[str]) -> list[Topic]:
    """Command-line topics: Mist channels as they are, SMC as ``context:fw_single`` / ``element:<href>``."""
    topics: list[Topic] = []
    for text in texts:
        kind, _, value = text.partition(":")
        topics.append(subscription_topic(**{kind: value}) if kind in ("context", "element") and value else text)
    return topics


def _source_kind(args: argparse.Namespace, topics: list[Topic]) -> str:
    if args.source:
        return str(args.source)
    return "smc" if any(isinstance(t, tuple) for t in topics) else "mist"


def open_source(args: argparse.Namespace, *, record: Path | None = None) -> tuple[Client, list[Stream[Message]]]:
    """The client the source options describe and one Observable per topic."""
    from .connection import sources

    topics = topics_of(args.topics)
    kind = _source_kind(args, topics)
    if kind == "mist":
        if not topics:
            raise ValueError("name at least one channel, e.g. /sites/<site_id>/stats/devices")
        mist = sources.mist(url=args.url, region=args.region, record=record)
        return mist, [mist.subscribe(str(t)) for t in topics]
    if kind == "smc":
        if not topics:
            raise ValueError("name at least one subscription, e.g. context:fw_single or element:<href>")
        smc = sources.smc(url=args.url, verify=not args.insecure, record=record)
        observables = []
        for t in topics:
            if not isinstance(t, tuple):
                raise ValueError(f"SMC subscriptions are context:<name> or element:<href>, not {t!r}")
            observables.append(smc.subscribe(**{t[0]: t[1]}))
        return smc, observables
    if args.url is None:
        raise ValueError("a JSON feed (--source feed) needs --url")
    feed = sources.feed(args.url, record=record)
    return feed, [feed.subscribe(t) for t in (topics or [ALL])]


class _Watch:
    """Observers on several streams: counts what arrives and knows when they have all ended (or one failed)."""

    def __init__(self, observables: Sequence[Observable[Any]], on_next: Callable[[Any], None]) -> None:
        self._done = threading.Event()
        self._left = len(observables)
        self._errors: list[BaseException] = []
        for observable in observables:
            observable.subscribe(on_next, self._failed, self._completed)

    def _completed(self) -> None:
        self._left -= 1
        if self._left <= 0:
            self._done.set()

    def _failed(self, error: BaseException) -> None:
        self._errors.append(error)
        self._done.set()

    def wait(self, seconds: float | None, enough: Callable[[], bool], tick: Callable[[], None]) -> None:
        """Block until the streams end, ``seconds`` pass or ``enough()``; call ``tick`` a few times a second.

        Re-raises the error that ended a stream (the command's exit code comes from it)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._done.wait(0.25):
            tick()
            if enough() or (deadline is not None and time.monotonic() >= deadline):
                break
        tick()
        if self._errors:
            raise self._errors[0]


def _flat(record: Any) -> dict[str, Any]:
    return flatten_record(record) if isinstance(record, dict) else {"value": record}


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# -- tail --------------------------------------------------------------------------------------------------


def tail_command(args: argparse.Namespace) -> None:
    client, observables = open_source(args)
    console = _console()
    as_lines = args.jsonl or not console.is_terminal
    seen = [0]
    latest: dict[Hashable, dict[str, Any]] = {}
    lock = threading.Lock()
    out = sys.stdout

    def on_next(record: Any) -> None:
        row = _flat(record)
        with lock:
            if args.count is not None and seen[0] >= args.count:
                return
            seen[0] += 1
            if as_lines:
                out.write(dumps(row) + "\n")
                out.flush()
            else:
                key = args.key or next((k for k in KEY_FIELDS if k in row), None)
                latest[row.get(key) if key else seen[0]] = row

    watch = _Watch(observables, on_next)
    enough = lambda: args.count is not None and seen[0] >= args.count  # noqa: E731
    try:
        if as_lines:
            watch.wait(args.seconds, enough, lambda: None)
        else:
            from rich.live import Live

            with Live(console=console, refresh_per_second=4, transient=False) as live:

                def draw() -> None:
                    with lock:
                        live.update(_table(latest, args.columns, seen[0], client))

                watch.wait(args.seconds, enough, draw)
    finally:
        client.close()


def _table(latest: dict[Hashable, dict[str, Any]], columns: str | None, seen: int, client: Client) -> Any:
    from rich.table import Table

    rows = list(latest.values())[-200:]
    names: list[str] = columns.split(",") if columns else []
    if not names:
        for row in rows:
            names.extend(k for k, v in row.items() if k not in names and not isinstance(v, (dict, list)))
        names = names[:SHOWN_COLUMNS]
    table = Table(title=f"{client.name} {client.url}: {seen:,} records, {len(latest):,} keys", title_justify="left")
    for name in names:
        table.add_column(name, overflow="ellipsis", max_width=28)
    for row in rows:
        table.add_row(*("" if row.get(n) is None else str(row.get(n)) for n in names))
    return table


# -- record ------------------------------------------------------------------------------------------------


def record_command(args: argparse.Namespace) -> None:
    path = Path(args.output)
    client, observables = open_source(args, record=path)
    recorder = client.recorder
    assert recorder is not None  # open_source(record=) started it
    if args.max_bytes or args.max_seconds:
        recorder.max_bytes, recorder.max_seconds = args.max_bytes, args.max_seconds
    received = [0]

    def on_next(_: Any) -> None:
        received[0] += 1

    watch = _Watch(observables, on_next)
    started = time.monotonic()
    try:
        with _progress(f"recording to {path}") as show:

            def tick() -> None:
                elapsed = time.monotonic() - started
                rate = received[0] / elapsed if elapsed else 0.0
                show(f"{received[0]:,} records  {rate:,.0f}/s  {len(recorder.files)} file(s)  {elapsed:,.0f} s")

            watch.wait(args.seconds, lambda: args.count is not None and received[0] >= args.count, tick)
    finally:
        client.close()
    elapsed = time.monotonic() - started
    files = ", ".join(map(str, recorder.files))
    print(
        f"recorded {recorder.frames:,} frames ({received[0]:,} records, {received[0] / elapsed:,.0f}/s) "
        f"in {elapsed:.1f} s to {files}",
        file=sys.stderr,
    )


@contextmanager
def _progress(what: str) -> Iterator[Callable[[str], None]]:
    """A status line on stderr that updates in place on a terminal (nothing in between otherwise)."""
    console = _console(stderr=True)
    if not console.is_terminal:
        print(f"{what} ...", file=sys.stderr, flush=True)
        yield lambda _: None
        return
    with console.status(what) as status:
        yield lambda text: status.update(f"{what}: {text}")


# -- replay ------------------------------------------------------------------------------------------------


def _scan(path: Path) -> tuple[int, list[Topic]]:
    """Inbound frames and the subscriptions that received data, in a fast first pass."""
    from .recording.playback import RecordingReader

    reader = RecordingReader(path)
    frames = 0
    topics: dict[Topic, None] = {}
    try:
        for batch in iter(reader.batch, None):
            for entry in batch:
                if entry.direction == "in":
                    frames += 1
                    if entry.topic is not None:
                        topics[entry.topic] = None
    finally:
        reader.close()
    return frames, list(topics)


def replay_command(args: argparse.Namespace) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .recording import replay

    path = Path(args.recording)
    total, recorded = _scan(path)
    topics = topics_of(args.topics) if args.topics else recorded
    speed = None if args.speed == 0 else args.speed
    rec = replay(path, speed=speed)
    out: IO[str] = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    written = [0]
    lock = threading.Lock()

    def on_next(record: Any) -> None:
        row = _flat(record) if args.flatten else record
        line = dumps({"topic": topic_text(record.origin), "received": record.received, "record": row})
        with lock:
            out.write(line + "\n")
            written[0] += 1

    watch = _Watch([rec.subscribe(t) for t in topics], on_next)
    progress = Progress(
        TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=_console(True)
    )
    try:
        with progress:
            task = progress.add_task("replay", total=total)
            watch.wait(None, lambda: False, lambda: progress.update(task, completed=rec.summary.frames))
    finally:
        rec.close()
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    print(f"{written[0]:,} records written; {rec.summary}", file=sys.stderr)


# -- report ------------------------------------------------------------------------------------------------


def report_command(args: argparse.Namespace) -> None:
    from .sinks.reports import report

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

    from ._collect import collect
    from .recording import replay

    _, topics = _scan(path)
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
            by_topic[r.origin].append(_flat(r) | {"received": r.received})
        for topic, rows in by_topic.items():
            frame = pd.DataFrame(rows)
            key = next((k for k in KEY_FIELDS if k in frame.columns), None)
            latest = frame.drop_duplicates(subset=key, keep="last") if key else frame.tail(50)
            latest = latest.assign(received=pd.to_datetime(latest["received"], unit="s", utc=True))
            parts += [f"## {topic_text(topic)}", f"Latest row per {key}." if key else "Last rows.", latest]
    return parts, rec


def _archive_parts(path: Path, sql: list[str] | None) -> list[Any]:
    from .sinks import archive

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
