"""One computation per pipeline: sinks that show the same pipeline of a live source share it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from reactivex import operators as rx

import streamkit as sk
from streamkit import ops, runtime
from streamkit._json import dumps
from streamkit.connection import MemoryServer
from streamkit.protocols import mist

from ..connection.test_mist_client import wait_for

CHANNEL = "/sites/s1/stats/devices"


def test_two_frames_and_a_plot_on_one_windowed_pipeline_run_each_message_once():
    server = MemoryServer(respond=lambda connection, frame: connection.push(mist.subscribed_frame(CHANNEL)))
    client = sk.mist(token="t", url="ws://memory/api-ws/v1/stream", transport=server.connect)
    calls: Counter[int] = Counter()

    def spy(message: Any) -> Any:  # a user function inside the pipeline
        calls[message["seq"]] += 1
        return message

    windows = ops.event_windows("_time", size=10)
    per_ap = client.subscribe(CHANNEL).pipe(
        rx.map(spy), ops.flatten(), windows, ops.aggregate(by="ap", n=("seq", "size"), cpu=("radio.cpu", "mean"))
    )
    tables = [sk.LiveFrame(per_ap, fps=20), sk.LiveFrame(per_ap, key="ap", fps=20)]
    plot = sk.LivePlot(per_ap, x="window_end", y="cpu", color="ap", fps=20)
    wait_for(lambda: server.connections and server.connections[0].sent)
    frames = [
        mist.data_frame(CHANNEL, {"seq": seq, "ap": f"ap-{seq % 2}", "_time": 1_000 + seq, "radio": {"cpu": seq}})
        for seq in range(40)
    ]
    frames.insert(30, mist.data_frame(CHANNEL, {"seq": 99, "ap": "ap-0", "_time": 1_001, "radio": {"cpu": 0}}))
    runtime.call_soon(client._loop, server.connections[0].push, *frames)  # the server's side runs on the loop
    wait_for(lambda: len(tables[0]) == 6 and len(tables[1]) == 2 and len(plot.state.traces) == 2)

    assert set(calls.values()) == {1} and len(calls) == 41  # every message through the pipeline once
    assert windows.late_count == 1  # the late one counted once, not once per sink
    assert server.connections[0].sent == [dumps({"subscribe": CHANNEL})]  # one subscription upstream
    first = tables[0].df
    assert first["n"].tolist() == [5, 5, 5, 5, 5, 5]  # windows [1000, 1010), [1010, 1020), [1020, 1030) x 2 APs
    assert tables[1].df.set_index("ap")["n"].to_dict() == {"ap-0": 5, "ap-1": 5}
    for view in (*tables, plot):
        view.close()
    client.close()
    assert server.connections[0].closed is not None
