"""Replay at max speed into a plain observer. Target: >= 100,000 msg/s.

A recording is made first: the Mist simulator flat out (own process) into ``sk.record`` for ``--seconds``.
Baseline, same process: decoding the same frames' JSON alone (the outer frame and its ``data`` string, as the
adapter must), the floor under any replay of them.

    python bench/replay_rate.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from sim_rate import flat_out_simulator

import streamkit as sk

TARGET = 100_000


def make_recording(path: Path, seconds: float) -> int:
    with flat_out_simulator(50) as info:
        client = sk.mist(url=info["url"], token=info["token"])
        recorder = sk.record(client, path)
        client.subscribe(info["channels"]["device_stats"]).subscribe(lambda _: None)
        time.sleep(seconds)
        client.close()
        recorder.close()
    return recorder.frames


def replay_once(path: Path, channel: str) -> tuple[int, float, float]:
    """Records replayed, seconds, CPU seconds (this process: the loop and the reading thread)."""
    count = 0
    done = threading.Event()

    def on_next(_: Any) -> None:
        nonlocal count
        count += 1

    rec = sk.replay(path, speed=None)
    started, cpu = time.perf_counter(), time.process_time()
    rec.subscribe(channel).subscribe(on_next, on_completed=done.set)
    done.wait(600)
    elapsed = time.perf_counter() - started - 0.1  # the replay's fixed 0.1 s start delay is not replay work
    return count, elapsed, time.process_time() - cpu


def decode_only(path: Path) -> float:
    """Frames per second for the JSON decoding alone (read into memory first; one thread, so also CPU)."""
    from streamkit._json import loads

    _, entries = sk.recording.read_recording(path)
    frames = [e.frame for e in entries if e.direction == "in"]
    started = time.perf_counter()
    for frame in frames:
        data = loads(frame).get("data")
        if isinstance(data, str):
            loads(data)
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flat-out.jsonl.gz"
        frames = make_recording(path, args.seconds)
        _, entries = sk.recording.read_recording(path)
        channel = next(e.topic for e in entries if e.direction == "in" and e.topic)
        print(f"recorded {frames:,} frames ({path.stat().st_size / 1e6:.1f} MB gzip) in {args.seconds:g} s")
        rates, floors = [], []
        for n in range(1, args.rounds + 1):
            count, elapsed, cpu = replay_once(path, channel)
            rates.append(count / elapsed)
            floors.append(decode_only(path))
            print(
                f"round {n}: {count:,} records in {elapsed:.2f} s = {rates[-1]:,.0f} msg/s, "
                f"{cpu / count * 1e6:.1f} us CPU/msg; JSON decode alone {floors[-1]:,.0f}/s, "
                f"{1e6 / floors[-1]:.1f} us/msg (ratio {rates[-1] / floors[-1]:.2f})"
            )
    rate = statistics.median(rates)
    print(f"median {rate:,.0f} msg/s (target >= {TARGET:,}: {'met' if rate >= TARGET else 'NOT met'}); ", end="")
    print(
        f"median ratio to JSON decode alone {statistics.median(r / f for r, f in zip(rates, floors, strict=True)):.2f}"
    )


if __name__ == "__main__":
    main()
