"""An SMC client sharded on a real in-process cluster against the SMC simulator: each shard logs in on its worker
(a session of its own, logged out when it stops), subscribes to its contexts and elements (a name looked up on the
worker), and its records reach the kernel; a refused API key and an unknown element fail the subscription with
what to do; a channel smc.subscribe does not take is refused in the kernel."""

from __future__ import annotations

import logging
import time

import pytest

import streamkit as sk
from streamkit.errors import AuthenticationError
from streamkit.scale import ShardError
from streamkit.sim import SmcSimulator


@pytest.mark.timeout(90)
def test_smc_contexts_and_elements_sharded_reach_the_kernel_and_every_session_ends(caplog):
    caplog.set_level(logging.DEBUG)
    with SmcSimulator(seed=1, interval=0.05) as sim, sk.cluster(workers=1, processes=False) as cluster:
        smc = sk.smc(url=sim.url, api_key=sim.api_key)
        node = sim.hrefs["nodes"][0]
        status = cluster.subscribe(
            smc, [{"context": "fw_single"}, {"element": "fw-berlin node 1"}], shards=2, flush_every=0.1
        )
        assert sim.sessions == 0  # nothing logged in yet: the kernel's client does not connect
        rows = []
        status.subscribe(rows.append)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and {r.origin[0] for r in rows} != {"context", "element"}:
            time.sleep(0.1)
        origins = {row.origin for row in rows}
        assert ("element", node) in origins  # the name was looked up on the worker, with the shard's session
        assert any(origin == ("context", "fw_single") for origin in origins)
        assert all("monitoring_state" in row or "name" in row for row in rows)
        assert sim.sessions == 2  # one login per shard, on the worker
        health = cluster.health()["subscriptions"][0]
        assert sorted(shard["status"] for shard in health["shards"]) == ["live", "live"]
        cluster.close()
        assert sim.sessions == 0 and sim.open_connections == 0  # every shard logged out and closed its socket
        smc.close()
    assert sim.api_key not in caplog.text + repr(status) + str(health)


@pytest.mark.timeout(90)
def test_a_refused_api_key_and_an_unknown_element_fail_the_subscription_with_what_to_do(caplog):
    with SmcSimulator(seed=1, interval=0.05) as sim, sk.cluster(workers=1, processes=False) as cluster:
        wrong = "wrong-key-0123456789abcdef"
        refused = cluster.subscribe(sk.smc(url=sim.url, api_key=wrong), [{"context": "fw_single"}], flush_every=0.1)
        with pytest.raises(AuthenticationError) as raised:
            sk.collect(refused, count=1, timeout=20)
        assert isinstance(raised.value, ShardError) and wrong not in str(raised.value)
        assert "SMC login failed (HTTP 401): check the API key" in str(raised.value)

        unknown = cluster.subscribe(
            sk.smc(url=sim.url, api_key=sim.api_key), [{"element": "fw-nowhere"}], flush_every=0.1
        )
        with pytest.raises(ShardError, match=r"ValueError: .*fw-nowhere") as raised:
            sk.collect(unknown, count=1, timeout=20)
        assert "fw-berlin" in str(raised.value)  # the close matches the server has
        cluster.close()
        assert sim.sessions == 0 and sim.open_connections == 0
    assert wrong not in caplog.text and sim.api_key not in caplog.text


def test_a_channel_the_client_does_not_take_is_refused_in_the_kernel():
    with SmcSimulator(seed=1) as sim, sk.cluster(workers=1, processes=False) as cluster:
        with sk.smc(url=sim.url, api_key=sim.api_key) as smc:
            with pytest.raises(ValueError, match=r"keyword arguments it takes \(context, element\)"):
                cluster.subscribe(smc, ["fw_single"])
            with pytest.raises(ValueError, match=r"unexpected keyword argument 'engine'"):
                cluster.subscribe(smc, [{"engine": "fw-berlin"}])
            one = cluster.subscribe(smc, {"context": "fw_single"})  # one channel alone, not a list of its keys
            assert "1 shards, 1 channels" in repr(one)
        with pytest.raises(TypeError, match=r"takes a client such as sk\.mist"):
            cluster.subscribe("not a client", ["/a"])  # type: ignore[arg-type]
        assert sim.sessions == 0


@pytest.mark.timeout(90)
def test_observed_again_at_once_after_its_last_observer_left_a_subscription_starts_afresh(caplog):
    """The run its last observer left is still stopping (its stop event set, its topic being unsubscribed) when the
    next observer starts the next run: that run has its own topic and stop event, so its shards neither stop at
    once (and get resubmitted) nor go unheard."""
    caplog.set_level(logging.WARNING)
    with SmcSimulator(seed=1, interval=0.05) as sim, sk.cluster(workers=1, processes=False) as cluster:
        with sk.smc(url=sim.url, api_key=sim.api_key) as smc:
            channels = [{"context": "fw_single"}, {"element": "fw-berlin"}]
            status = cluster.subscribe(smc, channels, shards=2, flush_every=0.1)
            for _ in range(3):  # each collect is a run: its last observer leaves, the next one comes at once
                rows = sk.collect(status, count=5, timeout=20)
                assert len(rows) == 5
            health = status.health()
            assert health["resubmissions"] == 0 and health["restarts"] == 0
            assert "before it was stopped" not in caplog.text
            cluster.close()
        assert sim.sessions == 0 and sim.open_connections == 0
