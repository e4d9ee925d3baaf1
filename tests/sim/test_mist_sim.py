"""The Mist simulator, driven by a plain websockets client written from the vendor documentation."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamkit.sim import Faults, MistSimulator, MistWorld


def client(sim: MistSimulator) -> connect:
    # A test client that stops reading mid-stream must not wait 10 s for the server's close frame
    # behind the data it left unread.
    return connect(sim.url, additional_headers=sim.headers, close_timeout=0.5)


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, pred, timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads(await ws.recv())
            if pred(msg):
                return msg


async def read_until_closed(ws: ClientConnection) -> None:
    while True:
        await ws.recv()


async def subscribe(ws: ClientConnection, channel: str) -> dict[str, Any]:
    await ws.send(json.dumps({"subscribe": channel}))
    return await until(ws, lambda m: m.get("channel") == channel and m["event"] != "data")


@pytest.fixture
async def sim():
    async with MistSimulator(seed=3, interval=0.05, sites=2, aps=3, clients=6) as s:
        yield s


async def test_token_basic_and_cookie_auth(sim):
    basic = base64.b64encode(f"{sim.email}:{sim.password}".encode()).decode()
    cookie = "; ".join(f"{k}={v}" for k, v in sim.cookies.items())
    for headers in (
        {"Authorization": f"Token {sim.token}"},
        {"Authorization": f"Basic {basic}"},
        {"Cookie": cookie},
    ):
        async with connect(sim.url, additional_headers=headers) as ws:
            assert (await subscribe(ws, "/test"))["event"] == "channel_subscribed"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Token wrong"},
        {"Authorization": "Basic !!"},
        {"Cookie": "sessionid=x; csrftoken=y"},
    ],
)
async def test_bad_credentials_are_refused_at_the_upgrade_with_401(sim, headers):
    with pytest.raises(InvalidStatus) as info:
        async with connect(sim.url, additional_headers=headers):
            pass
    assert info.value.response.status_code == 401
    assert sim.counts["refused_401"] == 1


async def test_429_on_demand_with_retry_after(sim):
    sim.refuse_next(1)
    with pytest.raises(InvalidStatus) as info:
        async with client(sim):
            pass
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "30"
    async with client(sim) as ws:  # the next one goes through
        assert (await subscribe(ws, "/test"))["event"] == "channel_subscribed"


async def test_test_channel_acks_then_sends_one(sim):
    async with client(sim) as ws:
        await ws.send('{"subscribe": "/test"}')
        assert await recv_json(ws) == {"event": "channel_subscribed", "channel": "/test"}
        assert await recv_json(ws) == {"event": "data", "channel": "/test", "data": "1"}


async def test_subscribe_failures_keep_the_connection_open(sim):
    foreign = "/sites/00000000-0000-4000-8000-000000000000/stats/devices"
    async with client(sim) as ws:
        unknown = await subscribe(ws, "/orgs/nope/whatever")
        assert unknown["event"] == "subscribe_failed" and "unknown channel" in unknown["detail"]
        refused = await subscribe(ws, foreign)
        assert refused["event"] == "subscribe_failed" and "not in this organisation" in refused["detail"]
        bad_map = await subscribe(ws, f"/sites/{sim.site_ids[0]}/stats/maps/nope/clients")
        assert bad_map["event"] == "subscribe_failed"
        assert (await subscribe(ws, sim.channel("device_stats")))["event"] == "channel_subscribed"


async def test_channel_limit():
    async with MistSimulator(seed=1, max_channels=2) as sim, client(sim) as ws:
        assert (await subscribe(ws, sim.channel("device_stats")))["event"] == "channel_subscribed"
        assert (await subscribe(ws, sim.channel("client_stats")))["event"] == "channel_subscribed"
        assert (await subscribe(ws, sim.channel("device_stats")))["event"] == "channel_subscribed"  # duplicate: fine
        over = await subscribe(ws, sim.channel("device_events"))
        assert over["event"] == "subscribe_failed" and "limit 2" in over["detail"]


async def test_device_stats_data_is_a_json_string_with_the_documented_fields(sim):
    channel = sim.channel("device_stats", site=1)
    site_macs = {d["mac"] for d in sim.devices if d["site_id"] == sim.site_ids[1]}
    async with client(sim) as ws:
        await subscribe(ws, channel)
        seen: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(5):
            while len(seen) < 4:
                msg = await recv_json(ws)
                assert msg["event"] == "data" and msg["channel"] == channel
                assert isinstance(msg["data"], str)
                rec = json.loads(msg["data"])
                assert rec["mac"] in site_macs
                kind = rec.get("type") or ("ap_basic" if "_offset_apbasic" in rec else "?")
                seen.setdefault(kind, rec)
    assert set(seen) == {"ap_basic", "ap", "switch", "gateway"}
    basic = seen["ap_basic"]
    assert {
        "mac",
        "last_seen",
        "uptime",
        "version",
        "ip_stat",
        "ble_stat",
        "_partition",
        "_offset_apbasic",
        "_time",
    } <= set(basic)
    assert set(basic["ip_stat"]) == {
        "dns",
        "ips",
        "gateway",
        "ip6",
        "netmask6",
        "ip",
        "netmask",
        "dhcp_server",
    }
    full = seen["ap"]
    assert {
        "name",
        "model",
        "serial",
        "status",
        "num_clients",
        "radio_stat",
        "port_stat",
        "cpu_util",
        "mem_used_kb",
        "tx_bps",
        "rx_bps",
        "map_id",
        "x",
        "y",
        "_offset_apstats",
    } <= set(full)
    assert {"band_24", "band_5"} <= set(full["radio_stat"])
    assert {"if_stat", "module_stat", "clients"} <= set(seen["switch"])
    assert {"if_stat", "spu_stat", "dhcpd_stat"} <= set(seen["gateway"])


async def test_client_stats_and_location(sim):
    aps = {d["mac"] for d in sim.devices if d["type"] == "ap"}
    async with client(sim) as ws:
        await subscribe(ws, sim.channel("client_stats"))
        await subscribe(ws, sim.channel("location"))
        got: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(5):
            while len(got) < 2:
                msg = await recv_json(ws)
                got.setdefault(msg["channel"], json.loads(msg["data"]))
    stats = got[sim.channel("client_stats")]
    assert stats["ap_mac"] in aps
    assert {"mac", "hostname", "ssid", "band", "rssi", "snr", "tx_bps", "rx_bps", "map_id", "x", "y"} <= set(stats)
    where = got[sim.channel("location")]
    assert set(where) >= {"mac", "map_id", "x", "y", "x_m", "y_m", "num_locating_aps", "accuracy"}
    assert where["map_id"] == sim.map_ids[sim.site_ids[0]][0]


async def test_unsubscribe_acks_and_stops_data(sim):
    channel = sim.channel("device_stats")
    async with client(sim) as ws:
        await subscribe(ws, channel)
        await until(ws, lambda m: m["event"] == "data")
        await ws.send(json.dumps({"unsubscribe": channel}))
        await until(ws, lambda m: m["event"] == "channel_unsubscribed")
        with pytest.raises(TimeoutError):  # no more data in several ticks
            await until(ws, lambda m: m["event"] == "data", timeout=0.5)


async def test_pings_are_answered(sim):
    async with client(sim) as ws:
        latency = await asyncio.wait_for(await ws.ping(), 2)
        assert latency >= 0


async def test_data_as_object_option():
    async with MistSimulator(seed=1, interval=0.05, data_as_object=True) as sim, client(sim) as ws:
        await subscribe(ws, sim.channel("device_stats"))
        msg = await until(ws, lambda m: m["event"] == "data")
        assert isinstance(msg["data"], dict) and "mac" in msg["data"]


async def test_command_output_arrives_in_pieces(sim):
    device = sim.devices[0]
    channel = f"/sites/{device['site_id']}/devices/{device['id']}/cmd"
    async with client(sim) as ws:
        await subscribe(ws, channel)
        sim.command_output(device["id"], "PING 8.8.8.8: 56 data bytes\n64 bytes: icmp_seq=0 ttl=117\n", pieces=3)
        parts = [json.loads((await until(ws, lambda m: m["event"] == "data"))["data"]) for _ in range(3)]
    assert {p["session"] for p in parts} == {"sim-session"}
    assert "".join(p["raw"] for p in parts).startswith("PING 8.8.8.8")


async def test_stop_and_restart_on_the_same_port():
    sim = MistSimulator(seed=1, interval=0.05)
    async with sim:
        port = sim.port
        ws = await client(sim)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 2)
    async with sim:
        assert sim.port == port
        async with client(sim) as ws2:
            assert (await subscribe(ws2, "/test"))["event"] == "channel_subscribed"


def test_start_stop_from_a_script_thread():
    import websockets.sync.client as sync_client

    sim = MistSimulator(seed=2, interval=0.05).start()
    try:
        with sync_client.connect(sim.url, additional_headers=sim.headers) as ws:
            ws.send('{"subscribe": "/test"}')
            assert json.loads(ws.recv(timeout=5))["event"] == "channel_subscribed"
    finally:
        sim.stop()
    assert not sim.running


# -- fault injection ---------------------------------------------------------------------------------------


async def test_malformed_fault_breaks_frames_or_their_data():
    async with MistSimulator(seed=1, interval=0.02, faults=Faults(malformed=1.0)) as sim, client(sim) as ws:
        await subscribe(ws, sim.channel("device_stats"))
        broken = 0
        for _ in range(20):
            raw = await asyncio.wait_for(ws.recv(), 5)
            try:
                json.loads(json.loads(raw)["data"])
            except ValueError:
                broken += 1
        assert broken == 20
        assert sim.counts["malformed"] >= 20


async def test_drop_fault_aborts_connections():
    async with MistSimulator(seed=1, interval=0.05, faults=Faults(drop_every=0.3)) as sim, client(sim) as ws:
        await subscribe(ws, sim.channel("device_stats"))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(read_until_closed(ws), 3)
        assert info.value.rcvd is None  # no close frame: the TCP connection was cut
        assert sim.counts["dropped"] >= 1


async def test_stall_stops_data_and_pongs_then_resumes():
    async with MistSimulator(seed=1, interval=0.02) as sim, client(sim) as ws:
        await subscribe(ws, sim.channel("device_stats"))
        await until(ws, lambda m: m["event"] == "data")
        sim.stall(0.6)
        await asyncio.sleep(0.1)
        while True:  # drain what was in flight before the stall
            try:
                await asyncio.wait_for(ws.recv(), 0.1)
            except TimeoutError:
                break
        pong = await ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pong), 0.3)
        await asyncio.wait_for(pong, 2)  # answered once the stall ends
        await until(ws, lambda m: m["event"] == "data", timeout=2)


# -- the scenario ------------------------------------------------------------------------------------------


def test_same_seed_same_story_whoever_listens():
    a, b = MistWorld(seed=9), MistWorld(seed=9)
    assert a.org_id == b.org_id and [s.id for s in a.sites] == [s.id for s in b.sites]
    everything = {ch for s in a.sites for ch in a.channels(s).values()}
    for step in range(50):
        a.tick(1_700_000_000.0 + step, everything)
        b.tick(1_700_000_000.0 + step, set())  # nobody listening: the world evolves the same
    assert [(c.mac, c.ap.mac) for s in a.sites for c in s.clients.values()] == [
        (c.mac, c.ap.mac) for s in b.sites for c in s.clients.values()
    ]
    assert MistWorld(seed=10).org_id != a.org_id


def test_clients_roam_join_and_leave():
    world = MistWorld(seed=4, sites=1, aps=4, clients=20, roam_rate=0.2, churn_rate=0.05)
    site = world.sites[0]
    before = {mac: c.ap.mac for mac, c in site.clients.items()}
    for step in range(30):
        world.tick(1_700_000_000.0 + step, set())
    after = {mac: c.ap.mac for mac, c in site.clients.items()}
    stayed = before.keys() & after.keys()
    assert len(after) == 20
    assert after.keys() - before.keys(), "some clients joined"
    assert before.keys() - after.keys(), "some clients left"
    assert any(before[m] != after[m] for m in stayed), "some clients roamed"


def test_device_events_match_the_stats():
    world = MistWorld(seed=5, sites=1, aps=6, restart_rate=0.05, disconnect_rate=0.05)
    site = world.sites[0]
    stats, events = world.channels(site)["device_stats"], world.channels(site)["device_events"]
    down: set[str] = set()
    restarted_at: dict[str, float] = {}
    kinds = set()
    for step in range(200):
        now = 1_700_000_000.0 + step
        out = world.tick(now, {stats, events})
        for channel, payload in out:
            if channel == events:
                kinds.add(payload["type"])
                if payload["type"].endswith("DISCONNECTED"):
                    down.add(payload["mac"])
                elif payload["type"].endswith("_CONNECTED"):
                    down.discard(payload["mac"])
                elif payload["type"].endswith("RESTARTED"):
                    restarted_at[payload["mac"]] = now
        for channel, payload in out:
            if channel == stats:
                assert payload["mac"] not in down, "no stats from a disconnected device"
                if restarted_at.get(payload["mac"]) == now:
                    assert payload["uptime"] == 0
    assert {"AP_RESTARTED", "AP_DISCONNECTED", "AP_CONNECTED"} <= kinds


# -- server pings, auth variants, the REST API -------------------------------------------------------------


async def test_the_server_pings_and_drops_a_client_that_never_answers():
    import aiohttp

    async with (
        MistSimulator(seed=1, interval=0.05, ping_interval=0.2) as sim,
        aiohttp.ClientSession() as http,
        http.ws_connect(sim.url, headers=sim.headers, autoping=False) as ws,
    ):
        for _ in range(3):  # answered pings keep the connection
            msg = await ws.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.PING
            await ws.pong(msg.data)
        loop = asyncio.get_running_loop()
        silent_since = loop.time()
        while (msg := await ws.receive(timeout=3)).type == aiohttp.WSMsgType.PING:
            pass  # and now never answer
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert loop.time() - silent_since < 1.5
        assert not sim._peers


async def test_lowercase_token_and_region_cookies_at_the_upgrade(sim):
    for headers in (
        {"Authorization": f"token {sim.token}"},
        {"Authorization": f"TOKEN {sim.token}"},
        {"Cookie": f"sessionid.eu={sim.cookies['sessionid']}; csrftoken.eu={sim.cookies['csrftoken']}"},
        {"Cookie": f"csrftoken.gc1={sim.cookies['csrftoken']}; sessionid.gc1={sim.cookies['sessionid']}"},
    ):
        async with connect(sim.url, additional_headers=headers) as ws:
            assert (await subscribe(ws, "/test"))["event"] == "channel_subscribed"
    mixed = f"sessionid.eu={sim.cookies['sessionid']}; csrftoken.gc1={sim.cookies['csrftoken']}"
    with pytest.raises(InvalidStatus):
        async with connect(sim.url, additional_headers={"Cookie": mixed}):
            pass


@pytest.mark.parametrize(
    "kind",
    ["mxedge_stats", "mxedge_events", "assets", "sdkclients", "unconnected_clients", "discovered_assets",
     "org_insights", "org_mxedge_stats", "org_mxedge_events"],
)  # fmt: skip
async def test_every_channel_kind_is_acknowledged_and_flows(kind):
    async with MistSimulator(seed=5, interval=0.02, sites=1, aps=2, mxedge_event_rate=0.5) as sim, client(sim) as ws:
        channel = sim.channel(kind)
        assert (await subscribe(ws, channel))["event"] == "channel_subscribed"
        msg = await until(ws, lambda m: m["event"] == "data")
        assert msg["channel"] == channel and isinstance(json.loads(msg["data"]), dict)


async def test_a_foreign_org_channel_is_refused(sim):
    async with client(sim) as ws:
        refused = await subscribe(ws, "/orgs/00000000-0000-4000-8000-000000000000/insights/summary")
        assert refused["event"] == "subscribe_failed" and "organisation" in refused["detail"]


async def test_rest_pages_refuses_and_rate_limits():
    import httpx

    async with (
        MistSimulator(seed=6, interval=0.05, sites=5, page_limit=2) as sim,
        httpx.AsyncClient(base_url=sim.rest_url, headers=sim.headers) as http,
    ):
        pages = [await http.get(f"/api/v1/orgs/{sim.org_id}/sites", params={"page": p}) for p in (1, 2, 3, 4)]
        assert [len(p.json()) for p in pages] == [2, 2, 1, 0]
        assert {p.headers["X-Page-Total"] for p in pages} == {"5"} and pages[1].headers["X-Page-Page"] == "2"
        assert [s["name"] for p in pages for s in p.json()] == sim.site_names
        aps = await http.get(f"/api/v1/sites/{sim.site_ids[0]}/devices")  # Mist lists APs unless asked
        everything = await http.get(f"/api/v1/sites/{sim.site_ids[0]}/devices", params={"type": "all", "page": 5})
        assert {d["type"] for d in aps.json()} == {"ap"} and aps.headers["X-Page-Total"] == "8"
        assert everything.headers["X-Page-Total"] == "10"
        assert {d["type"] for d in everything.json()} == {"switch", "gateway"}  # the last page: aps come first
        unauthorized = await http.get("/api/v1/self", headers={"Authorization": "Token wrong"})
        assert unauthorized.status_code == 401 and "detail" in unauthorized.json()
        sim.refuse_next(1, retry_after=0.3, on="rest")
        limited = await http.get("/api/v1/self")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
        assert (await http.get("/api/v1/self")).status_code == 200
        missing = await http.get("/api/v1/sites/nope/maps")
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_a_rest_command_streams_its_output_once_someone_watches():
    import httpx

    async with MistSimulator(seed=7, interval=0.05, sites=1, aps=2) as sim:
        device = sim.devices[0]
        channel = f"/sites/{device['site_id']}/devices/{device['id']}/cmd"
        async with httpx.AsyncClient(base_url=sim.rest_url, headers=sim.headers) as http:
            started = await http.post(
                f"/api/v1/sites/{device['site_id']}/devices/{device['id']}/ping", json={"host": "192.0.2.7"}
            )
            unknown = await http.post(f"/api/v1/sites/{device['site_id']}/devices/{device['id']}/self_destruct")
        assert started.status_code == 200 and unknown.status_code == 404
        await asyncio.sleep(0.3)  # the output waits for a subscriber
        async with client(sim) as ws:
            await subscribe(ws, channel)
            parts = [json.loads((await until(ws, lambda m: m["event"] == "data"))["data"]) for _ in range(3)]
        assert {p["session"] for p in parts} == {started.json()["session"]}
        assert "PING 192.0.2.7" in "".join(p["raw"] for p in parts)
