"""Juniper's own Python client, mistapi, unchanged, against the Mist simulator: REST and every WebSocket class it has.

mistapi always speaks https/wss to a cloud host it knows (``api.mist.com``, ``api.eu.mist.com`` ...). So the
simulator serves TLS with a certificate for those names, made here by trustme, and the clients reach it through an
HTTP CONNECT proxy on loopback (their documented ``HTTPS_PROXY``) that sends those names, and only those, to the
simulator's port. Nothing leaves the machine: any other destination is refused by the proxy.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import mistapi
import pytest
import requests
import trustme
import websocket
from mistapi.api.v1.orgs import pcaps as org_pcaps
from mistapi.api.v1.orgs import sites as org_sites
from mistapi.api.v1.sites import devices as site_devices
from mistapi.api.v1.sites import pcaps as site_pcaps
from mistapi.device_utils import ap as ap_utils
from mistapi.websockets import location, orgs, sites

from streamkit.sim import MistSimulator

CLOUD = "api.mist.com"
EU = "api.eu.mist.com"
NAMES = (CLOUD, "api-ws.mist.com", EU, "api-ws.eu.mist.com")


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy that tunnels the Mist cloud names to the simulator and refuses everything else."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.tunnels: list[str] = []
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _Tunnel(socketserver.BaseRequestHandler):
    server: ConnectProxy

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, _, rest = head.partition(b"\r\n")[0].decode("latin-1").partition(" ")
        target = rest.split(" ")[0]
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host not in NAMES or port != "443":
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.server.tunnels.append(host)
        with socket.create_connection(("127.0.0.1", self.server.target_port), timeout=5) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pump(client, upstream)


def _pump(a: socket.socket, b: socket.socket) -> None:
    peers = {a: b, b: a}
    with contextlib.suppress(OSError):
        while True:
            ready, _, _ = select.select(list(peers), [], [], 0.5)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def sim(ca: trustme.CA) -> Iterator[MistSimulator]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*NAMES).configure_cert(server)
    simulator = MistSimulator(
        seed=41,
        interval=0.05,
        sites=3,
        aps=2,
        clients=4,
        page_limit=2,
        ssl=server,
        restart_rate=0.03,
        disconnect_rate=0.03,
        mxedge_event_rate=0.5,
    ).start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def proxy(sim: MistSimulator) -> Iterator[ConnectProxy]:
    server = ConnectProxy(sim.port)
    yield server
    server.close()


@pytest.fixture
def cloud(ca: trustme.CA, proxy: ConnectProxy, tmp_path, monkeypatch) -> ConnectProxy:
    """The environment mistapi (requests + websocket-client) reads: the proxy and our CA."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY", "MIST_HOST", "MIST_APITOKEN", "MIST_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("https_proxy", proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(bundle))
    return proxy


def session(sim: MistSimulator, *, host: str = CLOUD) -> mistapi.APISession:
    s = mistapi.APISession(host=host, apitoken=sim.token, show_cli_notif=False, console_log_level=0)
    s.login()
    return s


def test_a_token_is_checked_on_self_and_the_org_comes_from_its_privileges(sim, cloud):
    before = sim.counts["rest_requests"]
    s = session(sim)
    assert s.get_authentication_status()
    assert s.get_privilege_by_org_id(sim.org_id).role == "admin"
    assert sim.counts["rest_requests"] >= before + 2  # the token check and the login's /self
    assert set(cloud.tunnels) <= set(NAMES)


def test_a_wrong_token_is_refused_with_401(sim, cloud):
    before = sim.counts["rest_refused_401"]
    with pytest.raises(ValueError, match="401"):
        mistapi.APISession(host=CLOUD, apitoken="not-the-token", show_cli_notif=False, console_log_level=0)
    assert sim.counts["rest_refused_401"] == before + 1


def test_lists_page_through_mistapi_get_all(sim, cloud):
    s = session(sim)
    first = org_sites.listOrgSites(s, sim.org_id)
    assert first.status_code == 200 and len(first.data) == 2  # page_limit=2, three sites
    assert first.headers["X-Page-Total"] == "3"
    everything = mistapi.get_all(s, first)
    assert [site["name"] for site in everything] == sim.site_names
    devices = mistapi.get_all(s, site_devices.listSiteDevices(s, sim.site_ids[0], type="all"))
    assert sorted(d["id"] for d in devices) == sorted(d["id"] for d in sim.devices if d["site_id"] == sim.site_ids[0])


def _watch(ws: Any, channel: str, timeout: float = 15.0) -> tuple[bool, dict[str, Any] | None]:
    """Connect a mistapi websocket, wait for ``channel``'s ack and its first data message, disconnect."""
    acked, data = False, None
    ws.connect(run_in_background=True)
    deadline = time.monotonic() + timeout
    try:
        for msg in ws.receive():
            if msg.get("channel") == channel:
                if msg.get("event") == "channel_subscribed":
                    acked = True
                elif msg.get("event") == "data":
                    data = msg["data"] if isinstance(msg["data"], dict) else json.loads(msg["data"])
            if (acked and data is not None) or time.monotonic() > deadline:
                break
    finally:
        ws.disconnect(wait=True, timeout=2)  # websocket-client may wait up to 3 s for a close reply it raced for
    return acked, data


def _site(sim: MistSimulator) -> str:
    return sim.site_ids[0]


def _map(sim: MistSimulator) -> str:
    return sim.map_ids[sim.site_ids[0]][0]


# (mistapi class, its channel, fields its data must have)
SITE_CLASSES: list[tuple[Callable[..., Any], str, set[str]]] = [
    (sites.DeviceStatsEvents, "/sites/{site}/stats/devices", {"mac", "uptime"}),
    (sites.ClientsStatsEvents, "/sites/{site}/stats/clients", {"mac", "ap_mac", "rssi"}),
    (sites.DeviceEvents, "/sites/{site}/devices", {"mac", "type", "timestamp"}),
    (sites.MxEdgesStatsEvents, "/sites/{site}/stats/mxedges", {"id", "mac", "cpu_stat"}),
    (sites.MxEdgesEvents, "/sites/{site}/mxedges", {"mxedge_id", "type", "timestamp"}),
]
MAP_CLASSES: list[tuple[Callable[..., Any], str, set[str]]] = [
    (location.ConnectedClientsEvents, "clients", {"mac", "x", "y", "map_id"}),
    (location.BleAssetsEvents, "assets", {"mac", "x", "y", "rssi"}),
    (location.SdkClientsEvents, "sdkclients", {"id", "name", "x", "y"}),
    (location.UnconnectedClientsEvents, "unconnected_clients", {"mac", "x", "y", "ap_mac"}),
    (location.DiscoveredBleAssetsEvents, "discovered_assets", {"mac", "x", "y", "rssi"}),
]
ORG_CLASSES: list[tuple[Callable[..., Any], str, set[str]]] = [
    (orgs.InsightsEvents, "/orgs/{org}/insights/summary", {"site_id", "num_clients", "sle"}),
    (orgs.MxEdgesStatsEvents, "/orgs/{org}/stats/mxedges", {"id", "site_id", "cpu_stat"}),
    (orgs.MxEdgesEvents, "/orgs/{org}/mxedges", {"mxedge_id", "type"}),
]


@pytest.mark.parametrize(("cls", "channel", "fields"), SITE_CLASSES, ids=[c[0].__name__ for c in SITE_CLASSES])
def test_site_websockets(sim, cloud, cls, channel, fields):
    s = session(sim)
    acked, data = _watch(cls(s, site_ids=[_site(sim)]), channel.format(site=_site(sim)))
    assert acked and data is not None
    assert fields <= set(data)


@pytest.mark.parametrize(("cls", "kind", "fields"), MAP_CLASSES, ids=[c[0].__name__ for c in MAP_CLASSES])
def test_location_websockets(sim, cloud, cls, kind, fields):
    s = session(sim)
    channel = f"/sites/{_site(sim)}/stats/maps/{_map(sim)}/{kind}"
    acked, data = _watch(cls(s, site_id=_site(sim), map_ids=[_map(sim)]), channel)
    assert acked and data is not None
    assert fields <= set(data) and data["map_id"] == _map(sim)


@pytest.mark.parametrize(("cls", "channel", "fields"), ORG_CLASSES, ids=[f"org-{c[0].__name__}" for c in ORG_CLASSES])
def test_org_websockets(sim, cloud, cls, channel, fields):
    s = session(sim)
    acked, data = _watch(cls(s, org_id=sim.org_id), channel.format(org=sim.org_id))
    assert acked and data is not None
    assert fields <= set(data)


@pytest.mark.parametrize("scope", ["site", "org"])
def test_a_packet_capture_started_over_rest_streams_on_the_pcaps_channel(sim, cloud, scope):
    s = session(sim)
    body = {"type": "client", "format": "stream", "num_packets": 4}
    if scope == "site":
        started = site_pcaps.startSitePacketCapture(s, _site(sim), body=body)
        ws, channel = sites.PcapEvents(s, site_id=_site(sim)), f"/sites/{_site(sim)}/pcaps"
    else:
        started = org_pcaps.startOrgPacketCapture(s, sim.org_id, body=body)
        ws, channel = orgs.PcapEvents(s, org_id=sim.org_id), f"/orgs/{sim.org_id}/pcaps"
    assert started.status_code == 200
    acked, data = _watch(ws, channel)
    assert acked and data is not None
    assert data["capture_id"] == started.data["id"]
    assert set(data) == {"capture_id", "pcap_dict", "pcap_raw"} and data["pcap_dict"]["protocol"] == "UDP"


def test_a_device_command_started_over_rest_streams_its_output(sim, cloud):
    s = session(sim)
    ap = next(d for d in sim.devices if d["type"] == "ap" and d["site_id"] == _site(sim))
    response = ap_utils.retrieveArpTable(s, _site(sim), ap["id"], timeout=2)
    response.wait(timeout=30)
    assert response.trigger_api_response.status_code == 200
    assert "session" in response.trigger_api_response.data
    assert "HWaddress" in "".join(response.ws_data)
    pinged = ap_utils.ping(s, _site(sim), ap["id"], host="192.0.2.1", count=2, timeout=2).wait(timeout=30)
    assert "2 packets transmitted" in "".join(pinged.ws_data)


def test_the_device_command_channel_through_the_mistapi_class(sim, cloud):
    s = session(sim)
    device = sim.devices[0]
    started = site_devices.arpFromDevice(s, device["site_id"], device["id"], body={})
    assert started.status_code == 200
    channel = f"/sites/{device['site_id']}/devices/{device['id']}/cmd"
    acked, data = _watch(sites.DeviceCmdEvents(s, site_id=device["site_id"], device_ids=[device["id"]]), channel)
    assert acked and data == {"session": started.data["session"], "raw": data["raw"]} and data["raw"]


def test_lowercase_token_scheme_on_rest_and_stream(sim, cloud):
    headers = {"Authorization": f"token {sim.token}"}
    me = requests.get(f"https://{CLOUD}/api/v1/self", headers=headers, timeout=10)
    assert me.status_code == 200 and me.json()["privileges"][0]["org_id"] == sim.org_id
    refused = requests.get(f"https://{CLOUD}/api/v1/self", headers={"Authorization": "token nope"}, timeout=10)
    assert refused.status_code == 401 and "detail" in refused.json()
    ws = websocket.create_connection(
        "wss://api-ws.mist.com/api-ws/v1/stream",
        header=[f"Authorization: token {sim.token}"],
        http_proxy_host="127.0.0.1",
        http_proxy_port=int(cloud.url.rsplit(":", 1)[1]),
        proxy_type="http",
        sslopt={"ca_certs": os.environ["WEBSOCKET_CLIENT_CA_BUNDLE"]},
        timeout=10,
    )
    try:
        ws.send(json.dumps({"subscribe": "/test"}))
        assert json.loads(ws.recv()) == {"event": "channel_subscribed", "channel": "/test"}
        assert json.loads(ws.recv())["data"] == "1"
    finally:
        ws.close()


def test_login_with_password_on_a_regional_cloud_uses_its_suffixed_cookies(sim, cloud):
    logins = sim.counts["logins"]
    s = mistapi.APISession(host=EU, email=sim.email, password=sim.password, show_cli_notif=False, console_log_level=0)
    s.login()
    assert s.get_authentication_status() and sim.counts["logins"] == logins + 1
    jar = requests.utils.dict_from_cookiejar(s._session.cookies)  # what mistapi's websocket sends as Cookie
    assert set(jar) == {"sessionid.eu", "csrftoken.eu"}
    acked, data = _watch(sites.DeviceStatsEvents(s, site_ids=[_site(sim)]), f"/sites/{_site(sim)}/stats/devices")
    assert acked and data is not None
    # a write with the session cookies needs the CSRF token mistapi took from csrftoken.eu
    started = site_devices.arpFromDevice(s, sim.devices[0]["site_id"], sim.devices[0]["id"], body={})
    assert started.status_code == 200 and "session" in started.data
