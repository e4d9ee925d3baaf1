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
