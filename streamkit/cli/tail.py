"""``streamkit tail``: the latest record per device or key as a live table, or JSON lines when piped."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from ._common import KEY_FIELDS, SOURCE_HELP, Watch, add_command, add_source_options, console, flat, open_source

if TYPE_CHECKING:
    from ..connection.client import Client

__all__ = ["add_parser", "run"]

SHOWN_COLUMNS = 7


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tail`` to the command line."""
    parser = add_command(
        commands,
        "tail",
        run,
        help="live table of one or more subscriptions in the terminal",
        description="Subscribe and show the latest record per device/key as a live table (JSON lines when the "
        "output is not a terminal, for jq and friends).",
        epilog=SOURCE_HELP + "\n\nexamples:\n  export MIST_API_TOKEN=...\n"
        "  streamkit tail /sites/$SITE/stats/devices --columns name,cpu_util,num_clients\n"
        "  SMC_URL=https://smc:8082 SMC_API_KEY=... streamkit tail context:fw_single --key name\n"
        "  streamkit tail /sites/$SITE/stats/clients --jsonl --count 100 | jq .rssi",
    )
    add_source_options(parser)
    parser.add_argument("--columns", help="comma-separated columns to show (default: the first scalar ones)")
    parser.add_argument("--key", help="one row per value of this field (default: mac, name, id or href)")
    parser.add_argument("--jsonl", action="store_true", help="print one JSON line per record instead of a table")


def run(args: argparse.Namespace) -> None:
    """Show the subscriptions until they end, ``--seconds`` pass or ``--count`` records arrived."""
    from .._json import dumps

    client, observables = open_source(args)
    screen = console()
    as_lines = args.jsonl or not screen.is_terminal
    seen = [0]
    latest: dict[Hashable, dict[str, Any]] = {}
    lock = threading.Lock()
    out = sys.stdout

    def on_next(record: Any) -> None:
        row = flat(record)
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

    watch = Watch(observables, on_next)
    enough = lambda: args.count is not None and seen[0] >= args.count  # noqa: E731
    try:
        if as_lines:
            watch.wait(args.seconds, enough, lambda: None)
        else:
            from rich.live import Live

            with Live(console=screen, refresh_per_second=4, transient=False) as live:

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
