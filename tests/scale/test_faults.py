"""A sharded subscription on a LocalCluster of 2 worker processes against a Mist simulator in its own process
(200 sites, 4 shards), while the worker holding a shard is SIGKILLed.

CI runs a bounded version (one kill, the supervisor resubmits the shard at once: ``allowed-failures`` 0); the full
version kills three times with ``allowed-failures`` 1, so Dask reschedules the first loss itself and the supervisor
takes the next: ``STREAMKIT_CLUSTER_KILLS=3 pytest -m slow tests/scale``.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import dask
import distributed  # noqa: F401 - its config defaults load before dask.config.set (which undoes what it added)
import pytest

import streamkit as sk
from streamkit import ops
from streamkit.scale import with_origin

from .simproc import SimProcess

KILLS = int(os.environ.get("STREAMKIT_CLUSTER_KILLS", "1"))
SITES, SHARDS, WINDOW = 200, 4, 2.0
STEADY = {"restart_rate": 0.0, "disconnect_rate": 0.0}  # every site's AP reports every tick


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.mark.slow
@pytest.mark.timeout(60 + 40 * KILLS)
def test_killed_workers_cost_a_reported_gap_and_nothing_else():
    failures = 0 if KILLS == 1 else 1
    with (
        SimProcess(window=WINDOW, sites=SITES, aps=1, switches=0, gateways=0, clients=0, interval=1.0, **STEADY) as sim,
        dask.config.set({"distributed.scheduler.allowed-failures": failures}),
        sk.cluster(workers=2) as cluster,
    ):
        stats = cluster.subscribe(
            sk.mist(url=sim.url, token=sim.token),
            sim.channels,
            shards=SHARDS,
            pipe=[with_origin("site_id", segment=2)],
            windows=ops.event_windows("_time", size=WINDOW, allowed_lateness=0.5),
            aggregate={"n": ("mac", "size")},
            by="site_id",
        )
        frames, gaps = [], []
        stats.gap_events.subscribe(gaps.append)
        subscription = stats.subscribe(frames.append)

        def windows() -> dict[float, Counter[str]]:
            out: dict[float, Counter[str]] = {}
            for frame in list(frames):
                start = frame["window_start"].iloc[0].timestamp()
                out.setdefault(start, Counter()).update(dict(zip(frame["site_id"], frame["n"], strict=True)))
            return out

        def every_site_since(t: float, times: int = 1) -> bool:
            return sum(start >= t and len(counts) == SITES for start, counts in windows().items()) >= times

        wait_for(lambda: every_site_since(0), 40, "a window with every site")
        kills = []
        for k in range(KILLS):
            worker = stats.health()["shards"][0]["worker"]  # the worker holding shard 0 now
            lost = [row["shard"] for row in stats.health()["shards"] if row["worker"] == worker]
            pid = cluster.dask.run(os.getpid, workers=[worker])[worker]
            before = len([g for g in gaps if g.cause == "shard lost"])
            at = time.time()
            os.kill(pid, signal.SIGKILL)
            kills.append((at, lost))
            new = wait_for(
                lambda b=before + len(lost): len([g for g in gaps if g.cause == "shard lost"]) >= b and gaps,  # noqa: B008
                20,
                f"gaps for the {len(lost)} shards of kill {k + 1}",
            )
            assert {g.shard for g in new[before:] if g.cause == "shard lost"} == set(lost)
            recovered = max(g.end for g in gaps)
            assert recovered - at < 10, "the channels of the lost shards report again within seconds"
            wait_for(lambda r=recovered: every_site_since(r), 20, f"every site reporting again after kill {k + 1}")
        # two whole windows after the last recovery, whatever the load, to compare with what the simulator sent
        wait_for(lambda: every_site_since(max(g.end for g in gaps) + WINDOW, times=2), 30, "two windows after recovery")

        health = cluster.health()
        subscription.dispose()
        sent = sim.stats()
        shard_losses = [g for g in gaps if g.cause == "shard lost"]
        assert len(shard_losses) == sum(len(lost) for _, lost in kills)  # one gap per shard lost, no more
        assert health["restarts"] == len(shard_losses)
        assert sent["most_peers_per_channel"] == 1  # never one shard's channels subscribed twice at once

        # per-window counts equal what the simulator sent, for every window clear of the losses
        got = windows()
        last_recovery = max(g.end for g in shard_losses)
        first_kill = kills[0][0]
        compared = 0
        for start, counts in got.items():
            before_any = start + WINDOW < first_kill - 1.0
            after_all = start > last_recovery
            if not (before_any or after_all):
                continue
            expected = {site: n for (site, s), n in sent["sent"].items() if s == start}
            if len(expected) < SITES or len(counts) < SITES:
                continue  # the subscription started or stopped inside this window
            assert dict(counts) == expected, f"window {start}"
            compared += 1
        assert compared >= 2
        # and around the losses nothing is silently lost or counted twice: a site whose window is short belongs to
        # a shard with a reported gap that overlaps the window (shard i holds channels[i::SHARDS])
        shard_of = {channel.split("/")[2]: i % SHARDS for i, channel in enumerate(sim.channels)}

        def covered(site: str, start: float) -> bool:
            return any(g.shard == shard_of[site] and g.start < start + WINDOW and g.end > start for g in shard_losses)

        short = []
        for start, counts in got.items():
            for site, n in counts.items():
                assert n <= sent["sent"].get((site, start), 0), f"window {start} site {site}: more counted than sent"
        for (site, start), expected_n in sent["sent"].items():  # (a site may be missing from a window altogether)
            if (
                first_kill - 2 * WINDOW < start < last_recovery + WINDOW
                and got.get(start, {}).get(site, 0) < expected_n
            ):
                short.append((start, site))
        assert all(covered(site, start) for start, site in short), f"lost outside every gap: {short} {gaps}"
        sub = health["subscriptions"][0]
        assert sub["duplicates"] == 0 and sub["missing_batches"] == 0 and sub["dropped"] == 0
        if KILLS > 1:
            assert sub["resubmissions"] >= 1  # the supervisor took over beyond allowed-failures

        # credentials never in task keys, task reprs, logs or reprs
        tasks = cluster.dask.run_on_scheduler(
            lambda dask_scheduler: [f"{key} {ts.run_spec!r} {ts!r}" for key, ts in dask_scheduler.tasks.items()]
        )
        logs = str(cluster.dask.get_worker_logs()) + str(cluster.dask.get_scheduler_logs())
        shown = " ".join([*tasks, logs, repr(cluster), repr(stats), str(health), str(gaps)])
        assert tasks and sim.token not in shown

        cluster.close()
        assert sim.stats()["connections"] == 0  # close() left no connection open


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_shards_archive_their_records_where_the_kernel_gets_only_window_counts(tmp_path):
    with (
        SimProcess(sites=8, aps=1, switches=0, gateways=0, clients=0, interval=0.2, **STEADY) as sim,
        sk.cluster(workers=2) as cluster,
    ):
        stats = cluster.subscribe(
            sk.mist(url=sim.url, token=sim.token),
            sim.channels,
            shards=2,
            pipe=[ops.flatten(), with_origin("site_id", segment=2)],
            windows=ops.tumbling(1.0),
            aggregate={"n": ("mac", "size")},
            by="site_id",
            archive=tmp_path / "devices",
            archive_by="site_id",
        )
        frames: list = []
        subscription = stats.subscribe(frames.append)
        wait_for(lambda: sum(int(f["n"].sum()) for f in frames) >= 40, 40, "40 records counted in windows")
        subscription.dispose()  # the shards stop and flush what they hold
        folder = tmp_path / "devices"
        wait_for(lambda: folder.exists() and any(folder.rglob("*.parquet")), 20, "archive files")
        counted = sum(int(f["n"].sum()) for f in frames)
    archived = sk.archive.read(folder)
    assert set(archived["site_id"]) == {c.split("/")[2] for c in sim.channels}  # both shards' sites
    assert len(archived) >= counted  # every record counted in a window is in the archive (and more, after)
    assert any("." in column for column in archived.columns)  # archived after pipe=: flattened
    assert sim.token not in "".join(p.name for p in folder.rglob("*"))
