"""streamkit's receive path against a bare websockets receive loop, in one run, on loopback.

The Mist simulator runs flat out in its own process. Each round measures, against a fresh simulator:
  plain      a websockets ``recv()`` loop that does nothing with the frames (no parsing at all);
  decode     the same loop decoding each frame and its ``data`` string with orjson (the work any client must do);
  streamkit  ``sk.mist(...).subscribe(channel)`` delivering decoded records to an observer.
It prints the message rates, their ratio (target: streamkit >= 0.6x plain) and the CPU each spends per
message, which is the fair comparison when the simulator, not the client, sets the pace.

    python bench/client_rate.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent))
from sim_rate import flat_out_simulator

import streamkit as sk

TARGET = 0.6
WARMUP = 1.0


async def plain(info: dict[str, Any], seconds: float, decode: bool = False) -> tuple[int, float, float]:
    headers = {"Authorization": f"Token {info['token']}"}
    async with connect(info["url"], additional_headers=headers, compression=None, max_queue=64) as ws:
        await ws.send(json.dumps({"subscribe": info["channels"]["device_stats"]}))
        until = time.perf_counter() + WARMUP
        while time.perf_counter() < until:
            await ws.recv()
        count = 0
        cpu0, start = time.process_time(), time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            frame = await ws.recv(decode=False)
            if decode:
                orjson.loads(orjson.loads(frame)["data"])
            count += 1
        return count, time.perf_counter() - start, time.process_time() - cpu0


def streamkit(info: dict[str, Any], seconds: float) -> tuple[int, float, float]:
    client = sk.mist(url=info["url"], token=info["token"])
    counter = {"n": 0}
    arrived = threading.Event()

    def on_record(record: Any) -> None:
        counter["n"] += 1
        arrived.set()

    subscription = client.subscribe(info["channels"]["device_stats"]).subscribe(on_record)
    arrived.wait(10)
    time.sleep(WARMUP)
    n0, cpu0, start = counter["n"], time.process_time(), time.perf_counter()
    time.sleep(seconds)
    count, elapsed, cpu = counter["n"] - n0, time.perf_counter() - start, time.process_time() - cpu0
    subscription.dispose()
    client.close()
    return count, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--aps", type=int, default=50)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "decode": [], "streamkit": []}
    for n in range(1, args.rounds + 1):
        for name in results:
            with flat_out_simulator(args.aps) as info:
                if name == "streamkit":
                    count, elapsed, cpu = streamkit(info, args.seconds)
                else:
                    count, elapsed, cpu = asyncio.run(plain(info, args.seconds, decode=name == "decode"))
            rate, cpu_us = count / elapsed, cpu / count * 1e6
            results[name].append((rate, cpu_us))
            print(f"round {n} {name:9}: {rate:9,.0f} msg/s   client CPU {cpu_us:5.1f} us/msg")
    plain_rate = statistics.median(r for r, _ in results["plain"])
    sk_rate = statistics.median(r for r, _ in results["streamkit"])
    plain_cpu = statistics.median(c for _, c in results["plain"])
    decode_cpu = statistics.median(c for _, c in results["decode"])
    sk_cpu = statistics.median(c for _, c in results["streamkit"])
    ratio = sk_rate / plain_rate
    print(
        f"median plain {plain_rate:,.0f} msg/s, streamkit {sk_rate:,.0f} msg/s: ratio {ratio:.2f} "
        f"(target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})"
    )
    print(
        f"CPU per message: plain {plain_cpu:.1f} us, plain + JSON decode {decode_cpu:.1f} us, streamkit {sk_cpu:.1f} us"
    )
    print(
        f"capacity on one core: plain ~{1e6 / plain_cpu:,.0f} msg/s, streamkit ~{1e6 / sk_cpu:,.0f} msg/s "
        f"(CPU ratio {plain_cpu / sk_cpu:.2f}; against plain + decode {decode_cpu / sk_cpu:.2f})"
    )


if __name__ == "__main__":
    main()
