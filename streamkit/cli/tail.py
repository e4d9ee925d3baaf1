"""``streamkit tail``: the latest record per device or key as a live table, or JSON lines when piped."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

from ._common import (
    KEY_FIELDS,
    SOURCE_HELP,
    ConnectionStatus,
    Watch,
    add_command,
    add_source_options,
    console,
    flat,
    internal,
    open_source,
    terminal_table,
)

if TYPE_CHECKING:
    from ..connection.client import Client

__all__ = ["Columns", "add_parser", "run"]

SHOWN_COLUMNS = 7
#: ``--columns`` are checked against the fields of this many records (or of what came in CHECK_SECONDS).
CHECK_RECORDS = 20
CHECK_SECONDS = 2.0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tail`` to the command line."""
    parser = add_command(
        commands,
        "tail",
        run,
        help="live table of one or more subscriptions in the terminal",
        description="Subscribe and show the latest record per device/key as a live table (JSON lines when the "
        "output is not a terminal, for jq and friends). While connecting or retrying, a status line on stderr "
        "says where to and what failed; after --max-attempts failed attempts in a row it gives up (exit 1).",
        epilog=SOURCE_HELP + "\n\nexamples:\n  export MIST_API_TOKEN=...\n"
        "  streamkit tail /sites/$SITE/stats/devices --columns name,cpu_util,num_clients\n"
        "  SMC_URL=https://smc:8082 SMC_API_KEY=... streamkit tail context:fw_single --key name\n"
        "  streamkit tail /sites/$SITE/stats/clients --jsonl --count 100 | jq .rssi\n"
        "  streamkit tail /sites/$SITE/stats/devices --columns name,cpu_util | jq -c .   # only those keys",
    )
    add_source_options(parser)
    parser.add_argument(
        "--columns",
        help="comma-separated fields to show, in the table and in JSON lines (default: the first scalar ones); "
        "an unknown name is refused with the fields that exist",
    )
    parser.add_argument("--key", help="one row per value of this field (default: mac, name, id or href)")
    parser.add_argument("--jsonl", action="store_true", help="print one JSON line per record instead of a table")
    parser.add_argument(
        "--internal",
        action="store_true",
        help="also show streamkit's and the feed's internal fields (_partition, _offset_* ...; _time always shows)",
    )


class Columns:
    """The fields ``tail`` shows: the ones asked for (checked against the fields the records have), or the
    first scalar ones; internal fields left out unless asked for.

    >>> columns = Columns("name,cpu", show_internal=False)
    >>> columns.see({"name": "ap1", "cpu": 3, "_partition": 0})
    >>> columns.check()
    >>> columns.select({"name": "ap1", "cpu": 3, "mem": 9})
    {'name': 'ap1', 'cpu': 3}
    >>> wrong = Columns("nmae", show_internal=False)
    >>> wrong.see({"name": "ap1", "cpu": 3, "_partition": 0}); wrong.check()
    Traceback (most recent call last):
    ...
    ValueError: --columns: no field 'nmae' in the records so far; they have: name, cpu
    """

    def __init__(self, wanted: str | None, *, show_internal: bool) -> None:
        self.wanted = [name.strip() for name in wanted.split(",") if name.strip()] if wanted else []
        self.show_internal = show_internal
        self.known: dict[str, None] = {}
        self.checked = not self.wanted

    def see(self, row: dict[str, Any]) -> None:
        if not self.checked:
            self.known.update(dict.fromkeys(row))

    def check(self) -> None:
        """Refuse names no record had (with the fields they do have, closest first); from now on, show."""
        if self.checked:
            return
        from ..sinks.plot import closest_first

        unknown = [name for name in self.wanted if name not in self.known]
        if unknown and self.known:
            fields = [f for f in self.known if self.show_internal or not internal(f)]
            ordered = closest_first(unknown[0], fields)
            they_have = ", ".join(ordered[:20]) + (f" and {len(ordered) - 20} more" if len(ordered) > 20 else "")
            names = ", ".join(repr(name) for name in unknown)
            raise ValueError(f"--columns: no field {names} in the records so far; they have: {they_have}")
        self.checked = True

    def select(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row as it is shown: only the asked-for fields (those it has), or without internal ones."""
        if self.wanted:
            return {name: row[name] for name in self.wanted if name in row}
        if self.show_internal:
            return row
        return {k: v for k, v in row.items() if not internal(k)}

    def names(self, rows: Iterable[dict[str, Any]]) -> list[str]:
        """The table's columns: the asked-for ones, else the first scalar fields of ``rows``."""
        if self.wanted:
            return list(self.wanted)
        names: dict[str, None] = {}
        for row in rows:
            names.update((k, None) for k, v in row.items() if not isinstance(v, (dict, list)))
            if len(names) >= SHOWN_COLUMNS:
                break
        return list(names)[:SHOWN_COLUMNS]


def run(args: argparse.Namespace) -> None:
    """Show the subscriptions until they end, ``--seconds`` pass or ``--count`` records arrived."""
    from .._json import dumps

    columns = Columns(args.columns, show_internal=args.internal)
    client, observables = open_source(args)
    screen = console()
    as_lines = args.jsonl or not screen.is_terminal
    status = ConnectionStatus(client, lines=as_lines, max_attempts=args.max_attempts)
    seen = [0]
    first_at: list[float] = []
    waiting: list[dict[str, Any]] = []  # JSON lines held back until --columns are checked
    latest: dict[Hashable, dict[str, Any]] = {}
    lock = threading.Lock()
    out = sys.stdout

    def write(rows: list[dict[str, Any]]) -> None:
        if rows:
            shown = [columns.select(row) for row in rows]
            out.write("".join(dumps(row) + "\n" for row in shown if row))  # a record with none of --columns: no line
            out.flush()

    def on_next(record: Any) -> None:
        row = flat(record)
        with lock:
            if args.count is not None and seen[0] >= args.count:
                return
            seen[0] += 1
            if not first_at:
                first_at.append(time.monotonic())
            columns.see(row)
            if as_lines:
                if columns.checked:
                    write([row])
                else:
                    waiting.append(row)
            else:
                key = args.key or next((k for k in KEY_FIELDS if k in row), None)
                latest[row.get(key) if key else seen[0]] = row

    def check(final: bool = False) -> None:
        """Check --columns once enough records came (main thread: a refusal ends the command with exit 2)."""
        with lock:
            if columns.checked or not first_at:
                return
            if final or seen[0] >= CHECK_RECORDS or time.monotonic() - first_at[0] >= CHECK_SECONDS:
                columns.check()
                write(waiting)
                waiting.clear()

    watch = Watch(observables, on_next)
    enough = lambda: args.count is not None and seen[0] >= args.count  # noqa: E731
    try:
        if as_lines:
            watch.wait(args.seconds, enough, check)
        else:
            from rich.live import Live

            with Live(console=screen, refresh_per_second=4, transient=False) as live:

                def draw() -> None:
                    check()
                    with lock:
                        live.update(_table(latest, columns, seen[0], client, status))

                watch.wait(args.seconds, enough, draw)
        check(final=True)
    finally:
        status.close()
        client.close()


def _table(
    latest: dict[Hashable, dict[str, Any]], columns: Columns, seen: int, client: Client, status: ConnectionStatus
) -> Any:
    rows = [columns.select(row) for row in list(latest.values())[-200:]]
    title = f"{client.name} {status.url}: {seen:,} records, {len(latest):,} keys"
    if not status.connected:
        title += f" · {status.text}"
    return terminal_table(rows, columns.names(rows) if columns.checked else [], title=title)
