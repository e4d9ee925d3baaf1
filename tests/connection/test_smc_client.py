"""sk.smc against the SMC simulator: REST login, cookie, status socket, re-login, logout."""

from __future__ import annotations

import pytest

import streamkit as sk
from streamkit.connection import Gap, Reconnect
from streamkit.sim import SmcSimulator

from .test_mist_client import wait_for

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
