"""How fast the Mist simulator pushes device stats, flat out, to one plain websockets client on loopback.

The simulator runs in its own process (``streamkit sim mist --interval 0``), as it would beside a notebook;
the client is a bare ``websockets`` receive loop, so the figure is the simulator's, not streamkit's client.
Target: >= 30,000 msg/s, so that the simulator is never the bottleneck of client-side benchmarks.

    python bench/sim_rate.py [--seconds 5] [--rounds 3] [--aps 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from websockets.asyncio.client import connect

TARGET = 30_000


@contextlib.contextmanager
def flat_out_simulator(aps: int) -> Iterator[dict[str, Any]]:
    cmd = [
        sys.executable,
        "-m",
        "streamkit",
        "sim",
        "mist",
        "--json",
        "--interval",
        "0",
        "--sites",
        "1",
        "--aps",
        str(aps),
        "--clients",
        "10",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            yield json.loads(proc.stdout.readline())
        finally:
            proc.terminate()


async def measure(info: dict[str, Any], seconds: float) -> tuple[int, int, float]:
    headers = {"Authorization": f"Token {info['token']}"}
    async with connect(info["url"], additional_headers=headers, compression=None, max_queue=None) as ws:
        await ws.send(json.dumps({"subscribe": info["channels"]["device_stats"]}))
        await ws.recv()
        warm_until = time.perf_counter() + 1.0
        while time.perf_counter() < warm_until:
            await ws.recv()
        count = size = 0
        start = time.perf_counter()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            frame = await ws.recv()
            count += 1
            size += len(frame)
        return count, size, now - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each against a fresh simulator")
    parser.add_argument("--aps", type=int, default=50, help="APs in the one simulated site")
    args = parser.parse_args()
    rates = []
    for n in range(1, args.rounds + 1):
        with flat_out_simulator(args.aps) as info:
            count, size, elapsed = asyncio.run(measure(info, args.seconds))
        rates.append(count / elapsed)
        print(
            f"round {n}: simulator -> plain websockets client: {rates[-1]:,.0f} msg/s, "
            f"{size / elapsed / 1e6:.1f} MB/s, {size / count:.0f} B/msg over {count:,} messages"
        )
    rate = statistics.median(rates)
    print(
        f"median {rate:,.0f} msg/s (min {min(rates):,.0f}, max {max(rates):,.0f}); "
        f"target {TARGET:,} msg/s: {rate / TARGET:.2f}x ({'met' if rate >= TARGET else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
