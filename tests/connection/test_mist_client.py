"""sk.mist against the Mist simulator on loopback, in script mode (streamkit's background loop thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import streamkit as sk
from streamkit.connection import Connected, Disconnected, Gap, Reconnect, Reconnecting
from streamkit.protocols import Subscribed
from streamkit.sim import Faults, MistSimulator

FAST = Reconnect(initial=0.05, cap=0.2, rate_limit_wait=0.5)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def sim():
    with MistSimulator(seed=5, interval=0.05, sites=2, aps=3, clients=5) as s:
        yield s


@pytest.fixture
def client(sim):
    c = sk.mist(url=sim.url, token=sim.token, reconnect=FAST)
    yield c
    c.close()


def test_collect_gives_decoded_records_that_know_their_channel(sim, client):
    channel = sim.channel("device_stats")
    rows = sk.collect(client.subscribe(channel), count=5, timeout=5)
    assert len(rows) == 5
    assert all(isinstance(r, dict) and r.origin == channel for r in rows)
    assert all(r["mac"].startswith("5c5b35") for r in rows)
    assert "origin" not in rows[0] and "received" not in rows[0]  # origin never collides with payload fields
    assert rows[0].received == pytest.approx(time.time(), abs=5)


def test_observers_run_on_the_loop_thread_in_scripts(sim, client):
    threads: set[str] = set()
    sub = client.subscribe(sim.channel("device_stats")).subscribe(
        lambda r: threads.add(threading.current_thread().name)
    )
    wait_for(lambda: threads)
    sub.dispose()
    assert threads == {"streamkit-loop"}


def test_same_channel_gives_the_same_hot_observable(sim, client):
    channel = sim.channel("device_stats")
    assert client.subscribe(channel) is client.subscribe(channel)


def test_refcount_two_observers_one_server_subscription(sim, client):
    channel = sim.channel("device_stats")
    a: list[dict] = []
    b: list[dict] = []
    sub_a = client.subscribe(channel).subscribe(a.append)
    sub_b = client.subscribe(channel).subscribe(b.append)
    wait_for(lambda: len(a) > 3 and len(b) > 3)
    assert sim.counts["subscribes"] == 1  # one server-side subscription for two observers
    sub_a.dispose()
    time.sleep(0.2)
    before = len(b)
    wait_for(lambda: len(b) > before + 3)  # the other observer keeps receiving
    assert sim.counts["unsubscribes"] == 0
    count_a = len(a)
    sub_b.dispose()
    wait_for(lambda: sim.counts["unsubscribes"] == 1)  # the last one sends the unsubscribe
    assert len(a) == count_a
    wait_for(lambda: client.state == "idle")  # nothing subscribed: the socket closed
    wait_for(lambda: sim.counts["connections"] == 1 and not sim._peers)


def test_unknown_channel_errors_only_that_observable(sim, client):
    good: list[dict] = []
    errors: list[Exception] = []
    client.subscribe(sim.channel("device_stats")).subscribe(good.append)
    client.subscribe("/sites/not-a-site/stats/devices").subscribe(on_error=errors.append)
    wait_for(lambda: errors)
    assert isinstance(errors[0], sk.SubscriptionError)
    assert "not-a-site" in str(errors[0]) and errors[0].detail
    before = len(good)
    wait_for(lambda: len(good) > before + 5)


def test_bad_token_fails_fast_with_one_attempt(sim):
    client = sk.mist(url=sim.url, token="wrong-token")
    started = time.monotonic()
    with pytest.raises(sk.AuthenticationError) as info:
        sk.collect(client.subscribe(sim.channel("device_stats")), count=1, timeout=10)
    assert time.monotonic() - started < 2
    assert "HTTP 401" in str(info.value) and "MIST_API_TOKEN" in str(info.value)
    assert "wrong-token" not in str(info.value)
    errors: list[Exception] = []
    client.subscribe(sim.channel("client_stats")).subscribe(on_error=errors.append)  # later observers: same error
    wait_for(lambda: errors)
    assert errors[0] is info.value
    time.sleep(0.3)
    assert sim.counts["refused_401"] == 1  # no retry storm
    assert client.state == "failed"


def test_server_restart_reconnects_resubscribes_and_reports_the_gap(sim, client):
    channels = [sim.channel("device_stats"), sim.channel("client_stats"), sim.channel("device_stats", site=1)]
    seen: dict[str, int] = dict.fromkeys(channels, 0)
    events: list[object] = []
    client.events.subscribe(events.append)
    for ch in channels:
        client.subscribe(ch).subscribe(lambda r: seen.__setitem__(r.origin, seen[r.origin] + 1))
    wait_for(lambda: all(seen.values()))
    sim.stop()
    time.sleep(0.3)
    sim.start()
    wait_for(lambda: any(isinstance(e, Gap) for e in events))
    after = dict(seen)
    wait_for(lambda: all(seen[ch] > after[ch] for ch in channels))  # every channel flows again
    gap = next(e for e in events if isinstance(e, Gap))
    assert 0.25 < gap.duration < 3
    assert client.stats.reconnects == 1 and client.stats.last_gap == gap
    drop = next(e for e in events if isinstance(e, Disconnected))
    assert drop.code == 1006
    resubscribed = [e.topic for e in events[events.index(gap) :] if isinstance(e, Subscribed)]
    assert sorted(resubscribed) == sorted(channels)


def test_429_waits_before_the_next_try(sim, client):
    sim.refuse_next(1, status=429, retry_after=0.2)
    events: list[object] = []
    client.events.subscribe(events.append)
    rows = sk.collect(client.subscribe("/test"), count=1, timeout=5)
    assert rows[0] == {"value": 1}
    waits = [e for e in events if isinstance(e, Reconnecting)]
    assert len(waits) == 1 and waits[0].delay >= 0.5
    assert "429" in waits[0].cause
    assert sim.counts["refused_429"] == 1


def test_silent_dead_connection_is_detected_by_ping_timeout(sim):
    client = sk.mist(url=sim.url, token=sim.token, reconnect=FAST, ping_interval=0.2, ping_timeout=0.2)
    events: list[object] = []
    client.events.subscribe(events.append)
    rows: list[dict] = []
    client.subscribe(sim.channel("device_stats")).subscribe(rows.append)
    wait_for(lambda: rows)
    sim.stall(1.5)
    wait_for(lambda: any(isinstance(e, Disconnected) for e in events), timeout=3)
    wait_for(lambda: sum(isinstance(e, Connected) for e in events) == 2, timeout=5)
    count = len(rows)
    wait_for(lambda: len(rows) > count)
    client.close()


def test_malformed_frames_are_counted_and_the_stream_goes_on():
    with MistSimulator(seed=1, interval=0.02, faults=Faults(malformed=0.3)) as sim:
        client = sk.mist(url=sim.url, token=sim.token)
        problems: list[object] = []
        client.problems.subscribe(problems.append)
        rows = sk.collect(client.subscribe(sim.channel("device_stats")), count=60, timeout=10)
        assert len(rows) == 60
        assert client.stats.malformed == len([p for p in problems if p.kind == "malformed"]) > 5
        assert all(p.raw for p in problems)  # the raw frame is kept
        assert len(client.problems) <= 100
        client.close()


def test_a_failing_observer_does_not_end_the_stream(sim, client):
    good: list[dict] = []

    def explode(record: dict) -> None:
        raise RuntimeError("observer bug")

    channel = sim.channel("device_stats")
    client.subscribe(channel).subscribe(explode)
    client.subscribe(channel).subscribe(good.append)
    wait_for(lambda: len(good) > 5)
    first = next(iter(client.problems))
    assert first.kind == "observer" and "observer bug" in first.message and "Traceback" in first.traceback


def test_thousand_channels_on_one_connection():
    with MistSimulator(seed=1, interval=0.2, sites=1, aps=2, clients=2, maps=1000) as sim:
        client = sk.mist(url=sim.url, token=sim.token)
        acks: list[object] = []
        client.events.subscribe(lambda e: acks.append(e) if isinstance(e, Subscribed) else None)
        site = sim.site_ids[0]
        channels = [f"/sites/{site}/stats/maps/{m}/clients" for m in sim.map_ids[site]]
        subs = [client.subscribe(ch).subscribe(lambda r: None) for ch in channels]
        wait_for(lambda: len(acks) == 1000, timeout=10)
        assert sim.counts["connections"] == 1
        assert len(client.topics) == 1000
        for sub in subs:
            sub.dispose()
        wait_for(lambda: client.state == "idle")
        client.close()


def test_close_completes_observers_and_stops_everything(sim):
    client = sk.mist(url=sim.url, token=sim.token)
    completed = threading.Event()
    client.subscribe(sim.channel("device_stats")).subscribe(on_completed=completed.set)
    wait_for(lambda: client.state == "connected")
    task = client._connections[0]._task
    client.close()
    assert completed.is_set()
    assert task is not None and task.done()
    assert client.state == "closed"
    wait_for(lambda: not sim._peers)
    errors: list[Exception] = []
    client.subscribe("/test").subscribe(on_error=errors.append)
    wait_for(lambda: errors)
    assert "closed" in str(errors[0])


def test_secrets_stay_out_of_reprs(sim, client):
    client.subscribe("/test").subscribe(lambda r: None)
    wait_for(lambda: client.state == "connected")
    assert sim.token not in repr(client) and sim.token not in repr(client._connections[0]._transport)
    assert sim.token not in repr(client.stats.snapshot())


def test_credentials_and_host_from_the_environment(sim, monkeypatch):
    monkeypatch.setenv("MIST_API_TOKEN", sim.token)
    assert sk.collect(sk.mist(url=sim.url).subscribe("/test"), count=1, timeout=5) == [{"value": 1}]
    monkeypatch.setenv("MIST_HOST", "api.eu.mist.com")
    assert sk.mist().url == "wss://api-ws.eu.mist.com/api-ws/v1/stream"
    monkeypatch.delenv("MIST_HOST")
    monkeypatch.setenv("MIST_REGION", "apac01")
    assert sk.mist().url == "wss://api-ws.ac5.mist.com/api-ws/v1/stream"
    monkeypatch.delenv("MIST_API_TOKEN")
    with pytest.raises(ValueError, match="MIST_API_TOKEN"):
        sk.mist(url=sim.url)


def test_basic_and_cookie_auth(sim):
    by_password = sk.mist(url=sim.url, email=sim.email, password=sim.password)
    by_cookie = sk.mist(url=sim.url, cookies=sim.cookies)
    for client in (by_password, by_cookie):
        assert sk.collect(client.subscribe("/test"), count=1, timeout=5) == [{"value": 1}]
        client.close()


def test_collect_by_duration_and_timeout_message(sim, client):
    rows = sk.collect(client.subscribe(sim.channel("device_events")), timeout=0.2)
    assert isinstance(rows, list)
    with pytest.raises(sk.CollectTimeout, match="collected 0 of 5") as info:
        sk.collect(
            client.subscribe(f"/sites/{sim.site_ids[0]}/devices/{sim.devices[0]['id']}/cmd"), count=5, timeout=0.3
        )
    assert info.value.records == []
    with pytest.raises(ValueError, match="count="):
        sk.collect(client.subscribe("/test"))


def test_the_seed_documents_frame_reaches_an_observer_verbatim_over_a_loopback_server():
    """A server that answers the subscription with the Mist guide's own frame, byte for byte."""
    import asyncio
    import json
    import socket
    import threading
    from pathlib import Path

    from aiohttp import web

    frame = json.loads((Path(__file__).parent.parent / "data" / "mist_seed_frames.json").read_text())["device_stats"]
    channel = json.loads(frame)["channel"]
    ready = threading.Event()
    state: dict = {}

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if json.loads(message.data) == {"subscribe": channel}:
                await ws.send_str(json.dumps({"event": "channel_subscribed", "channel": channel}))
                await ws.send_str(frame)
        return ws

    def serve() -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/api-ws/v1/stream", stream)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        sock = socket.create_server(("127.0.0.1", 0))
        loop.run_until_complete(web.SockSite(runner, sock).start())
        state["port"], state["loop"] = sock.getsockname()[1], loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        with sk.mist(url=f"ws://127.0.0.1:{state['port']}/api-ws/v1/stream", token="t") as client:
            rows = sk.collect(client.subscribe(channel), count=1, timeout=10)
        assert rows == [json.loads(json.loads(frame)["data"])] and rows[0].origin == channel
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(10)
