"""The kernel's side of a sharded subscription without a cluster: shard partials merged into the frames the
single-process pipeline gives, deduplication by incarnation and sequence, gaps, and credentials that never show."""

from __future__ import annotations

import math
import os
import pickle
import random
import subprocess
import sys

import pandas as pd
import pytest
import reactivex

import streamkit as sk
from streamkit import ops
from streamkit.connection import Secret
from streamkit.core import Message
from streamkit.errors import StreamkitError
from streamkit.scale import FanIn, aggregation
from streamkit.scale._shard import DATA, HELLO, _Outbox
from streamkit.scale._spec import ShardSpec

TOKEN = "sim-secret-token-0123456789abcdef"
NAMED = {
    "n": ("cpu", "count"),
    "size": ("cpu", "size"),
    "total": ("bytes", "sum"),
    "cpu": ("cpu", "mean"),
    "low": ("cpu", "min"),
    "high": ("cpu", "max"),
    "first": ("cpu", "first"),
    "last": ("cpu", "last"),
    "macs": ("mac", "nunique"),
}


def records(count: int, *, sites: int = 6, seed: int = 3) -> list[Message]:
    """Messages in arrival order over ~20 s: ints, floats, missing values and NaN, several sites."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        site = f"s{rng.randrange(sites)}"
        t = 1_700_000_000 + i * 20 / count
        cpu = rng.choice([None, math.nan, rng.random() * 100, rng.randrange(100)])
        payload = {"site": site, "mac": f"m{rng.randrange(30)}", "cpu": cpu, "bytes": rng.randrange(10**6), "_time": t}
        out.append(Message(payload, f"/sites/{site}/stats/devices", t))
    return out


def single_process(items: list[Message], windows: ops.event_windows) -> list[pd.DataFrame]:
    return sk.collect(reactivex.from_iterable(items).pipe(windows, ops.aggregate(by="site", **NAMED)), timeout=10)


def sharded(items: list[Message], windows_factory, shards: int) -> list[pd.DataFrame]:
    """Each shard windows and pre-aggregates its channels' records; the partials go through pickling and FanIn."""
    agg = aggregation("site", **NAMED)
    fanin = FanIn(shards, aggregation=agg, grace=1e9)
    outboxes = []
    for shard in range(shards):
        spec = ShardSpec(run="r", shard=shard, shards=shards, client=None, channels=(), channels_per_connection=None,
                         windows=True, aggregate=agg)  # fmt: skip
        outbox = _Outbox(spec)
        mine = [m for m in items if int(m["site"][1:]) % shards == shard]  # channels split across shards
        for window in sk.collect(reactivex.from_iterable(mine).pipe(windows_factory()), timeout=10):
            outbox.window(window)
        outboxes.append(outbox)
    out: list[pd.DataFrame] = []
    for shard, outbox in enumerate(outboxes):
        out += fanin.receive(event(shard, 1, 0, HELLO), 0.0)[0]
        out += fanin.receive(event(shard, 1, 1, DATA, outbox.take(), progress=outbox.progress), 0.0)[0]
    return out + fanin.flush()


def event(shard, inc, seq, kind, data=None, *, progress=None, first_data=None, at=0.0, gaps=()):
    out = {"shard": shard, "inc": inc, "seq": seq, "kind": kind, "worker": f"w{inc}", "at": at, "started": 0.0,
           "messages": seq, "cpu": 0.0, "process_cpu": 0.0, "first_data": first_data, "dropped": 0, "sent": 0,
           "progress": progress, "connections": 1, "gaps": list(gaps)}  # fmt: skip
    if data is not None:
        out["data"] = pickle.dumps(data)
    return out


def by_window(frames: list[pd.DataFrame]) -> dict[object, pd.DataFrame]:
    return {frame["window_start"].iloc[0]: frame.reset_index(drop=True) for frame in frames if len(frame)}


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_sharded_partials_merge_into_the_single_process_frames(shards):
    items = records(3000)
    expected = by_window(single_process(items, ops.event_windows("_time", size=5)))
    got = by_window(sharded(items, lambda: ops.event_windows("_time", size=5), shards))
    assert len(expected) >= 4
    assert expected.keys() == got.keys()
    for start, frame in expected.items():
        pd.testing.assert_frame_equal(got[start], frame, check_dtype=False)
        assert got[start]["size"].sum() == sum(
            1 for m in items if start.timestamp() <= m["_time"] < start.timestamp() + 5
        )


def test_means_and_float_sums_are_exact_whatever_the_split():
    """A mean is math.fsum(values) / n however the values are split over shards (exact partial sums)."""
    values = [0.1] * 10 + [1e16, 1.0, -1e16] + [0.3, 0.7]
    agg = aggregation(None, m=("v", "mean"), s=("v", "sum"))
    parts = [values[:4], values[4:11], values[11:]]
    merged: dict = {}
    for part in parts:
        partial = agg.partial(ops.Window(0, 1, [{"v": v} for v in part]))
        agg.merge(merged, partial.groups)
    frame = agg.frame((0.0, 1.0, None, True), merged)
    assert frame["m"].iloc[0] == math.fsum(values) / len(values)
    assert frame["s"].iloc[0] == math.fsum(values)


def test_only_mergeable_reductions_are_accepted_with_a_clear_message():
    with pytest.raises(ValueError, match="pre-aggregate only size, count, sum, mean"):
        aggregation("site", p50=("cpu", "median"))
    with pytest.raises(ValueError, match="name at least one aggregate"):
        aggregation("site")


def test_a_missing_column_fails_the_shard_as_aggregate_would():
    with pytest.raises(KeyError, match="flatten"):
        aggregation("site", n=("cpu_util", "count")).partial(ops.Window(0, 1, [{"site": "a"}]))


def test_duplicates_and_a_zombie_incarnation_are_dropped_and_counted():
    fanin = FanIn(1)
    row = [({"n": 1}, "/a", 1.0)]
    assert len(fanin.receive(event(0, 10, 0, DATA, row), 1.0)[0]) == 1
    assert fanin.receive(event(0, 10, 0, DATA, row), 1.1)[0] == []  # the same batch again
    assert fanin.duplicates == 1
    fanin.receive(event(0, 20, 0, HELLO, at=5.0), 5.0)  # a successor
    assert fanin.receive(event(0, 10, 1, DATA, row), 5.1)[0] == []  # the predecessor, still talking
    assert fanin.stale == 1
    fanin.receive(event(0, 20, 3, DATA, row), 5.2)  # batches 1 and 2 never came: counted, not silent
    assert fanin.missing == 2


def test_a_successor_reports_one_gap_from_its_predecessors_last_batch_to_its_first_data():
    fanin = FanIn(2)
    fanin.receive(event(0, 10, 0, HELLO, at=0.0), 0.0)
    fanin.receive(event(0, 10, 1, DATA, [({"n": 1}, "/a", 1.0)], at=1.0, first_data=0.5), 1.0)
    assert fanin.receive(event(0, 20, 0, HELLO, at=2.0), 2.0)[1] == []  # no data yet: the gap is still open
    _, gaps = fanin.receive(event(0, 20, 1, DATA, [], at=2.5, first_data=2.4), 2.5)
    assert [(g.shard, g.start, g.end, g.cause, g.worker) for g in gaps] == [(0, 1.0, 2.4, "shard lost", "w10")]
    _, again = fanin.receive(event(0, 20, 2, DATA, [], at=3.0, first_data=2.4), 3.0)
    assert again == []  # one gap per loss
    _, dropped = fanin.receive(event(1, 5, 0, DATA, [], gaps=[[3.0, 3.5, 1]]), 4.0)
    assert [(g.shard, g.cause, g.connection) for g in dropped] == [(1, "connection", 1)]
    rows = fanin.rows(4.0)
    assert [r["restarts"] for r in rows] == [1, 0] and [r["gaps"] for r in rows] == [1, 1]


def test_a_lost_windowed_shards_gap_starts_where_its_sent_windows_end():
    """A shard that dies holding open windows (or one it closed but had not sent yet) takes their records with it,
    however long ago they came: its gap starts at the end of the last window it sent, not at its last batch, so a
    window short of its records overlaps the gap."""
    agg = aggregation(None, n=("v", "size"))
    part = [((0.0, 10.0, None, False), {(): [1]})]
    fanin = FanIn(1, aggregation=agg)
    fanin.receive(event(0, 10, 0, DATA, part, progress=10.0, at=10.6, first_data=0.5), 10.6)
    fanin.receive(event(0, 10, 1, DATA, [], progress=10.0, at=22.9, first_data=0.5), 22.9)  # [10, 20) not sent
    fanin.receive(event(0, 20, 0, HELLO, at=23.5), 23.5)
    _, gaps = fanin.receive(event(0, 20, 1, DATA, [], at=24.0, first_data=23.8), 24.0)
    assert [(g.start, g.end) for g in gaps] == [(10.0, 23.8)]  # [10, 20) overlaps it; the last batch was at 22.9

    never = FanIn(1, aggregation=agg)  # no window sent at all: lost from its first record on
    never.receive(event(0, 10, 0, DATA, [], at=5.0, first_data=0.5), 5.0)
    never.receive(event(0, 20, 0, HELLO, at=6.0), 6.0)
    assert [(g.start, g.end) for g in never.receive(event(0, 20, 1, DATA, [], at=7.0, first_data=6.5), 7.0)[1]] == [
        (0.5, 6.5)
    ]

    records = FanIn(1)  # records, not windows: what was sent is in, the loss starts after the last batch
    records.receive(event(0, 10, 0, DATA, [({"n": 1}, "/a", 1.0)], at=5.0, first_data=0.5), 5.0)
    records.receive(event(0, 20, 0, HELLO, at=6.0), 6.0)
    assert [g.start for g in records.receive(event(0, 20, 1, DATA, [], at=7.0, first_data=6.5), 7.0)[1]] == [5.0]


def test_a_lost_count_window_shard_and_a_shard_lost_twice_report_sound_gaps():
    agg = aggregation(None, n=("v", "size"))
    counted = [((0, 100, None, True), {(): [100]})]  # a count window: its end is a position, not a time
    fanin = FanIn(1, aggregation=agg)
    fanin.receive(event(0, 10, 0, DATA, [], at=1000.0, first_data=999.0), 1000.0)
    fanin.receive(event(0, 10, 1, DATA, counted, progress=100, at=1000.5, first_data=999.0), 1000.5)
    fanin.receive(event(0, 10, 2, DATA, [], progress=100, at=1001.0, first_data=999.0), 1001.0)
    fanin.receive(event(0, 20, 0, HELLO, at=1002.0), 1002.0)
    _, gaps = fanin.receive(event(0, 20, 1, DATA, [], at=1003.0, first_data=1002.5), 1003.0)
    assert [(g.start, g.end) for g in gaps] == [(1000.0, 1002.5)]  # the window closed after the batch at 1000

    twice = FanIn(1)  # the successor is lost too before any data: one gap from the first loss on
    twice.receive(event(0, 10, 0, DATA, [({"n": 1}, "/a", 1.0)], at=5.0, first_data=0.5), 5.0)
    twice.receive(event(0, 20, 0, HELLO, at=6.0), 6.0)
    twice.receive(event(0, 30, 0, HELLO, at=8.0), 8.0)
    _, gaps = twice.receive(event(0, 30, 1, DATA, [], at=9.0, first_data=8.5), 9.0)
    assert [(g.start, g.end) for g in gaps] == [(5.0, 8.5)]


def test_a_window_waits_for_live_shards_then_for_its_grace_only():
    agg = aggregation(None, n=("v", "size"))
    fanin = FanIn(2, aggregation=agg, grace=3.0, silence=100.0)
    part = [((0.0, 10.0, None, False), {(): [1]})]
    fanin.receive(event(1, 1, 0, HELLO), 0.0)
    assert fanin.receive(event(0, 1, 0, DATA, part, progress=10.0), 10.0)[0] == []  # shard 1 has not got there
    assert fanin.tick(12.0) == []
    assert len(fanin.tick(13.0)) == 1  # grace over: emitted with what came
    late = fanin.receive(event(1, 1, 1, DATA, part, progress=10.0), 13.5)[0]
    assert late[0]["n"].tolist() == [2] and fanin.revised == 1  # a late partial re-emits the window, merged


def test_the_outbox_is_bounded_and_counts_what_it_dropped():
    spec = ShardSpec(run="r", shard=0, shards=1, client=None, channels=(), channels_per_connection=None,
                     batch_size=10, max_pending=25)  # fmt: skip
    outbox = _Outbox(spec)
    for i in range(40):
        outbox.record(Message({"i": i}, "/a", float(i)))
    assert outbox.dropped == 15
    assert [len(outbox.take()) for _ in range(4)] == [10, 10, 5, 0]


def test_latest_sends_one_record_per_key_per_flush():
    spec = ShardSpec(run="r", shard=0, shards=1, client=None, channels=(), channels_per_connection=None, latest="mac")
    outbox = _Outbox(spec)
    for i in range(30):
        outbox.record(Message({"mac": f"m{i % 3}", "i": i}, "/a", float(i)))
    assert sorted((p["mac"], p["i"]) for p, _, _ in outbox.take()) == [("m0", 27), ("m1", 28), ("m2", 29)]


def test_credentials_never_show_in_the_description_of_a_client():
    mist = sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token=TOKEN)
    spec = mist.spec()
    shard = ShardSpec(run="r", shard=0, shards=1, client=spec, channels=("/a",), channels_per_connection=None)
    for thing in (spec, shard, spec.secret):
        assert TOKEN not in repr(thing) and TOKEN not in str(thing) and TOKEN not in f"{thing}"
    assert spec.secret.reveal()["headers"]["Authorization"] == f"Token {TOKEN}"
    assert pickle.loads(pickle.dumps(spec.secret)) == spec.secret  # travels to the worker intact
    from dask.base import tokenize

    assert TOKEN not in tokenize(spec.secret)
    mist.close()


def test_an_smc_client_travels_with_its_credentials_sealed_and_builds_again():
    with sk.smc(url="http://127.0.0.1:9", api_key=TOKEN, api_version="7.2", domain="Lab", verify=False) as smc:
        spec = smc.spec()
    assert TOKEN not in repr(spec) and TOKEN.encode() in pickle.dumps(spec)
    again = pickle.loads(pickle.dumps(spec)).build(channels_per_connection=3)
    try:
        assert type(again).__name__ == "SmcClient" and again.url == "http://127.0.0.1:9"
        assert (again._api_version, again._domain, again._verify) == ("7.2", "Lab", False)
        assert again._credentials["api_key"] == TOKEN and again.channels_per_connection == 3
        assert spec.secret.scrub(f"login with {TOKEN} refused") == "login with <redacted> refused"
    finally:
        again.close()


def test_what_cannot_travel_to_a_worker_is_refused_with_what_to_do():
    import ssl

    with pytest.raises(StreamkitError, match="SSLContext does not travel"):
        sk.mist(url="wss://127.0.0.1:9/x", token=TOKEN, ssl=ssl.create_default_context()).spec()
    with pytest.raises(StreamkitError, match="SSLContext does not travel"):
        sk.smc(url="https://127.0.0.1:9", api_key=TOKEN, ssl=ssl.create_default_context()).spec()
    assert repr(Secret({"headers": {"Cookie": TOKEN}})) == "Secret(<redacted>)"


def test_importing_streamkit_and_its_scale_package_does_not_import_dask():
    code = (
        "import sys, streamkit as sk, streamkit.scale\n"
        "assert callable(sk.cluster) and sk.cluster is streamkit.scale.cluster\n"
        "print(sorted({'distributed', 'dask'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_cluster_is_listed_by_views_and_stopped_by_close_all():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local:
        dask = distributed.Client(local, set_as_default=False)
        try:
            cluster = sk.cluster(dask)
            listed = [e for e in sk.views() if e.object is cluster]
            assert [(e.kind, e.role, e.state) for e in listed] == [("Cluster", "cluster", "running")]
            stopped = sk.close_all()
            assert any(e.object is cluster for e in stopped) and cluster._closed
            assert not any(e.object is cluster for e in sk.views())
        finally:
            dask.close()


def test_a_cluster_of_worker_threads_starts_and_closes_with_everything_it_started():
    pytest.importorskip("distributed")
    cluster = sk.cluster(workers=1, processes=False)
    try:
        pids = cluster.dask.run(os.getpid)  # where each worker runs: this very process
        assert list(pids.values()) == [os.getpid()]
    finally:
        cluster.close()
    assert cluster._closed and cluster.dask.status == "closed"
