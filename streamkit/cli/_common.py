"""What several subcommands share: source options, exit codes and the errors behind them, progress and watching.

Credentials come from the environment (``MIST_API_TOKEN``, ``SMC_URL`` / ``SMC_API_KEY``), never from arguments
that other users could read in the process list. Progress goes to stderr; data to stdout or a file.

Loading the subcommands must stay cheap, so that ``streamkit --help`` is fast: the clients, reactivex, rich and
even pathlib are imported by the functions that use them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Literal

from ..errors import AuthenticationError, StreamkitError

if TYPE_CHECKING:
    from pathlib import Path

    from reactivex import Observable

    from ..connection.client import Client
    from ..core import Message, Stream, Topic

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "ERROR_EXIT_CODES",
    "KEY_FIELDS",
    "SOURCE_HELP",
    "ConnectionStatus",
    "ExitCode",
    "Watch",
    "add_command",
    "add_source_options",
    "cli_words",
    "console",
    "flat",
    "internal",
    "open_source",
    "progress",
    "run_command",
    "scan_recording",
    "terminal_table",
    "topics_of",
]

SOURCE_HELP = """\
topics: Mist channels (/sites/<site_id>/stats/devices ...), SMC context:<name> or element:<href>,
or a generic feed's topic keys (none: everything it sends)."""

#: Fields that name a device or item, in order of preference: one row per value in tables and reports.
KEY_FIELDS = ("mac", "name", "id", "href")

#: Failed connection attempts in a row after which a stream command gives up (exit 1), unless --max-attempts.
DEFAULT_MAX_ATTEMPTS = 5

#: The library's keyword arguments, as a command-line user meets them (options and environment variables).
_CLI_WORDS = {
    "token": "MIST_API_TOKEN",
    "email": "MIST_EMAIL",
    "password": "the password",
    "api_key": "SMC_API_KEY",
    "login": "the login",
    "url": "--url",
    "region": "--region",
    "host": "MIST_HOST",
}
_KEYWORD = re.compile(r"\b(" + "|".join(_CLI_WORDS) + r")=(?=[\s,.;:)/]|$)")


class ExitCode(IntEnum):
    """What a ``streamkit`` process exits with (listed in ``streamkit --help``)."""

    DONE = 0
    FAILED = 1  # the stream failed: connection lost, refused subscription
    USAGE = 2  # bad arguments or input (argparse exits with 2 too)
    CREDENTIALS = 3
    INTERRUPTED = 130  # Ctrl-C


#: The exit code of an error that ends a command; the first class that matches wins.
ERROR_EXIT_CODES: dict[type[Exception], ExitCode] = {
    AuthenticationError: ExitCode.CREDENTIALS,
    StreamkitError: ExitCode.FAILED,
    OSError: ExitCode.USAGE,
    ValueError: ExitCode.USAGE,
    ImportError: ExitCode.USAGE,
}


def run_command(args: argparse.Namespace) -> int:
    """Run the handler that the subcommand's parser set (``args.run``); the error it ends with is one line on stderr.

    Returns the exit code: :class:`ExitCode`, from :data:`ERROR_EXIT_CODES` for an error.
    """
    try:
        args.run(args)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except tuple(ERROR_EXIT_CODES) as exc:
        print(f"streamkit: {cli_words(str(exc))}", file=sys.stderr)
        return next(code for error, code in ERROR_EXIT_CODES.items() if isinstance(exc, error))
    return ExitCode.DONE


def cli_words(message: str) -> str:
    """A library message in the command line's words: ``token=`` is ``MIST_API_TOKEN``, ``url=`` is ``--url``.

    >>> cli_words("no SMC URL: pass url= (e.g. 'https://smc:8082') or set SMC_URL")
    "no SMC URL: pass --url (e.g. 'https://smc:8082') or set SMC_URL"
    """
    return _KEYWORD.sub(lambda match: _CLI_WORDS[match.group(1)], message)


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Callable[[argparse.Namespace], None],
    *,
    help: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` whose handler is ``run``; its help keeps the line breaks of ``epilog``'s examples."""
    parser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def add_source_options(p: argparse.ArgumentParser) -> None:
    """Topics, where the stream comes from, and when to stop: the options :func:`open_source` reads."""
    p.add_argument("topics", nargs="*", metavar="TOPIC", help="what to subscribe to (see below)")
    where = p.add_argument_group("source")
    where.add_argument("--source", choices=("mist", "smc", "feed"), help="default: smc for context:/element: topics")
    where.add_argument("--url", help="stream URL (Mist: default from --region or $MIST_REGION; SMC: $SMC_URL)")
    where.add_argument("--region", help="Mist cloud region, e.g. global01, emea01")
    where.add_argument("--insecure", action="store_true", help="SMC: do not verify the server's certificate")
    where.add_argument(
        "--max-attempts",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help="give up (exit 1) after N failed connection attempts in a row; 0: never (default: %(default)s)",
    )
    p.add_argument("--seconds", type=float, help="stop after this long")
    p.add_argument("--count", type=int, help="stop after this many records")


def topics_of(texts: list[str]) -> list[Topic]:
    """Command-line topics: Mist channels as they are, SMC as ``context:fw_single`` / ``element:<href>``."""
    from ..protocols.smc import subscription_topic

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
    from .. import connection as sources
    from ..protocols.feed import ALL

    topics = topics_of(args.topics)
    kind = _source_kind(args, topics)
    if args.max_attempts < 0:
        raise ValueError(f"--max-attempts is 0 (never give up) or more, not {args.max_attempts}")
    reconnect = sources.Reconnect(max_attempts=args.max_attempts or None)
    if kind == "mist":
        if not topics:
            raise ValueError("name at least one channel, e.g. /sites/<site_id>/stats/devices")
        if not _env("MIST_API_TOKEN"):
            raise ValueError(
                "no Mist API token: set MIST_API_TOKEN (your organisation's API token, or the one "
                "`streamkit sim mist` prints) and give the simulator's --url when trying one"
            )
        mist = sources.mist(url=args.url, region=args.region, record=record, reconnect=reconnect)
        return mist, [mist.subscribe(str(t)) for t in topics]
    if kind == "smc":
        if not topics:
            raise ValueError("name at least one subscription, e.g. context:fw_single or element:<href>")
        if not (args.url or _env("SMC_URL")):
            raise ValueError("no SMC URL: give --url https://smc.example.com:8082 or set SMC_URL")
        if not _env("SMC_API_KEY"):
            raise ValueError("no SMC API key: set SMC_API_KEY (`streamkit sim smc` prints one)")
        smc = sources.smc(url=args.url, verify=not args.insecure, record=record, reconnect=reconnect)
        observables = []
        for t in topics:
            if not isinstance(t, tuple):
                raise ValueError(f"SMC subscriptions are context:<name> or element:<href>, not {t!r}")
            observables.append(smc.subscribe(**{t[0]: t[1]}))
        return smc, observables
    if args.url is None:
        raise ValueError("a JSON feed (--source feed) needs --url")
    feed = sources.feed(args.url, record=record, reconnect=reconnect)
    return feed, [feed.subscribe(t) for t in (topics or [ALL])]


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


class ConnectionStatus:
    """What a client's connection is doing, from ``client.events``, as one line of text (:attr:`text`).

    With ``lines=True`` every change is also printed on stderr as it happens (when nothing else draws there):
    ``connecting to ws://... (attempt 2 of 5)``, ``attempt 2 failed: ...; retrying in 1.0 s``, ``connected``.
    """

    def __init__(self, client: Client, *, lines: bool, max_attempts: int | None = None) -> None:
        from .._redact import safe_url

        self.url = safe_url(client.url)
        self.text = f"connecting to {self.url}"
        self.connected = False
        self._lines = lines
        self._of = f" of {max_attempts}" if max_attempts else ""
        self._subscription = client.events.subscribe(self._event)

    def _event(self, event: Any) -> None:
        from ..connection.events import Connected, Connecting, Disconnected, Reconnecting

        if isinstance(event, Connecting):
            text = f"connecting to {self.url} (attempt {event.attempt}{self._of})"
        elif isinstance(event, Reconnecting):
            text = f"attempt {event.attempt}{self._of} failed: {event.cause}; retrying in {event.delay:.1f} s"
        elif isinstance(event, Connected):
            text = f"connected to {self.url}"
        elif isinstance(event, Disconnected):
            why = event.error or event.reason or "closed"
            text = f"disconnected from {self.url} (code {event.code}: {why})"
        else:
            return
        self.connected = isinstance(event, Connected)
        self.text = cli_words(text)
        if self._lines:
            print(f"streamkit: {self.text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._subscription.dispose()


def scan_recording(path: Path) -> tuple[int, list[Topic]]:
    """Inbound frames and the subscriptions that received data, in a fast first pass."""
    from ..recording.playback import RecordingReader

    reader = RecordingReader(path)
    frames = 0
    topics: dict[Topic, None] = {}
    try:
        for entry in reader:
            if entry.direction == "in":
                frames += 1
                if entry.topic is not None:
                    topics[entry.topic] = None
    finally:
        reader.close()
    return frames, list(topics)


class Watch:
    """Observers on several streams that know when they have all ended (or one failed)."""

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


def flat(record: Any) -> dict[str, Any]:
    """A record as one level of fields (``ip_stat.gateway`` ...); a value that is not a mapping as ``value``."""
    from ..ops.flatten import flatten_record

    return flatten_record(record) if isinstance(record, dict) else {"value": record}


def internal(name: str) -> bool:
    """Whether a field is bookkeeping rather than data: a leading underscore, except ``_time``.

    >>> internal("_partition"), internal("_offset_start"), internal("_time"), internal("cpu_util")
    (True, True, False, False)
    """
    return name.startswith("_") and name != "_time"


def terminal_table(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str] | None = None,
    *,
    title: str | None = None,
    caption: str = "",
    show_internal: bool = False,
    fold: bool = False,
) -> Any:
    """A rich table of ``rows`` for the terminal, the one way the command line shows records.

    Columns ``names`` as asked, or every field in order of appearance but internal ones (:func:`internal`, unless
    ``show_internal``); time columns (by name or by value: :func:`~streamkit.sinks.view.is_time_column`) as
    UTC text, the time of day alone when they all fall on one day (the caption says which); numbers right-aligned
    with thousands separators and one number of decimals per column (at most 3); missing values as ``-``. Long
    values are cut short with an ellipsis, or folded onto more lines with ``fold`` (values to copy, like hrefs).
    """
    from rich.table import Table
    from rich.text import Text

    from .._time import clock_texts
    from ..sinks.view import column_texts, is_time_column

    if names is None:
        names = [name for name in dict.fromkeys(k for row in rows for k in row) if show_internal or not internal(name)]
    columns = {name: [row.get(name) for row in rows] for name in names}
    times = {name: values for name, values in columns.items() if is_time_column(name, values)}
    every, day = clock_texts(value for values in times.values() for value in values)
    clocks = {name: clock_texts(values, dated=day is None)[0] for name, values in times.items()}  # dated alike
    note = f"times UTC, {day.isoformat()}" if day is not None else "times UTC" if any(every) else ""
    table = Table(
        title=title,
        title_justify="left",
        caption="; ".join(text for text in (caption, note) if text) or None,
        caption_justify="left",
    )
    cells: list[list[str]] = []
    for name, values in columns.items():
        texts, number = column_texts(values)
        if name in times:  # a value that is not a time is shown as it is
            number = False
            texts = [clock or text for clock, text in zip(clocks[name], texts, strict=True)]
        cells.append(texts)
        justify: Literal["right", "left"] = "right" if number else "left"
        if fold:
            table.add_column(name, justify=justify, overflow="fold")
        else:
            table.add_column(name, justify=justify, overflow="ellipsis", max_width=28)
    for row in zip(*cells, strict=True):
        table.add_row(*(Text(cell) for cell in row))  # Text: a value is never read as rich markup
    return table


def console(stderr: bool = False) -> Any:
    """A rich console on stdout (or stderr) that leaves numbers and words uncoloured."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@contextmanager
def progress(what: str) -> Iterator[Callable[[str], None]]:
    """A status line on stderr that updates in place on a terminal (nothing in between otherwise)."""
    status_console = console(stderr=True)
    if not status_console.is_terminal:
        print(f"{what} ...", file=sys.stderr, flush=True)
        yield lambda _: None
        return
    with status_console.status(what) as status:
        yield lambda text: status.update(f"{what}: {text}")
