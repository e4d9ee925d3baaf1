from __future__ import annotations

import streamkit as sk
from streamkit import ops
from streamkit.sim import MistSimulator

from ..connection.test_mist_client import wait_for


def test_health_snapshot_and_html_follow_the_client():
    with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        windows = ops.event_windows("_time", size=1)
        bp = ops.backpressure("latest")
        rows: list = []
        mist.subscribe(sim.channel("device_stats")).pipe(windows, bp).subscribe(rows.append)
        view = mist.health(late=windows, view=bp)
        wait_for(lambda: rows)
        snap = view.snapshot()
        assert snap["state"] == "connected" and snap["messages"] > 0
        assert snap["subscriptions"][sim.channel("device_stats")]["messages"] == snap["messages"]
        assert snap["watched"]["late"] == {"late_count": 0, "skipped": 0}
        assert set(snap["watched"]["view"]) == {"dropped", "delivered", "pending"}
        page = view._repr_html_()
        assert "connected" in page and sim.channel("device_stats") in page
        mist.close()
        assert sk.health(mist).snapshot()["state"] == "closed"


def test_health_lists_each_connection_of_a_client_with_several():
    with MistSimulator(seed=1, interval=0.05, sites=3, aps=1) as sim:
        mist = sk.mist(url=sim.url, token=sim.token, channels_per_connection=1)
        for site in range(3):
            mist.subscribe(sim.channel("device_stats", site=site)).subscribe(lambda row: None)
        view = mist.health()
        wait_for(lambda: view.snapshot()["state"] == "connected" and len(view.snapshot()["connections"]) == 3)
        snap = view.snapshot()
        assert [c["topics"] for c in snap["connections"]] == [1, 1, 1]
        page = view._repr_html_()
        assert all(f"connection {n}" in page for n in range(3))
        mist.close()
