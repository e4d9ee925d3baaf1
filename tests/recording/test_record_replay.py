"""Record a live stream from the simulator, replay it through the same adapter, and damage it on purpose."""

from __future__ import annotations

import gzip
import json
import time

import pytest

import streamkit as sk
from streamkit import ops
from streamkit.recording import read_recording, safe_url
from streamkit.sim import MistSimulator

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
    assert header["kind"] == "Mist" and header["format"] == 1 and header["url"].startswith("ws://127.0.0.1:")
    lines = list(entries)
    directions = {d for _, d, _, _ in lines}
    assert directions == {"in", "out"}
    assert any(topic == recording["channels"][0] for _, _, _, topic in lines)
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
    assert rec.report.frames > 0 and not rec.report.skipped and rec.report.stopped is None
    assert all(r.origin == devices_channel for r in devices)


def test_speed_paces_the_replay(recording):
    _, entries = read_recording(recording["path"])
    times = [t for t, d, _, _ in entries if d == "in"]
    recorded = times[-1] - times[0]
    started = time.monotonic()
    sk.collect(sk.replay(recording["path"], speed=4).subscribe(recording["channels"][0]), timeout=30)
    elapsed = time.monotonic() - started
    assert recorded / 4 * 0.8 < elapsed < recorded / 4 + 2


def test_corrupt_lines_are_skipped_and_counted(recording, tmp_path):
    with gzip.open(recording["path"], "rt") as f:
        lines = f.read().splitlines(keepends=True)
    lines[5] = "{this is not a frame\n"
    lines[9] = '["x"]\n'
    damaged = tmp_path / "corrupt.jsonl.gz"
    with gzip.open(damaged, "wt") as f:
        f.writelines(lines)
    rec = sk.replay(damaged, speed=None)
    rows = sk.collect(rec.subscribe(recording["channels"][0]), timeout=10)
    assert rows and rec.report.skipped == [6, 10]
    assert "2 corrupt lines skipped (first at line 6)" in str(rec.report)


def test_a_truncated_recording_replays_what_is_intact(recording, tmp_path):
    data = recording["path"].read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    rec = sk.replay(cut, speed=None)
    rows = sk.collect(rec.subscribe(recording["channels"][0]), timeout=10)
    assert 0 < len(rows) < len(recording["live"]["devices"]) + 100
    assert rec.report.stopped is not None and "breaks after line" in rec.report.stopped


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
    assert mist.recorder.frames >= 10 and mist.tap is None
    replayed = sk.collect(sk.replay(path, speed=None).subscribe(sim.channel("device_stats")), timeout=10)
    assert replayed[:10] == live
