"""Record a live stream from the simulator, replay it through the same adapter, and damage it on purpose."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest

import streamkit as sk
from streamkit import ops
from streamkit._redact import safe_url
from streamkit.recording import read_recording
from streamkit.sim import MistSimulator, SmcSimulator

from ..connection.test_mist_client import wait_for


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """About 1.5 s of two channels from the simulator, and the rows the live pipeline produced."""
    path = tmp_path_factory.mktemp("rec") / "mist.jsonl.gz"
    with MistSimulator(seed=8, interval=0.05, sites=1, aps=3, clients=4) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        recorder = sk.record(mist, path)
        live: dict[str, list] = {"devices": [], "clients": []}
        mist.subscribe(sim.channel("device_stats")).pipe(ops.flatten()).subscribe(live["devices"].append)
        mist.subscribe(sim.channel("client_stats")).subscribe(live["clients"].append)
        wait_for(lambda: len(live["devices"]) > 50 and len(live["clients"]) > 20)
        mist.close()
        recorder.close()
        yield {
            "path": path,
            "live": live,
            "sim": sim,
            "channels": (sim.channel("device_stats"), sim.channel("client_stats")),
        }


def test_header_and_frames_without_credentials(recording):
    header, entries = read_recording(recording["path"])
    assert header["kind"] == "Mist" and header["format"] == 2 and header["url"].startswith("ws://127.0.0.1:")
    lines = list(entries)
    assert {e.direction for e in lines} == {"in", "out"}
    assert any(e.topic == recording["channels"][0] for e in lines)
    assert all(isinstance(e.at, float) for e in lines)
    with gzip.open(recording["path"], "rt") as f:
        raw = f.read()
    sim = recording["sim"]
    for secret in (sim.token, sim.password, *sim.cookies.values()):
        assert secret not in raw


def test_replay_gives_the_same_rows_as_the_live_pipeline(recording):
    devices_channel, clients_channel = recording["channels"]
    rec = sk.replay(recording["path"], speed=None)
    devices: list = []
    clients: list = []
    done = []
    rec.subscribe(devices_channel).pipe(ops.flatten()).subscribe(devices.append, on_completed=lambda: done.append(1))
    rec.subscribe(clients_channel).subscribe(clients.append, on_completed=lambda: done.append(2))
    wait_for(lambda: len(done) == 2)
    live = recording["live"]
    assert devices[: len(live["devices"])] == live["devices"]
    assert clients[: len(live["clients"])] == live["clients"]
    assert rec.summary.frames > 0 and not rec.summary.skipped and rec.summary.stopped is None
    assert all(r.origin == devices_channel for r in devices)


def test_speed_paces_the_replay(recording):
    _, entries = read_recording(recording["path"])
    times = [e.at for e in entries if e.direction == "in"]
    recorded = times[-1] - times[0]
    started = time.monotonic()
    sk.collect(sk.replay(recording["path"], speed=4).subscribe(recording["channels"][0]), timeout=30)
    elapsed = time.monotonic() - started
    assert recorded / 4 * 0.8 < elapsed < recorded / 4 + 2


def test_corrupt_lines_are_skipped_and_counted(recording, tmp_path):
    with gzip.open(recording["path"], "rt") as f:
        lines = f.read().splitlines(keepends=True)
    lines[5] = "{this is not a frame\n"
    lines[9] = "1.5\tsideways\t-\t\t{}\n"
    damaged = tmp_path / "corrupt.jsonl.gz"
    with gzip.open(damaged, "wt") as f:
        f.writelines(lines)
    rec = sk.replay(damaged, speed=None)
    rows = sk.collect(rec.subscribe(recording["channels"][0]), timeout=10)
    assert rows and rec.summary.skipped == [6, 10]
    assert "2 corrupt lines skipped (first at line 6)" in str(rec.summary)


def test_a_truncated_recording_replays_what_is_intact(recording, tmp_path):
    data = recording["path"].read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    rec = sk.replay(cut, speed=None)
    rows = sk.collect(rec.subscribe(recording["channels"][0]), timeout=10)
    assert 0 < len(rows) < len(recording["live"]["devices"]) + 100
    assert rec.summary.stopped is not None and "breaks after line" in rec.summary.stopped
    assert "interrupted" in str(rec.summary)


def test_not_a_recording_is_a_clear_error(tmp_path):
    bogus = tmp_path / "bogus.jsonl.gz"
    with gzip.open(bogus, "wt") as f:
        f.write(json.dumps({"hello": 1}) + "\n")
    with pytest.raises(ValueError, match="not a streamkit recording"):
        sk.replay(bogus)
    (tmp_path / "plain.jsonl.gz").write_text("not gzip at all")
    with pytest.raises(ValueError, match="not a streamkit recording"):
        sk.replay(tmp_path / "plain.jsonl.gz")


def test_rotation_by_size(tmp_path):
    with MistSimulator(seed=1, interval=0.02, sites=1, aps=2) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        recorder = sk.record(mist, tmp_path / "rot.jsonl.gz", max_bytes=20_000)
        sk.collect(mist.subscribe(sim.channel("device_stats")), count=120, timeout=10)
        mist.close()
        recorder.close()
    assert len(recorder.files) >= 2
    assert recorder.files[1].name == "rot-0001.jsonl.gz"
    for path in recorder.files:
        header, _ = read_recording(path)
        assert header["kind"] == "Mist"


def test_safe_url_drops_user_info_and_query():
    assert safe_url("wss://user:pw@host:8443/stream?token=abc#x") == "wss://host:8443/stream"


def test_record_option_on_the_client_ends_with_close(tmp_path):
    path = tmp_path / "opt.jsonl.gz"
    with MistSimulator(seed=3, interval=0.05, sites=1, aps=2) as sim:
        mist = sk.mist(url=sim.url, token=sim.token, record=path)
        live = sk.collect(mist.subscribe(sim.channel("device_stats")), count=10, timeout=5)
        mist.close()
    assert mist.recorder.frames >= 10 and not mist._taps
    replayed = sk.collect(sk.replay(path, speed=None).subscribe(sim.channel("device_stats")), timeout=10)
    assert replayed[:10] == live


def test_smc_replay_routes_by_the_recorded_subscription(tmp_path):
    """SMC numbers subscriptions per connection: a replay subscribed in another order still gets each its own."""
    path = tmp_path / "smc.jsonl.gz"
    with SmcSimulator(seed=5, interval=0.05, engines=2, clusters=1, tunnels=2) as sim:
        smc = sk.smc(url=sim.url, api_key=sim.api_key, record=path)
        endpoint = sim.hrefs["endpoints"][0]
        nodes: list = []
        tunnel: list = []
        smc.subscribe(context="fw_single").subscribe(nodes.append)
        smc.subscribe(element=endpoint).subscribe(tunnel.append)
        wait_for(lambda: len(nodes) >= 2 and len(tunnel) > 5)
        smc.close()
    rec = sk.replay(path, speed=None)
    replayed_tunnel: list = []
    replayed_nodes: list = []
    done: list = []
    rec.subscribe(element=endpoint).subscribe(replayed_tunnel.append, on_completed=lambda: done.append(1))
    rec.subscribe(context="fw_single").subscribe(replayed_nodes.append, on_completed=lambda: done.append(2))
    wait_for(lambda: len(done) == 2)
    assert replayed_nodes[: len(nodes)] == nodes and replayed_tunnel[: len(tunnel)] == tunnel
    assert {r.origin for r in replayed_nodes} == {("context", "fw_single")}
    assert {r.origin for r in replayed_tunnel} == {("element", endpoint)}
    with gzip.open(path, "rt") as f:
        assert sim.api_key not in f.read()


def test_one_pipeline_gives_the_same_windows_live_and_on_the_replay(tmp_path):
    """The replay's streams run on the recording's clock: the same pipeline function, no scheduler= anywhere."""
    path = tmp_path / "windows.jsonl.gz"

    def pipeline(client: Any) -> Any:
        return client.subscribe(sim.channel("device_stats")).pipe(ops.tumbling(0.25))

    def counts(windows: list) -> list:
        return [(w.start, w.end, len(w.items), sorted({r["mac"] for r in w.items})) for w in windows]

    with MistSimulator(seed=11, interval=0.03, sites=1, aps=3) as sim:
        mist = sk.mist(url=sim.url, token=sim.token, record=path)
        live: list = []
        pipeline(mist).subscribe(live.append)
        wait_for(lambda: len(live) >= 8, timeout=10)
        mist.close()
    closed_live = counts(live)
    rec = sk.replay(path, speed=None)
    replayed = sk.collect(pipeline(rec), timeout=30)
    assert counts(replayed)[: len(closed_live)] == closed_live
    assert all(w.end - w.start == 0.25 for w in replayed)
    # received times are the recorded ones
    _, entries = read_recording(path)
    recorded = [e.at for e in entries if e.direction == "in" and e.topic]
    assert [r.received for w in replayed for r in w.items] == recorded[: sum(len(w.items) for w in replayed)]


def test_a_replay_waits_for_sparse_data_without_asking_for_acknowledgements(tmp_path):
    """A recording holds what the server sent live: a channel whose first data comes 60 s in (and no ack at all,
    as when recording began mid-stream) replays at speed 1 without being taken for an unanswered subscription."""
    import asyncio
    import gzip

    from streamkit._json import dumps
    from streamkit.protocols import mist
    from streamkit.recording.recorder import FORMAT, encode_line

    from ..connection.test_memory_transport import in_virtual_time

    channel, start = "/sites/s/devices", 1_767_225_600.0
    path = tmp_path / "sparse.jsonl.gz"
    with gzip.open(path, "wb") as file:
        header = {"streamkit": "test", "format": FORMAT, "kind": "Mist", "url": "wss://x", "started": start}
        file.write((dumps(header) + "\n").encode())
        other = "/sites/s/stats/devices"
        file.write(encode_line(start, "in", mist.data_frame(other, {"n": 0}), other, {}))  # the replay starts here
        file.write(encode_line(start + 60, "in", mist.data_frame(channel, {"n": 1}), channel, {}))

    @in_virtual_time
    async def replay_it() -> None:
        rec = sk.replay(path, speed=1)
        loop = asyncio.get_running_loop()
        began = loop.time()
        rows = await sk.acollect(rec.subscribe(channel), count=1, timeout=600)
        assert [dict(r) for r in rows] == [{"n": 1}] and len(rec.problems) == 0
        assert loop.time() - began >= 60  # paced as recorded (in virtual time)
        await rec.aclose()

    replay_it()
