"""Per-record cost of streamkit operators against a plain-Python loop doing the same work, on 1M records.

Records are simulated Mist device stats (AP, switch, gateway) and client stats, each device and client
reporting once per simulated second (event time), as the simulator's default cadence.
Measured, each as streamkit (the records pushed into a stream as a client's subscription pushes them, through the
operators) and as a hand-written loop:
  flatten            nested dicts to flat rows
  window+aggregate   1-minute tumbling event-time windows, mean cpu_util and count per device (a DataFrame each)
  join               client stats with the device stats of their AP (ap_mac = mac) within 1 s of event time
Each case runs streamkit and the loop in turn for ``--rounds`` interleaved rounds; figures are medians of CPU time
(this process's user + system) per record. Targets: flatten within 2x of the loop, window+aggregate and join
within 1.5x.

    python bench/ops_rate.py [--records 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import pandas as pd
from reactivex.disposable import Disposable

from streamkit import ops
from streamkit.core import Stream
from streamkit.sim.mist_world import MistWorld

TARGETS = {"flatten": 2.0, "window+aggregate": 1.5, "join": 1.5}


def simulated(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``n`` device-stats records and about ``n // 4`` client-stats records, one report per device and client per
    simulated second."""
    world = MistWorld(seed=1, sites=1, aps=20, clients=40)
    site = world.sites[0]
    channels = world.channels(site)
    pool_devices: list[dict[str, Any]] = []
    pool_clients: list[dict[str, Any]] = []
    step = 0
    while len(pool_devices) < 20_000:
        for channel, payload in world.tick(
            1_700_000_000.0 + step, {channels["device_stats"], channels["client_stats"]}
        ):
            (pool_devices if channel == channels["device_stats"] else pool_clients).append(payload)
        step += 1
    per_second_devices = len(pool_devices) / step
    per_second_clients = len(pool_clients) / step
    devices = [{**pool_devices[i % len(pool_devices)], "_time": i / per_second_devices} for i in range(n)]
    clients = [{**pool_clients[i % len(pool_clients)], "_time": i / per_second_clients} for i in range(n // 4)]
    return devices, clients


# -- hand-written loops -----------------------------------------------------------------------------------


def loop_flatten(records: list[dict[str, Any]]) -> int:
    def walk(d: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and v:
                walk(v, prefix + k + ".", out)
            else:
                out[prefix + k] = v

    n = 0
    for record in records:
        row: dict[str, Any] = {}
        walk(record, "", row)
        n += len(row)
    return n


def loop_window_aggregate(records: list[dict[str, Any]]) -> int:
    frames = 0
    current: float | None = None
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for record in records:
        start = record["_time"] // 60 * 60
        if start != current:
            if sums:
                pd.DataFrame([(mac, s / c, c) for mac, (s, c) in sums.items()], columns=["mac", "cpu", "n"])
                frames += 1
            current, sums = start, defaultdict(lambda: [0.0, 0])
        cpu = record.get("cpu_util")
        if cpu is not None:
            acc = sums[record["mac"]]
            acc[0] += cpu
            acc[1] += 1
    if sums:
        frames += 1
    return frames


def joined(client: dict[str, Any], device: dict[str, Any]) -> dict[str, Any]:
    """The record the join gives for a pair, written by hand: the client's fields, then the device's, a field both
    have kept as the client's with the device's value under ``<name>_right`` (the device's ``mac`` is the key).
    A plain ``{**client, **device}`` would be cheaper but would give other records: the device's ``mac`` and
    ``_time`` over the client's."""
    out = dict(client)
    for name, value in device.items():
        if name not in client:
            out[name] = value
        elif name != "mac":
            out[name + "_right"] = value
    return out


def loop_join(clients: list[dict[str, Any]], devices: list[dict[str, Any]], within: float) -> int:
    stream = sorted([(r["_time"], 0, r) for r in devices] + [(r["_time"], 1, r) for r in clients], key=lambda e: e[0])
    by_mac: dict[str, deque[tuple[float, dict[str, Any]]]] = defaultdict(deque)
    pending: dict[str, deque[tuple[float, dict[str, Any]]]] = defaultdict(deque)
    out = 0
    for t, side, record in stream:
        if side == 0:
            mac = record["mac"]
            for ct, client in pending[record["mac"]]:
                if t - ct <= within:
                    out += 1
                    _ = joined(client, record)
            by_mac[mac].append((t, record))
            while by_mac[mac] and by_mac[mac][0][0] < t - within:
                by_mac[mac].popleft()
        else:
            mac = record["ap_mac"]
            for dt, device in by_mac[mac]:
                if t - dt <= within:
                    out += 1
                    _ = joined(record, device)
            pending[mac].append((t, record))
            while pending[mac] and pending[mac][0][0] < t - within:
                pending[mac].popleft()
    return out


# -- streamkit --------------------------------------------------------------------------------------------


class Count:
    """An observer that only counts."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, _: Any) -> None:
        self.n += 1


def drain(records: list[dict[str, Any]], *operators: Any) -> int:
    """Push ``records`` through ``operators`` as a client's subscription would; how many items came out."""
    stream, link = pushed()
    count = Count()
    stream.pipe(*operators).subscribe(count)
    push = link[0].on_next
    for record in records:
        push(record)
    link[0].on_completed()
    return count.n


def pushed() -> tuple[Stream[dict[str, Any]], list[Any]]:
    """A stream fed by hand as a client's subscription is fed (its link's ``on_next``): the list holds the link
    once the stream is observed. (A reactivex Subject would add its lock and observer-list copy per record.)"""
    links: list[Any] = []

    def connect(link: Any) -> Disposable:
        links.append(link)
        return Disposable()

    return Stream(connect), links


def sk_join(clients: list[dict[str, Any]], devices: list[dict[str, Any]], within: float) -> int:
    stream = sorted([(r["_time"], 0, r) for r in devices] + [(r["_time"], 1, r) for r in clients], key=lambda e: e[0])
    (left, left_link), (right, right_link) = pushed(), pushed()
    count = Count()
    left.pipe(ops.join(right, on=("ap_mac", "mac"), within=within, time="_time")).subscribe(count)
    push = (right_link[0].on_next, left_link[0].on_next)
    for _, side, record in stream:  # the same interleaved stream the loop walks
        push[side](record)
    return count.n


def timed(fn: Callable[[], int]) -> float:
    """CPU seconds ``fn`` takes."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    devices, clients = simulated(args.records)
    n = len(devices)
    cases: list[tuple[str, int, Callable[[], int], Callable[[], int]]] = [
        (
            "flatten",
            n,
            lambda: drain(devices, ops.flatten()),
            lambda: loop_flatten(devices),
        ),
        (
            "window+aggregate",
            n,
            lambda: drain(
                devices,
                ops.event_windows("_time", size=60),
                ops.aggregate(by="mac", cpu=("cpu_util", "mean"), n=("mac", "size")),
            ),
            lambda: loop_window_aggregate(devices),
        ),
        ("join", n + len(clients), lambda: sk_join(clients, devices, 1.0), lambda: loop_join(clients, devices, 1.0)),
    ]
    print(f"{n:,} device-stats records ({len(clients):,} client-stats records for the join)")
    print("(CPU per record, medians of interleaved rounds; a shared machine makes single figures noisy)")
    for name, count, streamkit_run, loop_run in cases:
        loops, runs = [], []
        for _ in range(args.rounds):
            loops.append(timed(loop_run))
            runs.append(timed(streamkit_run))
        loop_s, sk_s = statistics.median(loops), statistics.median(runs)
        ratio = statistics.median(r / loop for r, loop in zip(runs, loops, strict=True))
        target = TARGETS[name]
        print(
            f"{name:17} streamkit {sk_s / count * 1e6:6.2f} us/record ({count / sk_s:9,.0f}/s)   "
            f"loop {loop_s / count * 1e6:6.2f} us/record ({count / loop_s:9,.0f}/s)   ratio {ratio:.2f} "
            f"(target <= {target:g}: {'met' if ratio <= target else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
