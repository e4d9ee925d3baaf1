"""The fault suite: server restarts, drops mid-frame, 429 at reconnect, subscriptions refused after a reconnect,
malformed and oversized input. All on loopback, against the simulators' fault injection or small servers that
misbehave on purpose."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from websockets.asyncio.server import ServerConnection

import streamkit as sk
from streamkit.connection import Connected, Disconnected, Gap, Reconnect, Reconnecting
from streamkit.protocols import Subscribed
from streamkit.protocols.base import RAW_LIMIT
from streamkit.sim import MistSimulator

from ..connection.test_mist_client import wait_for
from .servers import serving

FAST = Reconnect(initial=0.02, cap=0.1, rate_limit_wait=0.3)
RESTARTS = int(os.environ.get("STREAMKIT_RESTARTS", "50"))


def test_fifty_server_restarts_each_reconnected_resubscribed_and_reported():
    with MistSimulator(seed=21, interval=0.02, sites=2, aps=2) as sim:
        client = sk.mist(url=sim.url, token=sim.token, reconnect=FAST)
        events: list[object] = []
        client.events.subscribe(events.append)
        channels = [sim.channel("device_stats"), sim.channel("client_stats"), sim.channel("device_stats", site=1)]
        frame = sk.LiveFrame(client.subscribe(channels[0]).pipe(sk.ops.flatten()), key="mac")
        counts = dict.fromkeys(channels, 0)
        for ch in channels:
            client.subscribe(ch).subscribe(lambda r: counts.__setitem__(r.origin, counts[r.origin] + 1))
        wait_for(lambda: all(counts.values()))
        for n in range(1, RESTARTS + 1):
            sim.stop()
            sim.start()
            wait_for(lambda n=n: sum(isinstance(e, Gap) for e in events) == n, timeout=10)
            before = dict(counts)
            wait_for(lambda before=before: all(counts[ch] > before[ch] for ch in channels), timeout=10)
        received = frame.state.received
        wait_for(lambda: frame.state.received > received)  # the pipeline and its LiveFrame still update
        gaps = [e for e in events if isinstance(e, Gap)]
        assert len(gaps) == RESTARTS == client.stats.reconnects
        assert all(0 < g.duration < 5 for g in gaps)
        assert sum(isinstance(e, Connected) for e in events) == RESTARTS + 1
        # every reconnect re-subscribed each channel once: no duplicate server-side subscriptions
        after_first = events[events.index(gaps[0]) :]
        resubscribed = [e.topic for e in after_first if isinstance(e, Subscribed)]
        assert sorted(resubscribed) == sorted(channels * RESTARTS)
        assert sim.counts["subscribes"] == len(channels) * (RESTARTS + 1)
        assert len(frame) == 4
        client.close()
        frame.close()


def test_a_connection_cut_mid_frame_reconnects_and_the_stream_goes_on():
    connections = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(ws)
        await ws.recv()  # the subscribe
        for n in range(3):
            await ws.send(json.dumps({"channel": "c", "data": {"n": n}}))
        if len(connections) == 1:
            ws.transport.write(b"\x81\x7e\x04\x00" + b'{"channel": "c", "da')  # half a 1 KiB text frame
            await asyncio.sleep(0.05)
            ws.transport.abort()
            return
        await ws.wait_closed()

    with serving(handler) as url:
        feed = sk.feed(url, reconnect=FAST)
        events: list[object] = []
        feed.events.subscribe(events.append)
        rows = sk.collect(feed.subscribe("c"), count=6, timeout=10)
        feed.close()
    assert [r["data"]["n"] for r in rows] == [0, 1, 2, 0, 1, 2]
    assert any(isinstance(e, Disconnected) and e.code == 1006 for e in events)
    assert feed.stats.reconnects == 1 and not feed.problems


def test_429_at_reconnect_waits_then_comes_back():
    with MistSimulator(seed=22, interval=0.02, sites=1, aps=2) as sim:
        client = sk.mist(url=sim.url, token=sim.token, reconnect=FAST)
        events: list[object] = []
        client.events.subscribe(events.append)
        rows: list[dict] = []
        client.subscribe(sim.channel("device_stats")).subscribe(rows.append)
        wait_for(lambda: rows)
        sim.refuse_next(2, status=429, retry_after=0.4)
        sim.drop_connections()
        wait_for(lambda: client.stats.reconnects == 1, timeout=10)
        count = len(rows)
        wait_for(lambda: len(rows) > count)
        waits = [e for e in events if isinstance(e, Reconnecting) and "429" in e.cause]
        assert len(waits) == 2 and all(w.delay >= 0.4 for w in waits)
        assert sim.counts["refused_429"] == 2
        client.close()


def test_a_subscription_refused_after_a_reconnect_errors_only_its_observable():
    """A site removed while disconnected: after the reconnect its channel is refused, the others go on."""
    sim = MistSimulator(seed=23, interval=0.02, sites=2, aps=2).start()
    client = sk.mist(url=sim.url, token=sim.token, reconnect=FAST)
    gone = sim.channel("device_stats", site=1)
    kept: list[dict] = []
    errors: list[Exception] = []
    client.subscribe(sim.channel("device_stats")).subscribe(kept.append)
    client.subscribe(gone).subscribe(on_error=errors.append)
    wait_for(lambda: kept and sim.counts["subscribes"] == 2)
    port = int(sim.url.split(":")[2].split("/")[0])
    sim.stop()
    smaller = MistSimulator(seed=23, interval=0.02, sites=1, aps=2, port=port).start()  # same org, one site
    try:
        wait_for(lambda: errors, timeout=10)
        assert isinstance(errors[0], sk.SubscriptionError) and errors[0].topic == gone
        count = len(kept)
        wait_for(lambda: len(kept) > count)
        assert client.topics == (smaller.channel("device_stats"),)
    finally:
        client.close()
        smaller.stop()


def test_malformed_input_is_counted_with_its_raw_frame_and_the_stream_goes_on():
    bad = [
        "{not json",
        "[1, 2, 3]",
        json.dumps({"event": "data", "channel": 5, "data": "{}"}),
        json.dumps({"event": "weird", "channel": "/c"}),
        json.dumps({"event": "data", "channel": "/c", "data": "{broken"}),
        b"\xff\xfe\x00binary",
        json.dumps({"hello": "x" * (2 * RAW_LIMIT)}),
    ]

    async def handler(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        await ws.send(json.dumps({"event": "channel_subscribed", "channel": request["subscribe"]}))
        for n, frame in enumerate(bad):
            await ws.send(frame)
            await ws.send(json.dumps({"event": "data", "channel": "/c", "data": json.dumps({"n": n})}))
        await ws.wait_closed()

    with serving(handler) as url:
        mist = sk.mist(url=url, token="t", reconnect=FAST)
        rows = sk.collect(mist.subscribe("/c"), count=len(bad), timeout=10)
        wait_for(lambda: len(mist.problems) == len(bad))
        mist.close()
    assert [r["n"] for r in rows] == list(range(len(bad)))  # every good frame in between arrived
    kinds = [p.kind for p in mist.problems]
    assert kinds.count("malformed") == 5 and kinds.count("unknown") == 2
    assert mist.stats.malformed == 5 and mist.stats.unknown == 2
    assert all(p.raw for p in mist.problems) and max(len(p.raw) for p in mist.problems) == RAW_LIMIT


def test_an_oversized_frame_is_reported_and_the_connection_reopened():
    sent = []

    async def handler(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        channel = request["subscribe"]
        if not sent:
            sent.append(1)
            await ws.send(json.dumps({"event": "data", "channel": channel, "data": "x" * 5000}))
        await ws.send(json.dumps({"event": "data", "channel": channel, "data": json.dumps({"ok": True})}))
        await ws.wait_closed()

    with serving(handler) as url:
        mist = sk.mist(url=url, token="t", reconnect=FAST, max_size=1024, max_queue=8)
        rows = sk.collect(mist.subscribe("/c"), count=1, timeout=10)
        mist.close()
    assert rows == [{"ok": True}]
    oversized = [p for p in mist.problems if p.kind == "oversized"]
    assert len(oversized) == 1 and "max_size=" in oversized[0].message


@pytest.mark.parametrize("policy", ["latest", "drop_oldest", "buffer"])
def test_a_slow_observer_keeps_memory_bounded_and_counts_drops_exactly(policy):
    with MistSimulator(seed=24, interval=0, sites=1, aps=4) as sim:  # flat out
        client = sk.mist(url=sim.url, token=sim.token)
        bp = sk.ops.backpressure(policy, size=100)
        seen: list[int] = []
        source = client.subscribe(sim.channel("device_stats"))
        received = [0]
        source.subscribe(lambda _: received.__setitem__(0, received[0] + 1))
        source.pipe(bp).subscribe(lambda r: (seen.append(1), time.sleep(0.002)))  # ~500 records/s at most
        peak = 0
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            peak = max(peak, bp.pending)
            time.sleep(0.01)
        client.close()
        wait_for(lambda: bp.pending == 0 or policy == "buffer", timeout=5)
    assert peak <= 100
    assert received[0] > 5 * len(seen)  # the observer was really slower than the stream
    if policy == "buffer":
        assert bp.dropped == 0 or bp.delivered + bp.dropped + bp.pending == received[0]
    else:
        assert bp.dropped > 0
    assert bp.delivered + bp.dropped + bp.pending == received[0]
    assert bp.delivered == len(seen)
