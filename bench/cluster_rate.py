"""Sharding on Dask against the single-process pipeline, in one run, fed faster than any of them.

  single      ``sk.mist(...)`` in this process: every channel, flatten, 1 s windows counted per site (ops.aggregate)
  cluster-1   the same work sharded (4 shards) on a LocalCluster of 1 worker process, partials merged here
  cluster-2   the same on 2 worker processes
  fan-in      64 shards flushing 4 times a second (fed by the simulator, paced): the delay from a shard's log_event
              to its batch in the kernel

The source is the flat-out sender (``bench/flat_sender.py``: pre-built frames, ``sendall``, every connection
saturated), so each contender runs as fast as it can; ``--sender sim`` uses the Mist simulator instead (paced:
every contender gets what it sends). It prints records/s, CPU per message (this process for the single pipeline;
each shard's pipeline, and each worker process divided by the messages of its shards), their ratio, fan-in latency
p50/p99, and this process's RSS over the run. ``--soak MINUTES`` runs one sharded subscription that long and prints
the kernel's RSS every 30 s. No assertions: figures. On a 2-core machine the sender competes with the workers.

    python bench/cluster_rate.py [--seconds 8] [--sites 64] [--sender flat|sim] [--soak 10]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reactivex

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamkit as sk
from streamkit import ops
from streamkit.scale import with_origin
from tests.scale.simproc import SimProcess

sys.path.insert(0, str(Path(__file__).parent))
from flat_sender import flat_out_sender


@dataclass
class Source:
    url: str
    token: str
    channels: list[str]


@contextlib.contextmanager
def source(kind: str, sites: int) -> Iterator[Source]:
    """The flat-out sender (a channel per site, all flowing) or the Mist simulator in its own process."""
    if kind == "flat":
        with flat_out_sender() as info:
            yield Source(info["url"], info["token"], [f"/sites/site-{i:04d}/stats/devices" for i in range(sites)])
    else:
        with SimProcess(sites=sites, aps=8, switches=0, gateways=0, clients=0, interval=0.1) as sim:
            yield Source(sim.url, sim.token, list(sim.channels))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def single(sim: Source, seconds: float) -> dict[str, Any]:
    counted = [0]
    with sk.mist(url=sim.url, token=sim.token) as mist:
        merged = sk.core.Stream.of(reactivex.merge(*(mist.subscribe(c) for c in sim.channels)))
        frames = merged.pipe(
            ops.flatten(),
            with_origin("site_id", segment=2),
            ops.tumbling(1.0),
            ops.aggregate(by="site_id", n=("mac", "size")),
        )
        sub = frames.subscribe(lambda frame: counted.__setitem__(0, counted[0] + int(frame["n"].sum())))
        time.sleep(1.0)
        n0, t0, cpu0 = mist.stats.messages, time.monotonic(), time.process_time()
        time.sleep(seconds)
        n1, t1, cpu1 = mist.stats.messages, time.monotonic(), time.process_time()
        sub.dispose()
    return {"rate": (n1 - n0) / (t1 - t0), "cpu_us_per_msg": 1e6 * (cpu1 - cpu0) / max(n1 - n0, 1)}


def sharded(sim: Source, seconds: float, workers: int, shards: int) -> dict[str, Any]:
    with sk.cluster(workers=workers) as cluster:
        stats = cluster.subscribe(
            sk.mist(url=sim.url, token=sim.token),
            sim.channels,
            shards=shards,
            pipe=[ops.flatten(), with_origin("site_id", segment=2)],
            windows=ops.tumbling(1.0),
            aggregate={"n": ("mac", "size")},
            by="site_id",
        )
        sub = stats.subscribe(lambda frame: None)
        time.sleep(2.0)
        run = stats._last
        assert run is not None
        n0 = sum(s.total_messages for s in run.fanin.states)
        t0 = time.monotonic()
        time.sleep(seconds)
        n1 = sum(s.total_messages for s in run.fanin.states)
        t1 = time.monotonic()
        rows = [s for s in run.fanin.states if s.messages]
        cpu = statistics.median(1e6 * s.cpu / s.messages for s in rows)
        per_worker: dict[str, tuple[float, int]] = {}  # worker -> (its process CPU, its shards' messages)
        for s in rows:
            process, messages = per_worker.get(s.worker, (0.0, 0))
            per_worker[s.worker] = (max(process, s.process_cpu), messages + s.messages)
        proc = statistics.median(1e6 * process / messages for process, messages in per_worker.values())
        sub.dispose()
    return {"rate": (n1 - n0) / (t1 - t0), "cpu_us_per_msg": cpu, "worker_cpu_us_per_msg": proc}


def fan_in(sim: Source, seconds: float, shards: int) -> dict[str, Any]:
    delays: list[float] = []
    with sk.cluster(workers=2) as cluster:
        stats = cluster.subscribe(
            sk.mist(url=sim.url, token=sim.token), sim.channels, shards=shards, flush_every=0.25, latest="mac"
        )
        sub = stats.subscribe(lambda record: None)
        deadline = time.monotonic() + 30
        while stats._last is None or not all(s.incarnations for s in stats._last.fanin.states):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        run = stats._last
        assert run is not None
        deliver = run._deliver

        def timed(event: dict[str, Any]) -> None:
            delays.append(time.time() - event["at"])
            deliver(event)

        run._deliver = timed  # type: ignore[method-assign]
        time.sleep(seconds)
        sub.dispose()
    delays.sort()
    return {
        "events": len(delays),
        "events_per_s": len(delays) / seconds,
        "p50_ms": 1e3 * delays[len(delays) // 2] if delays else None,
        "p99_ms": 1e3 * delays[int(len(delays) * 0.99)] if delays else None,
    }


def soak(sim: Source, minutes: float) -> None:
    """One sharded subscription for ``minutes``: the kernel's RSS every 30 s."""
    with sk.cluster(workers=2) as cluster:
        stats = cluster.subscribe(
            sk.mist(url=sim.url, token=sim.token),
            sim.channels,
            shards=4,
            pipe=[ops.flatten(), with_origin("site_id", segment=2)],
            windows=ops.tumbling(1.0),
            aggregate={"n": ("mac", "size")},
            by="site_id",
        )
        windows = [0]
        sub = stats.subscribe(lambda frame: windows.__setitem__(0, windows[0] + 1))
        start = time.monotonic()
        samples = []
        while (elapsed := time.monotonic() - start) < minutes * 60:
            time.sleep(min(30.0, minutes * 60 - elapsed))
            samples.append(rss_mb())
            print(f"  {elapsed / 60:5.1f} min  kernel RSS {samples[-1]:6.0f} MB  windows merged {windows[0]:,}")
        sub.dispose()
    first, last = samples[0], samples[-1]
    print(f"kernel RSS: {first:.0f} MB after 30 s, {last:.0f} MB at the end ({last - first:+.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sites", type=int, default=64)
    parser.add_argument("--sender", choices=("flat", "sim"), default="flat")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="only the RSS soak, this long")
    args = parser.parse_args()
    if args.soak:
        with source(args.sender, args.sites) as sim:
            soak(sim, args.soak)
        return
    rss = [rss_mb()]
    with source(args.sender, args.sites) as sim:
        results = {"single": single(sim, args.seconds)}
        rss.append(rss_mb())
        results["cluster-1"] = sharded(sim, args.seconds, workers=1, shards=4)
        rss.append(rss_mb())
        results["cluster-2"] = sharded(sim, args.seconds, workers=2, shards=4)
        rss.append(rss_mb())
    with source("sim", args.sites) as paced:  # latency at a rate the workers keep up with, not flat out
        latency = fan_in(paced, args.seconds, shards=64)
        rss.append(rss_mb())
    print(f"{args.sites} channels from the {args.sender} sender; {args.seconds:g} s per contender")
    base = results["single"]["cpu_us_per_msg"]
    for name, r in results.items():
        extra = f"  CPU {r['cpu_us_per_msg']:.1f} us/msg"
        if "worker_cpu_us_per_msg" in r:
            extra = (
                f"  shard pipeline {r['cpu_us_per_msg']:.1f} us/msg ({r['cpu_us_per_msg'] / base:.2f}x single), "
                f"worker process {r['worker_cpu_us_per_msg']:.1f} us/msg ({r['worker_cpu_us_per_msg'] / base:.2f}x)"
            )
        print(f"  {name:10s} {r['rate']:10,.0f} records/s{extra}")
    print(
        f"  fan-in     64 shards x 4 flushes/s: {latency['events_per_s']:,.0f} events/s, "
        f"p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms"
    )
    print(f"  kernel RSS {' -> '.join(f'{r:.0f}' for r in rss)} MB (start, after each contender)")


if __name__ == "__main__":
    main()
