"""The SMC simulator, driven by httpx and a plain websockets client written from the SMC API guide."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from streamkit.sim import SmcSimulator, SmcWorld

SEED = json.loads((Path(__file__).parents[1] / "data" / "smc_seed_frames.json").read_text())


@pytest.fixture
async def sim():
    async with SmcSimulator(seed=1, interval=0.05, engines=2, clusters=1, tunnels=2, flap_rate=0.2) as s:
        yield s


async def login(sim: SmcSimulator, http: httpx.AsyncClient) -> str:
    r = await http.post(f"{sim.url}/{sim.version}/login", json={"authenticationkey": sim.api_key, "domain": None})
    assert r.status_code == 200
    return r.cookies["JSESSIONID"]


def socket(sim: SmcSimulator, cookie: str) -> connect:
    return connect(sim.socket_url, additional_headers={"Cookie": f"JSESSIONID={cookie}"}, close_timeout=0.5)


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_version_discovery_and_entry_points(sim):
    async with httpx.AsyncClient() as http:
        versions = (await http.get(f"{sim.url}/api")).json()["version"]
        assert [v["rel"] for v in versions] == ["6.10", "7.1", "7.2"]
        points = {p["rel"]: p for p in (await http.get(f"{sim.url}/7.2/api")).json()["entry_point"]}
        assert points["logout"]["method"] == "PUT"
        assert points["logout"]["href"] == f"{sim.url}/7.2/logout"
        assert (await http.get(f"{sim.url}/9.9/api")).status_code == 404


async def test_bad_key_and_bad_password_are_refused(sim):
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{sim.url}/7.2/login", json={"authenticationkey": "wrong"})
        assert r.status_code == 401 and "JSESSIONID" not in r.cookies
        r = await http.post(f"{sim.url}/7.2/lms_login", params={"login": sim.login, "pwd": "wrong"})
        assert r.status_code == 401
        r = await http.post(f"{sim.url}/7.2/lms_login", params={"login": sim.login, "pwd": sim.password})
        assert r.status_code == 200 and r.cookies["JSESSIONID"]


async def test_socket_needs_a_live_session_cookie(sim):
    for headers in ({}, {"Cookie": "JSESSIONID=forged"}):
        with pytest.raises(InvalidStatus) as info:
            async with connect(sim.socket_url, additional_headers=headers):
                pass
        assert info.value.response.status_code == 401


async def test_login_cookie_socket_status_logout_refused(sim):
    node = sim.hrefs["nodes"][0]
    async with httpx.AsyncClient() as http:
        cookie = await login(sim, http)
        me = (await http.get(f"{sim.url}/7.2/system/current_user")).json()["value"]
        assert me == f"{sim.url}/7.2/elements/api_client/1"
        assert (await http.get(me)).json()["name"] == sim.api_client
        async with socket(sim, cookie) as ws:
            await ws.send(json.dumps({"element": node}))
            assert await recv(ws) == {"success": "Subscribed for status", "subscription_id": 0}
            first = await recv(ws)
            assert first["subscription_id"] == 0
            status = first["status"]["status"]
            assert status["engine_node_status"] in {"Online", "Standby", "Offline", "Going Online"}
            assert {
                "name",
                "monitoring_state",
                "monitoring_status",
                "installed_policy",
                "configuration_status",
                "platform",
                "version",
                "dyn_up",
                "master_node",
                "result",
            } <= set(status)
        assert (await http.put(f"{sim.url}/7.2/logout")).status_code == 204
        assert (await http.get(f"{sim.url}/7.2/system/current_user")).status_code == 401
    with pytest.raises(InvalidStatus) as info:
        async with socket(sim, cookie):
            pass
    assert info.value.response.status_code == 401
    assert sim.sessions == 0


@pytest.mark.parametrize("spelling", ["fw_single", "single_fw"])
async def test_context_subscription_gives_every_node_of_the_family(sim, spelling):
    single_nodes = {n.name for e in sim.world.engines if e.type == "single_fw" for n in e.nodes}
    async with httpx.AsyncClient() as http, socket(sim, await login(sim, http)) as ws:
        await ws.send(json.dumps({"context": spelling}))
        assert (await recv(ws))["success"] == "Subscribed for status"
        names = {(await recv(ws))["status"]["status"]["name"] for _ in single_nodes}
        assert names == single_nodes


async def test_ids_count_from_zero_per_connection_and_failures(sim):
    async with httpx.AsyncClient() as http:
        cookie = await login(sim, http)
        for _ in range(2):
            async with socket(sim, cookie) as ws:
                await ws.send(json.dumps({"context": "fw_cluster"}))
                await ws.send(json.dumps({"context": "no_such_context"}))
                await ws.send(json.dumps({"element": sim.hrefs["endpoints"][0]}))
                await ws.send(json.dumps({"element": f"{sim.url}/7.2/elements/single_fw/1"}))
                await ws.send(json.dumps({"unsubscribe": 99}))
                replies = []
                async with asyncio.timeout(5):
                    while len(replies) < 5:
                        msg = await recv(ws)
                        if "status" not in msg:
                            replies.append(msg)
                assert replies == [
                    {"success": "Subscribed for status", "subscription_id": 0},
                    {"failure": "Unknown context: no_such_context"},
                    {"success": "Subscribed for status", "subscription_id": 1},
                    {"failure": f"Element not found: {sim.url}/7.2/elements/single_fw/1"},
                    {"failure": "Unknown subscription_id 99"},
                ]


async def test_status_on_change_then_unsubscribe_stops_it(sim):
    endpoint = sim.hrefs["endpoints"][0]
    async with httpx.AsyncClient() as http, socket(sim, await login(sim, http)) as ws:
        await ws.send(json.dumps({"element": endpoint}))
        await recv(ws)
        figures = [(await recv(ws))["status"]["status"] for _ in range(4)]  # current, then one per change
        assert {
            "health_in_percent",
            "latency_in_ms",
            "jitter_in_ms",
            "packet_loss_in_permyriad",
            "traffic_in_bits_per_sec",
            "vpn_status_code",
        } <= set(figures[0])
        assert len({f["traffic_in_bits_per_sec"] for f in figures}) > 1, "tunnel figures drift"
        await ws.send(json.dumps({"unsubscribe": 0}))
        async with asyncio.timeout(5):
            while "success" not in (msg := await recv(ws)):
                pass
        assert msg == {"success": "Unsubscribed", "subscription_id": 0}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)


async def test_engine_and_vpn_elements_list_their_children_as_hrefs(sim):
    async with httpx.AsyncClient() as http, socket(sim, await login(sim, http)) as ws:
        await ws.send(json.dumps({"element": sim.hrefs["engines"][-1]}))  # the cluster
        await recv(ws)
        cluster = (await recv(ws))["status"]["status"]
        assert [c["href"] for c in cluster["result"]] == [n for n in sim.hrefs["nodes"] if "fw_cluster" in n]
        await ws.send(json.dumps({"element": sim.hrefs["vpns"][0]}))
        async with asyncio.timeout(5):
            while (msg := await recv(ws)).get("subscription_id") != 1 or "status" not in msg:
                pass
        assert [c["href"] for c in msg["status"]["status"]["result"]] == sim.hrefs["tunnels"][:2]


async def test_rest_element_listing(sim):
    async with httpx.AsyncClient() as http:
        await login(sim, http)
        listing = (await http.get(f"{sim.url}/7.2/elements/single_fw")).json()["result"]
        assert [e["href"] for e in listing] == sim.hrefs["engines"][:2]


async def test_session_expiry():
    async with SmcSimulator(seed=1, session_ttl=0.2) as sim, httpx.AsyncClient() as http:
        await login(sim, http)
        assert (await http.get(f"{sim.url}/7.2/system/current_user")).status_code == 200
        await asyncio.sleep(0.3)
        assert (await http.get(f"{sim.url}/7.2/system/current_user")).status_code == 401
        cookie = await login(sim, http)
        sim.expire_sessions()
        with pytest.raises(InvalidStatus):
            async with socket(sim, cookie):
                pass


def test_cluster_nodes_fail_over_and_keep_one_online():
    world = SmcWorld(seed=2, engines=0, clusters=3, cluster_nodes=2, vpns=0, flap_rate=0.2)
    seen = set()
    for _ in range(300):
        world.tick()
        for engine in world.engines:
            states = [n.state for n in engine.nodes]
            seen.update(states)
            assert states.count("Online") <= 1 or len(states) > 2
    assert {"Online", "Standby", "Offline", "Going Online"} <= seen


def test_same_seed_same_estate():
    assert SmcWorld(seed=3).paths == SmcWorld(seed=3).paths
    assert SmcWorld(seed=3).paths != SmcWorld(seed=4).paths


async def test_every_json_answer_is_exactly_application_json(sim):
    """fp-ngfw-smc-python reads a body only when the content type is exactly ``application/json``."""
    async with httpx.AsyncClient() as http:
        answers = [await http.get(f"{sim.url}/api"), await http.get(f"{sim.url}/7.2/api")]
        answers.append(await http.post(f"{sim.url}/7.2/login", json={"authenticationkey": sim.api_key}))
        for path in ("system/current_user", "elements?filter_context=engine_clusters", "elements/single_fw"):
            answers.append(await http.get(f"{sim.url}/7.2/{path}"))
        answers.append(await http.get(sim.hrefs["engines"][0]))
        answers.append(await http.get(f"{sim.url}/7.2/elements/single_fw/1"))  # errors too
        answers.append(await http.get(f"{sim.url}/9.9/api"))
    assert [r.status_code for r in answers] == [200] * 7 + [404, 404]
    assert {r.headers["content-type"] for r in answers} == {"application/json"}
    assert answers[-2].json()["message"] == f"Element not found: {sim.url}/7.2/elements/single_fw/1"


async def test_elements_by_href_with_etag_and_listings_by_filter(sim):
    async with httpx.AsyncClient() as http:
        await login(sim, http)
        cluster = sim.hrefs["engines"][-1]
        r = await http.get(cluster)
        doc, etag = r.json(), r.headers["etag"]
        assert doc["name"] == sim.world.engines[-1].name
        assert doc["link"][0] == {"href": cluster, "rel": "self", "type": "fw_cluster"}
        nodes = [n["firewall_node"]["link"][0]["href"] for n in doc["nodes"]]
        assert nodes == [n for n in sim.hrefs["nodes"] if n.startswith(cluster + "/")]
        assert (await http.get(cluster, headers={"If-None-Match": etag})).status_code == 304
        assert (await http.get(sim.hrefs["engines"][0])).headers["etag"] != etag
        for href in (sim.hrefs["nodes"][0], sim.hrefs["vpns"][0], sim.hrefs["tunnels"][0], sim.hrefs["endpoints"][0]):
            assert (await http.get(href)).json()["link"][0]["href"] == href
        every = (await http.get(f"{sim.url}/7.2/elements", params={"filter_context": "engine_clusters"})).json()
        assert [e["href"] for e in every["result"]] == sim.hrefs["engines"]
        assert {tuple(e) for e in every["result"]} == {("name", "href", "type")}  # the official client's Meta
        name = sim.world.engines[1].name
        exact = {"filter": name, "filter_context": "single_fw", "exact_match": "true"}
        found = (await http.get(f"{sim.url}/7.2/elements", params=exact)).json()["result"]
        assert [e["name"] for e in found] == [name]
        some = (await http.get(f"{sim.url}/7.2/elements/single_fw", params={"filter": "FW-", "limit": "1"})).json()
        assert len(some["result"]) == 1
        assert (await http.get(f"{sim.url}/7.2/elements/no_such_kind")).status_code == 404


async def test_every_offered_version_is_served_with_hrefs_in_that_version():
    async with (
        SmcSimulator(seed=1, api_versions=("7.2.1", "6.10"), interval=0.05) as sim,
        httpx.AsyncClient() as http,
    ):
        assert [v["rel"] for v in (await http.get(f"{sim.url}/api")).json()["version"]] == ["6.10", "7.2.1"]
        assert sim.version == "7.2.1" and sim.hrefs["endpoints"][0].startswith(f"{sim.url}/7.2.1/elements/vpn/5/")
        r = await http.post(f"{sim.url}/6.10/login", json={"authenticationkey": sim.api_key})
        assert r.status_code == 200
        listing = (await http.get(f"{sim.url}/6.10/elements/vpn")).json()["result"]
        assert listing[0]["href"] == f"{sim.url}/6.10/elements/vpn/5"
        async with connect(
            f"ws://{sim.host}:{sim.port}/6.10/status/socket",
            additional_headers={"Cookie": f"JSESSIONID={r.cookies['JSESSIONID']}"},
        ) as ws:
            await ws.send(json.dumps({"element": sim.hrefs["vpns"][0]}))  # an href in another version: same element
            assert (await recv(ws))["success"] == "Subscribed for status"
            children = (await recv(ws))["status"]["status"]["result"]
            assert children[0]["href"].startswith(f"{sim.url}/6.10/elements/vpn/5/tunnels/")
    with pytest.raises(ValueError, match="API versions"):
        SmcSimulator(api_versions=("latest",))


async def test_status_socket_pings_its_clients():
    async with (
        SmcSimulator(seed=1, heartbeat=0.6) as sim,
        httpx.AsyncClient() as http,
        aiohttp.ClientSession(cookies={"JSESSIONID": await login(sim, http)}) as session,
        session.ws_connect(sim.socket_url, autoping=False) as ws,
    ):
        msg = await ws.receive(timeout=2)
        assert msg.type == aiohttp.WSMsgType.PING
        await ws.pong(msg.data)
        assert (await ws.receive(timeout=2)).type == aiohttp.WSMsgType.PING
        # a client that stops answering is dropped
        async with asyncio.timeout(3):
            while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                pass


def test_statuses_have_the_api_guide_fields_and_json_kinds():
    """The simulator's endpoint status has the guide's example's keys, in its order, with the same JSON kinds;
    engine nodes carry at least the guide's node keys; ids are base64 as the SMC's."""
    world = SmcWorld(seed=5)
    guide_endpoint = json.loads(SEED["endpoint_status"])["status"]["status"]
    guide_node = json.loads(SEED["node_status"])["status"]["status"]
    endpoint = world.vpns[0].tunnels[0].children[0]
    ours = world.status(endpoint.path)
    assert list(ours) == list(guide_endpoint)
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in guide_endpoint.items()}
    assert ours["name"] == world.vpns[0].name and ours["vpn_status_code"] in {"Idle", "Warning", "Error"}
    assert ours["result"] and {tuple(c) for c in ours["result"]} == {("href", "name", "type")}
    assert {c["type"] for c in ours["result"]} == {"gateway_tunnel"}
    hub_tunnels = [t.path for t in world.vpns[0].tunnels]
    assert [c["href"] for c in ours["result"]] == hub_tunnels  # the hub's endpoint lists all the hub's tunnels
    node = world.status(world.engines[0].nodes[0].path)
    assert set(guide_node) <= set(node) and list(node) == sorted(node)
    tunnel_id = endpoint.path.split("/tunnels/")[1].split("/")[0]
    first, second = base64.b64decode(tunnel_id).decode().split("#")
    assert int(first) < int(second)
    assert base64.b64decode(endpoint.id).decode().count("#") == 1
