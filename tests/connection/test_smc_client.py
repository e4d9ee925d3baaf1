"""sk.smc against the SMC simulator: REST login, cookie, status socket, re-login, logout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web

import streamkit as sk
from streamkit.connection import Gap, Reconnect
from streamkit.sim import SmcSimulator

from .smc_servers import LoopbackSmc
from .test_mist_client import wait_for

SEED = json.loads((Path(__file__).parents[1] / "data" / "smc_seed_frames.json").read_text())

FAST = Reconnect(initial=0.05, cap=0.2)


@pytest.fixture
def sim():
    with SmcSimulator(seed=2, interval=0.05, engines=2, clusters=1, tunnels=2) as s:
        yield s


def test_context_and_element_statuses_carry_what_they_were_subscribed_for(sim):
    client = sk.smc(url=sim.url, api_key=sim.api_key)
    nodes = sk.collect(client.subscribe(context="fw_single"), count=2, timeout=5)
    assert {r.origin for r in nodes} == {("context", "fw_single")}
    assert {r["name"] for r in nodes} == {n.name for e in sim.world.engines if e.type == "single_fw" for n in e.nodes}
    href = sim.hrefs["endpoints"][1]
    statuses = sk.collect(client.subscribe(element=href), count=3, timeout=5)
    assert all(r.origin == ("element", href) for r in statuses)
    assert {"health_in_percent", "latency_in_ms", "packet_loss_in_permyriad"} <= set(statuses[0])
    assert client.session is not None and client.session.version == "7.2"
    assert sim.counts["logins"] == 1
    client.close()
    assert sim.counts["logouts"] == 1 and sim.sessions == 0  # logout on close


def test_two_subscriptions_share_one_socket(sim):
    client = sk.smc(url=sim.url, api_key=sim.api_key)
    got: list[dict] = []
    client.subscribe(context="fw_cluster").subscribe(got.append)
    client.subscribe(element=sim.hrefs["tunnels"][0]).subscribe(got.append)
    wait_for(lambda: {r.origin[0] for r in got} == {"context", "element"})
    assert sim.counts["connections"] == 1
    client.close()


def test_bad_key_is_an_authentication_error(sim):
    client = sk.smc(url=sim.url, api_key="wrong")
    with pytest.raises(sk.AuthenticationError, match="API key"):
        sk.collect(client.subscribe(context="fw_single"), count=1, timeout=5)
    assert sim.counts["refused_login"] == 1


def test_unknown_element_errors_only_its_observable(sim):
    client = sk.smc(url=sim.url, api_key=sim.api_key)
    good: list[dict] = []
    errors: list[Exception] = []
    client.subscribe(element=sim.hrefs["tunnels"][0]).subscribe(good.append)
    client.subscribe(element=f"{sim.url}/7.2/elements/single_fw/1").subscribe(on_error=errors.append)
    wait_for(lambda: errors)
    assert isinstance(errors[0], sk.SubscriptionError) and "Element not found" in str(errors[0])
    count = len(good)
    wait_for(lambda: len(good) > count + 2)
    client.close()


def test_expired_session_logs_in_again_after_a_drop(sim):
    client = sk.smc(url=sim.url, api_key=sim.api_key, reconnect=FAST)
    events: list[object] = []
    client.events.subscribe(events.append)
    got: list[dict] = []
    client.subscribe(element=sim.hrefs["endpoints"][0]).subscribe(got.append)
    wait_for(lambda: got)
    sim.expire_sessions()
    sim.drop_connections()
    wait_for(lambda: any(isinstance(e, Gap) for e in events))
    count = len(got)
    wait_for(lambda: len(got) > count)
    assert sim.counts["logins"] == 2
    client.close()
    assert sim.sessions == 0


def test_lms_login_and_env(sim, monkeypatch):
    client = sk.smc(url=sim.url, login=sim.login, password=sim.password)
    assert sk.collect(client.subscribe(context="single_fw"), count=1, timeout=5)
    client.close()
    monkeypatch.setenv("SMC_URL", sim.url)
    monkeypatch.setenv("SMC_API_KEY", sim.api_key)
    client = sk.smc()
    assert sk.collect(client.subscribe(context="fw_single"), count=1, timeout=5)
    assert sim.api_key not in repr(client) and sim.api_key not in repr(client.session)
    client.close()


def test_argument_errors_say_what_to_pass(monkeypatch):
    monkeypatch.delenv("SMC_URL", raising=False)
    monkeypatch.delenv("SMC_API_KEY", raising=False)
    with pytest.raises(ValueError, match="SMC_URL"):
        sk.smc(api_key="k")
    with pytest.raises(ValueError, match="SMC_API_KEY"):
        sk.smc(url="https://smc:8082")
    with pytest.raises(ValueError, match="REST base"):
        sk.smc(url="wss://smc:8082", api_key="k")
    with pytest.raises(ValueError, match="exactly one"):
        sk.smc(url="https://smc:8082", api_key="k").subscribe()


class GuideSmc(LoopbackSmc):
    """An SMC whose status socket answers the API guide's two example requests with the guide's replies, byte
    for byte (and anything else with a failure)."""

    def __init__(self) -> None:
        super().__init__(version="7.2.1", routes={("GET", "status/socket"): self.socket})
        self.received: list[str] = []

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        if request.cookies.get("JSESSIONID") != self.cookie:
            raise web.HTTPUnauthorized()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            self.received.append(msg.data)
            for name in ("endpoint", "node"):
                if json.loads(msg.data) == json.loads(SEED[f"{name}_request"]):
                    await ws.send_str(SEED[f"{name}_subscribed"])
                    await ws.send_str(SEED[f"{name}_status"])
                    break
            else:
                await ws.send_str('{"failure":"not in the guide"}')
        return ws


def test_the_api_guide_example_exchange_through_a_real_client():
    """sk.smc against a server that sends exactly the guide's frames: the statuses arrive unchanged, for the
    element they were subscribed for, although the guide's server numbered the second subscription 5."""
    endpoint = json.loads(SEED["endpoint_request"])["element"]
    node = json.loads(SEED["node_request"])["element"]
    with GuideSmc() as server, sk.smc(url=server.url, api_key="k") as client:
        wire: list[bytes] = []  # the frames as they came off the socket
        client.tap(lambda _t, direction, frame, _topic: direction == "in" and wire.append(frame))
        tunnel = sk.collect(client.subscribe(element=endpoint), count=1, timeout=5)
        plano = sk.collect(client.subscribe(element=node), count=1, timeout=5)
        assert client.session is not None and client.session.version == "7.2.1"  # a three-part version
    requests = [frame for frame in server.received if "unsubscribe" not in frame]  # collect() leaves after
    assert requests == [SEED["endpoint_request"].strip(), SEED["node_request"].strip()]
    wire = [frame if isinstance(frame, bytes) else frame.encode() for frame in wire]
    assert wire[:2] == [SEED["endpoint_subscribed"].encode(), SEED["endpoint_status"].encode()]
    assert SEED["node_subscribed"].encode() in wire and SEED["node_status"].encode() in wire
    assert dict(tunnel[0]) == json.loads(SEED["endpoint_status"])["status"]["status"]
    assert tunnel[0].origin == ("element", endpoint)
    assert dict(plano[0]) == {"monitoring_state": "READY", "monitoring_status": "OK", "name": "Plano node 1"}
    assert plano[0].origin == ("element", node)
