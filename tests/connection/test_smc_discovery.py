"""SMC discovery on the client: element tables, engines, subscribe by name; one login session shared with the
status socket; rate limits and refusals. Against the SMC simulator (and, for 429/403, a loopback server that
answers like an SMC under load or with a restricted role)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp import web

import streamkit as sk
from streamkit.connection.rest import MIN_WAIT
from streamkit.sim import SmcSimulator

from .smc_servers import LoopbackSmc


@pytest.fixture
def sim() -> Iterator[SmcSimulator]:
    with SmcSimulator(seed=2, interval=0.05, engines=3, clusters=1, tunnels=2) as s:
        yield s


def test_engines_and_elements_are_tables_with_name_type_href_first(sim):
    with sk.smc(url=sim.url, api_key=sim.api_key) as smc:
        engines = smc.engines()
        assert engines.columns[:3].tolist() == ["name", "type", "href"]
        assert engines["name"].tolist() == [e.name for e in sim.world.engines]
        assert engines["href"].tolist() == sim.hrefs["engines"]
        assert engines["type"].tolist() == ["single_fw"] * 3 + ["fw_cluster"]
        firewalls = smc.elements("single_fw")
        assert firewalls["href"].tolist() == sim.hrefs["engines"][:3]
        assert smc.elements("fw_cluster")["name"].tolist() == [sim.world.engines[-1].name]
        assert smc.elements("vpn")["href"].tolist() == sim.hrefs["vpns"]
        assert smc.elements("virtual_fw").empty and smc.elements("virtual_fw").columns[:3].tolist() == [
            "name",
            "type",
            "href",
        ]
        with pytest.raises(ValueError, match=r"no element type 'single_fv'.*'single_fw'"):
            smc.elements("single_fv")
    assert sim.counts["logins"] == 1 and sim.sessions == 0  # one session for every call, logged out on close


def test_discovery_and_the_status_socket_share_one_session(sim):
    smc = sk.smc(url=sim.url, api_key=sim.api_key)
    engines = smc.engines()
    cluster = engines.loc[engines["type"] == "fw_cluster", "name"].item()
    statuses = sk.collect(smc.subscribe(element=cluster), count=1, timeout=5)
    assert statuses[0]["name"] == cluster
    assert statuses[0].origin == ("element", sim.hrefs["engines"][-1])
    assert smc.elements("vpn")["name"].tolist() == [sim.world.vpns[0].name]
    assert sim.counts["logins"] == 1 and sim.sessions == 1
    smc.close()
    assert sim.counts["logouts"] == 1 and sim.sessions == 0
    with pytest.raises(RuntimeError, match="closed"):
        smc.engines()


def test_subscribe_by_node_or_vpn_name(sim):
    with sk.smc(url=sim.url, api_key=sim.api_key) as smc:
        node = sim.world.engines[0].nodes[0]
        got = sk.collect(smc.subscribe(element=node.name), count=1, timeout=5)
        assert got[0].origin == ("element", sim.hrefs["nodes"][0]) and got[0]["name"] == node.name
        # the same element by name or by href is the same stream
        assert smc.subscribe(element=node.name) is smc.subscribe(element=sim.hrefs["nodes"][0])
        vpn = sk.collect(smc.subscribe(element="Corporate VPN"), count=1, timeout=5)
        assert vpn[0].origin == ("element", sim.hrefs["vpns"][0])


def test_unknown_and_ambiguous_names_say_what_is_close(sim):
    with (
        sk.smc(url=sim.url, api_key=sim.api_key) as smc,
        pytest.raises(ValueError, match=r"no SMC .* named 'fw-berln'.*'fw-berlin'"),
    ):
        smc.subscribe(element="fw-berln")
    twins = SmcSimulator(seed=2, engines=1, clusters=0, vpns=1)
    twins.world.vpns[0].name = twins.world.engines[0].name  # an engine and a VPN of the same name
    with (
        twins,
        sk.smc(url=twins.url, api_key=twins.api_key) as smc,
        pytest.raises(ValueError, match=r"2 SMC elements are named 'fw-berlin'.*single_fw.*vpn.*href"),
    ):
        smc.resolve("fw-berlin")


def test_discovery_logs_in_again_when_the_session_expired(sim):
    with sk.smc(url=sim.url, api_key=sim.api_key) as smc:
        assert len(smc.engines()) == 4
        sim.expire_sessions()
        assert len(smc.engines()) == 4
        assert sim.counts["logins"] == 2


def test_bad_key_is_an_authentication_error_and_leaks_nothing(sim):
    with sk.smc(url=sim.url, api_key="not-the-key") as smc, pytest.raises(sk.AuthenticationError) as info:
        smc.engines()
    assert "API key" in str(info.value) and "not-the-key" not in str(info.value)


def test_discovery_from_the_loop_thread_as_in_a_notebook_cell(sim):
    """A cell runs on the kernel's loop: the call waits for the table while the loop keeps serving."""

    async def cell() -> list[str]:
        loop_sim = SmcSimulator(seed=2, engines=2, clusters=0)  # on this very loop, as in a notebook
        async with loop_sim:
            smc = sk.smc(url=loop_sim.url, api_key=loop_sim.api_key)
            names = smc.engines()["name"].tolist()  # synchronous, on the loop's own thread
            await smc.aclose()
            assert loop_sim.sessions == 0
        return names

    assert asyncio.run(cell()) == ["fw-berlin", "fw-paris"]


# -- an SMC under load, or with a restricted role ------------------------------------------------------------


class StrictSmc(LoopbackSmc):
    """A loopback SMC whose listing answers 429 ``busy`` times (Retry-After: 0.1), or 403 for ``forbidden``."""

    def __init__(self, *, busy: int = 0, forbidden: str = "") -> None:
        super().__init__(routes={("GET", "elements"): self.listing})
        self.busy = busy
        self.forbidden = forbidden
        self.asked: list[float] = []

    async def listing(self, request: web.Request) -> web.Response:
        self.asked.append(self.loop.time())
        if request.query.get("filter_context") == self.forbidden:
            return web.json_response({"message": "forbidden"}, status=403)
        if self.busy:
            self.busy -= 1
            return web.json_response({"message": "busy"}, status=429, headers={"Retry-After": "0.1"})
        fw1 = {"name": "fw1", "href": f"{self.url}/7.2/elements/single_fw/1", "type": "single_fw"}
        return web.json_response({"result": [fw1]})


def test_rate_limited_discovery_waits_as_retry_after_says():
    with StrictSmc(busy=2) as server, sk.smc(url=server.url, api_key="k") as smc:
        assert smc.engines()["name"].tolist() == ["fw1"]
        assert len(server.asked) == 3
        assert all(b - a >= 0.09 for a, b in zip(server.asked, server.asked[1:], strict=False))


def test_rate_limit_that_does_not_end_is_reported():
    with StrictSmc(busy=99) as server, sk.smc(url=server.url, api_key="k") as smc:
        with pytest.raises(sk.RateLimited, match="rate-limiting") as info:
            smc.engines()
        assert info.value.retry_after == pytest.approx(MIN_WAIT) and len(server.asked) == 4  # Retry-After 0.1: 1 s


def test_forbidden_listing_says_what_to_check_without_the_cookie():
    with StrictSmc(forbidden="engine_clusters") as server, sk.smc(url=server.url, api_key="k") as smc:
        with pytest.raises(sk.AuthenticationError, match=r"HTTP 403.*role may view") as info:
            smc.engines()
        assert server.cookie not in str(info.value)
