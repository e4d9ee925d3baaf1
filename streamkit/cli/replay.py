"""``streamkit replay``: a recording through the same protocol adapter as live, as JSON lines, with a progress bar."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import IO, Any

from ._common import Watch, add_command, console, flat, scan_recording, topics_of

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``replay`` to the command line."""
    parser = add_command(
        commands,
        "replay",
        run,
        help="replay a recording as JSON lines, with a progress bar",
        description="Replay a recording through the same protocol adapter as live and write one JSON line per "
        'record: {"topic", "received", "record"}.',
        epilog="examples:\n  streamkit replay devices.jsonl.gz --speed 0 -o records.jsonl\n"
        "  streamkit replay devices.jsonl.gz /sites/$SITE/stats/devices --flatten | jq .record.cpu_util",
    )
    parser.add_argument("recording", metavar="FILE.jsonl.gz")
    parser.add_argument("topics", nargs="*", metavar="TOPIC", help="only these subscriptions (default: all)")
    parser.add_argument("--speed", type=float, default=0, help="1: real time, 20: faster, 0: flat out (default)")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--flatten", action="store_true", help="flatten nested fields (ip_stat.gateway ...)")


def _check_recorded(path: Any, topics: list[Any], recorded: list[Any]) -> None:
    """Refuse a subscription the recording holds no data of, naming the ones it does (closest first)."""
    from ..core import topic_text
    from ..sinks.plot import closest_first

    held = [topic_text(t) for t in recorded]
    absent = [topic_text(t) for t in topics if t not in recorded]
    if not absent:
        return
    if not held:
        raise ValueError(f"{path} holds no data for any subscription")
    names = "\n  ".join(closest_first(absent[0], held))
    raise ValueError(
        f"{path} holds no data for {', '.join(absent)}; it holds data for:\n  {names}\n"
        f"(streamkit replay {path} without a topic replays them all)"
    )


def run(args: argparse.Namespace) -> None:
    """Write every record of the chosen subscriptions; the replay's summary goes to stderr."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .._json import dumps
    from ..core import topic_text
    from ..recording import replay

    path = Path(args.recording)
    total, recorded = scan_recording(path)
    topics = topics_of(args.topics) if args.topics else recorded
    _check_recorded(path, topics, recorded)
    speed = None if args.speed == 0 else args.speed
    rec = replay(path, speed=speed)
    out: IO[str] = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    written = [0]
    lock = threading.Lock()

    def on_next(record: Any) -> None:
        row = flat(record) if args.flatten else record
        line = dumps({"topic": topic_text(record.origin), "received": record.received, "record": row})
        with lock:
            out.write(line + "\n")
            written[0] += 1

    watch = Watch([rec.subscribe(t) for t in topics], on_next)
    progress = Progress(
        TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console(True)
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
