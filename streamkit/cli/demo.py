"""``streamkit demo``: start the Mist simulator and print a few decoded device-stats records."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_command

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the command line."""
    parser = add_command(
        commands,
        "demo",
        run,
        help="run the Mist simulator and print a few decoded device-stats records",
        description="Start the built-in Mist simulator, subscribe to one site's device stats "
        "and print decoded records.",
        epilog="example:\n  streamkit demo --count 10",
    )
    parser.add_argument("--count", type=int, default=8, help="records to print (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="scenario seed (default: %(default)s)")


def run(args: argparse.Namespace) -> None:
    """Print ``--count`` records of the simulator's first site, one line each."""
    from .. import collect, mist
    from ..sim import MistSimulator

    with MistSimulator(seed=args.seed, interval=0.5, sites=1) as sim:
        channel = sim.channel("device_stats")
        print(f"Mist simulator at {sim.url} (seed {args.seed}); subscribing to {channel}", flush=True)
        client = mist(url=sim.url, token=sim.token)
        try:
            for n, record in enumerate(collect(client.subscribe(channel), count=args.count, timeout=30), 1):
                print(_summary(n, record), flush=True)
        finally:
            client.close()


def _summary(n: int, record: dict[str, Any]) -> str:
    kind = record.get("type") or "ap (basic)"
    facts: dict[str, Any] = {k: record[k] for k in ("name", "ip", "uptime", "cpu_util", "num_clients") if k in record}
    ble = record.get("ble_stat")
    if ble:
        facts["ble_rx_pkts"] = ble.get("rx_pkts")
    text = "  ".join(f"{k}={v}" for k, v in facts.items())
    return f"{n:3d}  {record.get('mac', '?'):12}  {kind:10}  {text}"
