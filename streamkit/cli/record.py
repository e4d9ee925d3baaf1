"""``streamkit record``: record raw frames with receive times to a ``.jsonl.gz`` file, with a progress line."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._common import (
    SOURCE_HELP,
    ConnectionStatus,
    Watch,
    add_command,
    add_source_options,
    console,
    open_source,
    progress,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``record`` to the command line."""
    parser = add_command(
        commands,
        "record",
        run,
        help="record raw frames to a .jsonl.gz file, with a progress line",
        description="Record what the server sends (and what streamkit sends it) with receive times, for replay "
        "and reports. Credentials are never written.",
        epilog=SOURCE_HELP + "\n\nexample:\n  streamkit record /sites/$SITE/stats/devices -o devices.jsonl.gz "
        "--seconds 600 --max-bytes 100000000",
    )
    parser.add_argument("-o", "--output", metavar="FILE.jsonl.gz", required=True, help="the recording to write")
    add_source_options(parser)
    parser.add_argument("--max-bytes", type=int, help="start a new file after this many (uncompressed) bytes")
    parser.add_argument("--max-seconds", type=float, help="start a new file after this many seconds")


def run(args: argparse.Namespace) -> None:
    """Record until the subscriptions end, ``--seconds`` pass or ``--count`` records arrived; sum up on stderr."""
    from pathlib import Path

    path = Path(args.output)
    client, observables = open_source(args, record=path)
    recorder = client.recorder
    assert recorder is not None  # open_source(record=) started it
    if args.max_bytes or args.max_seconds:
        recorder.max_bytes, recorder.max_seconds = args.max_bytes, args.max_seconds
    received = [0]
    status = ConnectionStatus(client, lines=not console(stderr=True).is_terminal, max_attempts=args.max_attempts)

    def on_next(_: Any) -> None:
        received[0] += 1

    watch = Watch(observables, on_next)
    started = time.monotonic()
    try:
        with progress(f"recording to {path}") as show:

            def tick() -> None:
                elapsed = time.monotonic() - started
                rate = received[0] / elapsed if elapsed else 0.0
                line = f"{received[0]:,} records  {rate:,.0f}/s  {len(recorder.files)} file(s)  {elapsed:,.0f} s"
                show(line if status.connected else f"{line}  ({status.text})")

            watch.wait(args.seconds, lambda: args.count is not None and received[0] >= args.count, tick)
    finally:
        status.close()
        client.close()
    elapsed = time.monotonic() - started
    files = ", ".join(map(str, recorder.files))
    print(
        f"recorded {recorder.frames:,} frames ({received[0]:,} records, {received[0] / elapsed:,.0f}/s) "
        f"in {elapsed:.1f} s to {files}",
        file=sys.stderr,
    )
