"""Discovery over Mist's REST API (orgs, sites, devices, maps as tables) and subscribing across sites, against the
simulator's REST API on the stream's port."""

from __future__ import annotations

import time

import pytest

import streamkit as sk
from streamkit.connection.rest import RestClient
from streamkit.protocols.mist import rest_url
from streamkit.sim import MistSimulator


@pytest.fixture(scope="module")
def sim():
    with MistSimulator(seed=51, interval=0.05, sites=5, aps=2, maps=2, page_limit=2) as simulator:
        yield simulator


@pytest.fixture
def mist(sim):
    client = sk.mist(url=sim.url, token=sim.token)
    yield client
    client.close()


def test_the_rest_base_comes_from_the_stream_url(sim, mist):
    assert mist.rest_url == sim.rest_url
    assert sk.mist(region="emea01", token="t").rest_url == "https://api.eu.mist.com"
    assert sk.mist(host="api.gc1.mist.com", token="t").rest_url == "https://api.gc1.mist.com"
    assert rest_url("wss://proxy.example.com:8443/api-ws/v1/stream") == "https://proxy.example.com:8443"


def test_orgs_and_sites_are_tables_with_the_useful_columns_first_across_pages(sim, mist):
    orgs = mist.orgs()
    assert orgs["id"].tolist() == [sim.org_id] and list(orgs.columns[:3]) == ["id", "name", "role"]
    before = sim.counts["rest_requests"]
    sites = mist.sites()  # the org is the token's only one; five sites, two per page
    assert list(sites.columns[:5]) == ["id", "name", "timezone", "country_code", "address"]
    assert sites["id"].tolist() == sim.site_ids and sites["name"].tolist() == sim.site_names
    assert sim.counts["rest_requests"] - before == 1 + 3  # /self, then three pages
    assert mist.sites(org=sim.org_id)["id"].tolist() == sim.site_ids
    with pytest.raises(ValueError, match=r"no single organisation named 'Nope'.*\(simulated\)"):
        mist.sites(org="Nope")


def test_devices_and_maps_by_site_name_or_id(sim, mist):
    site = sim.site_ids[2]
    devices = mist.devices(sim.site_names[2])
    assert list(devices.columns[:4]) == ["id", "name", "type", "model"]
    assert sorted(devices["id"]) == sorted(d["id"] for d in sim.devices if d["site_id"] == site)
    assert set(mist.devices(site, type="ap")["type"]) == {"ap"}
    assert mist.devices("SITE-03", type="switch")["name"].tolist() == ["site-03-sw1"]  # names: any case
    maps = mist.maps(site)
    assert maps["id"].tolist() == sim.map_ids[site] and list(maps.columns[:2]) == ["id", "name"]
    with pytest.raises(ValueError, match=r"no site named 'site-99'.*site-0"):
        mist.devices("site-99")
    with pytest.raises(ValueError, match="type is one of"):
        mist.devices(site, type="router")


def test_a_429_is_waited_out_as_retry_after_says(sim, mist):
    sim.refuse_next(2, retry_after=1, on="rest")
    started = time.monotonic()
    assert mist.maps(sim.site_ids[0])["id"].tolist() == sim.map_ids[sim.site_ids[0]]
    assert time.monotonic() - started >= 2.0
    assert sim.counts["rest_refused_429"] >= 2


def test_a_429_that_does_not_end_is_a_clear_error():
    waits: list[float] = []
    with MistSimulator(seed=52) as sim, RestClient(sim.rest_url, headers=sim.headers, sleep=waits.append) as rest:
        sim.refuse_next(10, retry_after=0.2, on="rest")
        with pytest.raises(sk.RateLimited, match=r"still rate limited \(HTTP 429\) after 4 tries") as info:
            rest.get("/api/v1/self")
    assert waits == [1.0, 1.0, 1.0]  # Retry-After below one second: one second
    assert info.value.retry_after >= 1


def test_refused_credentials_say_what_to_check_and_never_show_the_token(sim):
    wrong = "sim-wrong-token-0123456789"
    mist = sk.mist(url=sim.url, token=wrong)
    with pytest.raises(sk.AuthenticationError, match=r"HTTP 401.*check the API token") as info:
        mist.sites()
    assert wrong not in str(info.value) and sim.token not in str(info.value)
    assert wrong not in repr(mist) and wrong not in repr(mist._rest)
    mist.close()


def test_other_statuses_name_the_url(sim, mist):
    with pytest.raises(sk.ProtocolError, match=r"GET http://127\.0\.0\.1:\d+/api/v1/sites/.+/maps answered HTTP 404"):
        mist.maps("00000000-0000-4000-8000-000000000000")


def test_email_password_and_cookies_work_for_discovery_too(sim):
    with sk.mist(url=sim.url, email=sim.email, password=sim.password) as basic:
        assert basic.sites()["id"].tolist() == sim.site_ids
    regional = {"sessionid.eu": sim.cookies["sessionid"], "csrftoken.eu": sim.cookies["csrftoken"]}
    with sk.mist(url=sim.url, cookies=regional) as session:
        assert session.orgs()["id"].tolist() == [sim.org_id]


def test_subscribe_across_every_site_gets_records_from_each(sim, mist):
    devices = mist.subscribe_sites("stats/devices")  # every site of the org, found over REST
    rows = sk.collect(devices, count=60, timeout=15)
    assert {row.origin.split("/")[2] for row in rows} == set(sim.site_ids)
    assert sim.counts["subscribes"] >= len(sim.site_ids)


def test_subscribe_across_chosen_sites_from_the_table_names_or_ids(sim, mist):
    table = mist.sites()
    picked = table[table["name"].isin(["site-02", "site-04"])]
    rows = sk.collect(mist.subscribe_sites("stats/clients", picked), count=70, timeout=15)  # 30 clients a site
    assert {row.origin for row in rows} == {f"/sites/{sim.site_ids[i]}/stats/clients" for i in (1, 3)}
    assert mist.site_channels("devices", ["site-01", sim.site_ids[4]]) == [
        f"/sites/{sim.site_ids[0]}/devices",
        f"/sites/{sim.site_ids[4]}/devices",
    ]
    per_map = mist.site_channels("stats/maps/{map}/clients", "site-05")
    assert per_map == [f"/sites/{sim.site_ids[4]}/stats/maps/{m}/clients" for m in sim.map_ids[sim.site_ids[4]]]
    one = mist.subscribe_sites("stats/devices", sim.site_ids[0])
    assert one is mist.subscribe(f"/sites/{sim.site_ids[0]}/stats/devices")  # one site: its own Stream
    with pytest.raises(ValueError, match="selection is empty"):
        mist.subscribe_sites("stats/devices", [])


async def test_discovery_inside_a_running_loop_lets_that_loop_serve():
    """In a notebook the simulator runs on the kernel's loop, the one the cell blocks: discovery must not starve it."""
    async with MistSimulator(seed=53, sites=3) as sim:
        mist = sk.mist(url=sim.url, token=sim.token)
        assert mist.sites()["id"].tolist() == sim.site_ids
        await mist.aclose()
