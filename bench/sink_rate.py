"""End to end into a LiveFrame: speed, memory and notebook responsiveness.

rate     simulator flat out (own process) -> sk.mist -> flatten -> LiveFrame (append, 100k rows), next to the
         plain websockets receive rate and the naive notebook recipe (websockets + json.loads + pd.concat per
         message), each against a fresh simulator in this run. Target: streamkit >= 0.5x plain.
memory   RSS of this process while 2M messages go into the 100k-row LiveFrame. Target: growth < 50 MB.
kernel   a Jupyter kernel showing a LiveFrame fed at ~20k msg/s: how long a new cell takes to answer.
         Target: < 0.5 s.

  python bench/sink_rate.py [rate|memory|kernel ...] [--seconds 5] [--messages 2000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent))
from client_rate import plain
from sim_rate import flat_out_simulator

import streamkit as sk
from streamkit import ops


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def pipeline(info: dict[str, Any]) -> tuple[sk.MistClient, sk.LiveFrame]:
    """The measured pipeline: sk.mist -> flatten -> LiveFrame (append mode, 100k rows)."""
    client = sk.mist(url=info["url"], token=info["token"])
    frame = sk.LiveFrame(
        client.subscribe(info["channels"]["device_stats"]).pipe(ops.flatten()), max_rows=100_000, fps=4
    )
    return client, frame


def streamkit_frame(info: dict[str, Any], seconds: float) -> float:
    client, frame = pipeline(info)
    while frame.state.received == 0:
        time.sleep(0.01)
        frame._flush()
    time.sleep(1.0)
    frame._flush()
    n0, start = frame.state.received, time.perf_counter()
    time.sleep(seconds)
    frame._flush()
    rate = (frame.state.received - n0) / (time.perf_counter() - start)
    frame.close()
    client.close()
    return rate


async def naive(info: dict[str, Any], seconds: float) -> float:
    """What a notebook user writes first: parse each message and concat it onto a DataFrame."""
    headers = {"Authorization": f"Token {info['token']}"}
    df = pd.DataFrame()
    async with connect(info["url"], additional_headers=headers, compression=None) as ws:
        await ws.send(json.dumps({"subscribe": info["channels"]["device_stats"]}))
        await ws.recv()
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            msg = json.loads(await ws.recv())
            row = pd.json_normalize(json.loads(msg["data"]))
            df = pd.concat([df, row], ignore_index=True).tail(100_000)
            count += 1
        return count / (time.perf_counter() - start)


def part_rate(seconds: float, rounds: int) -> None:
    results: dict[str, list[float]] = {"plain": [], "streamkit": [], "naive": []}
    for n in range(1, rounds + 1):
        for name in results:
            with flat_out_simulator(50) as info:
                if name == "plain":
                    count, elapsed, _ = asyncio.run(plain(info, seconds))
                    rate = count / elapsed
                elif name == "streamkit":
                    rate = streamkit_frame(info, seconds)
                else:
                    rate = asyncio.run(naive(info, seconds))
            results[name].append(rate)
            print(f"round {n} {name:9}: {rate:9,.0f} msg/s")
    med = {name: statistics.median(rates) for name, rates in results.items()}
    ratio = med["streamkit"] / med["plain"]
    print(
        f"median plain {med['plain']:,.0f}, streamkit -> LiveFrame {med['streamkit']:,.0f} ({ratio:.2f}x plain; "
        f"target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'}), naive recipe {med['naive']:,.0f} msg/s "
        f"(streamkit {med['streamkit'] / med['naive']:,.0f}x faster)"
    )


def part_memory(messages: int) -> None:
    with flat_out_simulator(50) as info:
        client, frame = pipeline(info)
        baseline = None
        samples = []
        start = time.perf_counter()
        while frame.state.received < messages:
            time.sleep(1.0)
            frame._flush()
            if baseline is None and frame.state.received >= 200_000:
                baseline = rss_mb()  # the 100k rows are in: from here on RSS should stay flat
            samples.append((frame.state.received, rss_mb()))
        elapsed = time.perf_counter() - start
        frame.close()
        client.close()
    end = samples[-1][1]
    peak = max(r for _, r in samples)
    print(
        f"{frame.state.received:,} messages in {elapsed:.0f} s into a 100k-row LiveFrame: RSS after the first 200k "
        f"{baseline:.0f} MB, at the end {end:.0f} MB, peak {peak:.0f} MB: growth {end - (baseline or end):+.0f} MB "
        f"(target < 50 MB: {'met' if end - (baseline or end) < 50 else 'NOT met'})"
    )


def part_kernel(seconds: float) -> None:
    import nbformat
    from nbclient import NotebookClient

    with flat_out_simulator(50) as info:
        setup = (
            "import streamkit as sk\nfrom streamkit import ops\n"
            f"mist = sk.mist(url={info['url']!r}, token={info['token']!r})\n"
            f"frame = sk.LiveFrame(mist.subscribe({info['channels']['device_stats']!r}).pipe(ops.flatten()), "
            "max_rows=100_000, fps=4)\ndisplay(frame)"
        )
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(setup),
            nbformat.v4.new_code_cell("1 + 1"),
            nbformat.v4.new_code_cell("print(frame.state.received, round(frame.rate))"),
        ]
        client = NotebookClient(nb, kernel_name="python3", timeout=60)
        latencies = []
        with client.setup_kernel():
            client.execute_cell(nb.cells[0], 0)
            time.sleep(2.0)
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                start = time.perf_counter()
                client.execute_cell(nb.cells[1], 1)
                latencies.append(time.perf_counter() - start)
                time.sleep(0.2)
            client.execute_cell(nb.cells[2], 2)
    received, rate = nb.cells[2].outputs[0]["text"].split()
    worst = max(latencies)
    print(
        f"kernel ingesting {int(rate):,} msg/s ({int(received):,} so far): a new cell answered in median "
        f"{statistics.median(latencies) * 1000:.0f} ms, worst {worst * 1000:.0f} ms over {len(latencies)} cells "
        f"(target < 500 ms: {'met' if worst < 0.5 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", default=["rate", "memory", "kernel"])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2_000_000)
    args = parser.parse_args()
    for part in args.parts:
        if part == "rate":
            part_rate(args.seconds, args.rounds)
        elif part == "memory":
            part_memory(args.messages)
        elif part == "kernel":
            part_kernel(args.seconds)
        else:
            parser.error(f"unknown part {part!r}")


if __name__ == "__main__":
    main()
