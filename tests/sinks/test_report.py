"""sk.report: one standalone HTML file with provenance, from live sinks on the simulator."""

from __future__ import annotations

import re
import time

import pandas as pd
import plotly.graph_objects as go
import pytest

import streamkit as sk
from streamkit import ops
from streamkit.sim import MistSimulator

from ..connection.test_mist_client import wait_for


def test_a_report_of_live_sinks_says_where_its_data_came_from(tmp_path):
    with MistSimulator(seed=4, interval=0.05, sites=1, aps=3) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        devices = mist.subscribe(sim.channel("device_stats")).pipe(ops.flatten())
        frame = sk.LiveFrame(devices, key="mac")
        plot = sk.LivePlot(devices, y="num_clients", color="name", kind="bar")
        per_second = ops.tumbling(1.0)
        wait_for(lambda: len(frame) >= 3 and frame.state.received > 20)
        names = set(frame.df["name"])
        path = sk.report(
            "# AP health\n\nClients per AP, *live*. <script>alert(1)</script>",
            frame,
            plot,
            pd.DataFrame({"ap": ["a", "b"], "clients": [3, 4]}),
            go.Figure(go.Scatter(x=[1, 2], y=[3, 4])),
            path=tmp_path / "ap.html",
            title="AP health",
            source=mist,
            windows=[per_second, "hand-written: 5 min rolling mean"],
        )
        mist.close()
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>AP health</title>" in page
    assert "<h1>AP health</h1>" in page and "<em>live</em>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    port = sim.url.rsplit(":", 1)[1].split("/")[0]
    assert re.search(rf"<th>Source</th><td>Mist ws://127\.0\.0\.1:{port}/", page)
    assert sim.channel("device_stats") in page
    span = re.search(r"<th>Time range</th><td>(\S+) to (\S+) \(([\d.]+) s\)", page)
    assert span and span.group(1).endswith("Z") and float(span.group(3)) > 0.1
    assert "tumbling 1 s windows (processing time); hand-written: 5 min rolling mean" in page
    assert re.search(r"Generated</th><td>\d{4}-\d\d-\d\dT.* by streamkit ", page)
    assert "keyed by mac" in page and all(f"<td>{name}</td>" in page for name in names)
    assert page.count('class="plotly-graph-div"') == 2
    assert 'src="http' not in page and "Plotly" in page  # plotly.js embedded: opens offline
    assert sim.token not in page


def test_report_parts_are_checked(tmp_path):
    with pytest.raises(TypeError, match="markdown text, DataFrames"):
        sk.report(42, path=tmp_path / "x.html")
    with pytest.raises(TypeError, match="one by one"):
        sk.report(["a", "b"], path=tmp_path / "x.html")
    path = sk.report("just text", path=tmp_path / "t.html")
    assert "<th>Time range</th><td>no timed data</td>" in path.read_text()
    assert "plotly" not in path.read_text().lower()  # no charts: no plotly.js


def test_a_report_of_a_replay_names_the_recording_and_covers_the_recorded_time(tmp_path):
    recording = tmp_path / "r.jsonl.gz"
    with MistSimulator(seed=9, interval=0.05, sites=1, aps=2) as sim:
        mist = sk.mist(url=sim.url, token=sim.token, record=recording)
        live = sk.collect(mist.subscribe(sim.channel("device_stats")), count=20, timeout=10)
        mist.close()
    rec = sk.replay(recording, speed=None)
    frame = sk.LiveFrame(rec.subscribe(sim.channel("device_stats")))
    wait_for(lambda: frame.completed)
    path = sk.report(frame, path=tmp_path / "replay.html", source=rec)
    page = path.read_text()
    assert "(recorded 20" in page and "Mist ws://127.0.0.1:" in page
    first = pd.Timestamp(live[0].received, unit="s", tz="UTC").isoformat(timespec="seconds").replace("+00:00", "Z")
    assert f"<th>Time range</th><td>{first} to " in page


def recorded_span(page: str) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    span = re.search(r"<th>Time range</th><td>(\S+) to (\S+) \(([^)]+)\)", page)
    assert span, page[:2000]
    return pd.Timestamp(span.group(1)), pd.Timestamp(span.group(2)), span.group(3)


def test_a_replay_through_windows_reports_the_recorded_time_not_the_time_of_the_report(tmp_path):
    recording = tmp_path / "r.jsonl.gz"
    with MistSimulator(seed=9, interval=0.05, sites=1, aps=2) as sim:
        mist = sk.mist(url=sim.url, token=sim.token, record=recording)
        live = sk.collect(mist.subscribe(sim.channel("device_stats")), count=60, timeout=20)
        mist.close()
    time.sleep(2.5)  # the report comes later than the recording ended
    rec = sk.replay(recording, speed=None)
    per_second = rec.subscribe(sim.channel("device_stats")).pipe(
        ops.flatten(), ops.tumbling(1.0), ops.aggregate(by="mac", cpu=("cpu_util", "mean"))
    )
    windows = sk.LiveFrame(per_second, max_rows=1000)
    wait_for(lambda: windows.completed)
    page = sk.report(windows, path=tmp_path / "w.html", source=rec).read_text()
    first, last, _ = recorded_span(page)
    recorded_first, recorded_last = live[0].received, live[-1].received
    assert recorded_first - 1 <= first.timestamp() <= recorded_first + 1  # windows' bounds: within a window
    assert recorded_last - 1 <= last.timestamp() <= recorded_last + 1.5
    assert "<th>window</th>" in page and "window_start" not in page  # one compact label per window
    assert re.search("<td>\\d\\d:\\d\\d:\\d\\d\N{EN DASH}\\d\\d:\\d\\d:\\d\\d</td>", page)


def test_tables_show_times_and_no_row_positions(tmp_path):
    readings = pd.DataFrame({"sensor": ["a", "b"], "ts": [1_795_455_844.25, 1_795_455_845.5], "temp": [21.0, 22.0]})
    page = sk.report(readings, path=tmp_path / "t.html").read_text()
    assert "<td>17:44:04.250</td>" in page and "times UTC, 2026-11-23" in page
    assert "<th>Time range</th><td>2026-11-23T17:44:04Z to 2026-11-23T17:44:05Z (1.2 s)</td>" in page
    assert "<th></th>" not in page and "<td>0</td>" not in page  # no index column
    by_sensor = readings.set_index("sensor")
    assert "<th>sensor</th>" in sk.report(by_sensor, path=tmp_path / "i.html").read_text()  # a named index stays
    page = sk.report(readings, path=tmp_path / "r.html", time_range=(1_795_455_000, "2026-11-23T17:45:00Z"))
    assert "(15.0 min)" in page.read_text()
    with pytest.raises(ValueError, match="two times"):
        sk.report(readings, path=tmp_path / "x.html", time_range=("soon", None))
