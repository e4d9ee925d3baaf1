"""Operators on live streams from the simulator, on streamkit's loop scheduler (script mode)."""

from __future__ import annotations

import streamkit as sk
from streamkit import ops
from streamkit.sim import MistSimulator


def test_join_windows_and_aggregate_on_a_live_stream():
    with MistSimulator(seed=3, interval=0.05, sites=1, aps=3, clients=6) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        devices = mist.subscribe(sim.channel("device_stats")).pipe(ops.flatten())
        clients = mist.subscribe(sim.channel("client_stats"))

        enriched = sk.collect(clients.pipe(ops.with_latest(devices, on=("ap_mac", "mac"))), count=40, timeout=10)
        with_ap = [r for r in enriched if "cpu_util" in r]
        assert with_ap, "clients were enriched with their AP's stats"
        assert all(r["ap_mac"] in {d["mac"] for d in sim.devices} for r in with_ap)
        assert all(r.origin == sim.channel("client_stats") for r in enriched)  # the origin survives

        per_ap = sk.collect(
            clients.pipe(
                ops.tumbling(0.3), ops.aggregate(by="ap_mac", clients=("mac", "nunique"), rssi=("rssi", "mean"))
            ),
            count=2,
            timeout=10,
        )
        assert all(set(f.columns) == {"window_start", "window_end", "ap_mac", "clients", "rssi"} for f in per_ap)
        # every client is counted in the window (one that roamed within it counts under both APs)
        assert sum(per_ap[-1]["clients"]) >= 6
        assert set(per_ap[-1]["ap_mac"]) <= {d["mac"] for d in sim.devices if d["type"] == "ap"}

        rates = sk.collect(devices.pipe(ops.rate(0.25)), count=2, timeout=5)
        assert rates[-1]["rate"] > 0
        mist.close()
