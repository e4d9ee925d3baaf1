"""The ``streamkit`` command line: one module per subcommand holds its parser and its handler.

Each subcommand module has ``add_parser(commands)``, which adds its parser with its handler attached, and
``run(args)``, the handler; ``_common`` holds what several share. Nothing heavy loads before a handler runs, so
``streamkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._version import __version__
from . import demo, discover, record, replay, report, sim, tail
from ._common import run_command

__all__ = ["main"]

EPILOG = """\
examples:
  streamkit demo                      start the Mist simulator and print decoded device stats
  streamkit sim mist --port 8765      serve a simulated Mist stream until Ctrl-C
  streamkit sim smc --interval 0.5    serve a simulated SMC (REST + status socket)
  streamkit list sites                the Mist org's sites ($MIST_API_TOKEN); list engines: the SMC's
  streamkit tail /sites/$SITE/stats/devices                 live table of a Mist channel ($MIST_API_TOKEN)
  streamkit record /sites/$SITE/stats/devices -o devices.jsonl.gz --seconds 60
  streamkit replay devices.jsonl.gz --speed 20 > records.jsonl
  streamkit report devices.jsonl.gz -o devices.html

exit codes: 0 done, 1 the stream failed (connection lost, refused subscription), 2 bad arguments or input,
3 credentials refused, 130 interrupted (Ctrl-C).
credentials come from the environment: MIST_API_TOKEN (MIST_REGION / MIST_HOST), SMC_URL and SMC_API_KEY.
"""

#: What adds each subcommand's parser (with its handler), in the order ``streamkit --help`` lists them.
SUBCOMMANDS = (
    demo.add_parser,
    sim.add_parser,
    discover.add_parser,
    tail.add_parser,
    record.add_parser,
    replay.add_parser,
    report.add_parser,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamkit",
        description="Explore live network telemetry streams.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streamkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_parser in SUBCOMMANDS:
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``streamkit`` with ``argv`` (default: the process's arguments) and return its exit code."""
    return run_command(_parser().parse_args(argv))
