"""LiveFrame in script mode against the simulator (the display path is tested in a kernel)."""

from __future__ import annotations

import gc
import time

import pandas as pd
import reactivex

import streamkit as sk
from streamkit import ops
from streamkit.sim import MistSimulator

from ..connection.test_mist_client import wait_for


def test_keyed_frame_has_one_row_per_device_with_merged_fields():
    with MistSimulator(seed=2, interval=0.05, sites=1, aps=3) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        frame = sk.LiveFrame(mist.subscribe(sim.channel("device_stats")).pipe(ops.flatten()), key="mac", fps=20)
        wait_for(lambda: len(frame) == 5)  # 3 APs, a switch and a gateway
        df = frame.df
        assert sorted(df["mac"]) == sorted(d["mac"] for d in sim.devices if d["site_id"] == sim.site_ids[0])
        aps = df[df["type"] == "ap"]
        assert aps["ip_stat.gateway"].notna().all() and aps["cpu_util"].notna().all()  # basic + full merged
        html = frame._repr_html_()
        assert "latest per mac" in html and "<table" in html
        frame.close()
        assert frame.status == "closed"
        received = frame.state.received
        time.sleep(0.3)
        assert frame.state.received == received  # closed: nothing more comes in
        mist.close()


def test_append_frame_with_window_results_and_files(tmp_path):
    results = [pd.DataFrame({"ap": ["x", "y"], "n": [1, 2]}), pd.DataFrame({"ap": ["x"], "n": [3]})]
    frame = sk.LiveFrame(reactivex.from_iterable(results), max_rows=10)
    assert frame.df.to_dict("records") == [{"ap": "x", "n": 1}, {"ap": "y", "n": 2}, {"ap": "x", "n": 3}]
    assert frame.status == "completed"
    csv = frame.to_csv(tmp_path / "rows.csv")
    assert pd.read_csv(csv)["n"].tolist() == [1, 2, 3]
    parquet = frame.to_parquet(tmp_path / "rows.parquet")
    assert pd.read_parquet(parquet)["n"].tolist() == [1, 2, 3]


def test_pause_keeps_collecting_and_errors_show():
    subject: reactivex.Subject[dict] = reactivex.Subject()
    frame = sk.LiveFrame(subject, max_rows=5)
    frame.pause()
    for i in range(8):
        subject.on_next({"i": i})
    assert len(frame) == 5 and frame.status == "paused"
    frame.resume()
    subject.on_error(RuntimeError("feed broke"))
    assert frame.status == "error" and "feed broke" in frame._repr_html_()


def test_a_frame_nobody_holds_stops_and_unsubscribes():
    subject: reactivex.Subject[dict] = reactivex.Subject()
    sk.LiveFrame(subject, max_rows=5)
    gc.collect()
    assert not subject.observers
