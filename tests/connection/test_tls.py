"""wss:// and https:// with certificate verification: the simulators serve TLS with a certificate made here."""

from __future__ import annotations

import ssl

import pytest
import trustme

import streamkit as sk
from streamkit.sim import MistSimulator, SmcSimulator


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def contexts(ca):
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def test_mist_over_tls_with_the_users_ca(contexts):
    server, client = contexts
    with MistSimulator(seed=31, interval=0.05, sites=1, aps=2, ssl=server) as sim:
        assert sim.url.startswith("wss://127.0.0.1:")
        mist = sk.mist(url=sim.url, token=sim.token, ssl=client)
        rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=2, timeout=10)
        mist.close()
    assert rows[0]["mac"].startswith("5c5b35")


def test_an_unknown_certificate_is_refused_with_what_to_do(contexts):
    server, _ = contexts
    with MistSimulator(seed=31, interval=0.05, sites=1, aps=2, ssl=server) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)  # the system's trust store: this CA is not in it
        with pytest.raises(sk.ConnectionLost, match=r"certificate .* was not accepted .*ssl=") as info:
            sk.collect(mist.subscribe(sim.channel("device_stats")), count=1, timeout=10)
        assert sim.token not in str(info.value)
        assert sim.counts["connections"] == 0 and mist.state == "failed"  # refused once, no retry storm
        mist.close()


def test_smc_over_tls(contexts, ca):
    server, client = contexts
    with SmcSimulator(seed=32, interval=0.05, engines=1, clusters=0, ssl=server) as sim:
        assert sim.url.startswith("https://")
        smc = sk.smc(url=sim.url, api_key=sim.api_key, ssl=client)
        rows = sk.collect(smc.subscribe(context="fw_single"), count=1, timeout=10)
        smc.close()
        assert rows[0]["name"]
        refused = sk.smc(url=sim.url, api_key=sim.api_key)
        with pytest.raises(sk.StreamkitError, match="certificate") as info:
            sk.collect(refused.subscribe(context="fw_single"), count=1, timeout=10)
        assert sim.api_key not in str(info.value)
        refused.close()
