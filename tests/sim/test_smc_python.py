"""The SMC simulator judged by Forcepoint's own client, fp-ngfw-smc-python (package ``smc``), used unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytest.importorskip("smc", reason="the test extra installs fp-ngfw-smc-python")

import smc
import websocket
from smc import session
from smc.api.exceptions import SMCConnectionError
from smc.core.engine import Engine
from smc.core.engines import FirewallCluster, Layer3Firewall

from streamkit.sim import SmcSimulator

# requests (under smc-python) warns about HTTPAdapter.get_connection, which smc-python 1.0.34 still calls at
# login; only that deprecation is let through, every other warning stays an error.
pytestmark = pytest.mark.filterwarnings("ignore:.*get_connection.*:DeprecationWarning")


@pytest.fixture
def sim() -> Iterator[SmcSimulator]:
    """A simulator, and smc-python's module-level session manager left as found: logged out (while the
    simulator still answers), no sessions registered."""
    with SmcSimulator(seed=4, interval=0.05, engines=3, clusters=1, tunnels=2) as s:
        try:
            yield s
        finally:
            if session.session is not None:
                session.logout()
            smc.manager.close_all()
            smc.session_name = None
        assert s.sessions == 0


@pytest.mark.parametrize("api_version", [None, "7.2"])
def test_login_reads_versions_entry_points_and_the_current_user(sim, api_version):
    name = session.login(url=sim.url, api_key=sim.api_key, api_version=api_version, timeout=10)
    # smc-python picks the oldest offered version above 6.5 when none is given
    expected = api_version or sim.api_versions[0]
    assert session.api_version == expected
    assert name == f"{sim.api_client}-{expected}"
    assert session.name == sim.api_client
    assert type(session.current_user).__name__ == "ApiClient"
    assert session.is_active and sim.sessions == 1
    assert session.entry_points.get("engine_clusters") == f"{sim.url}/{expected}/elements/engine_clusters"
    session.logout()
    assert sim.sessions == 0 and sim.counts["logouts"] == 1


def test_user_login_is_the_administrator(sim):
    session.login(url=sim.url, login=sim.login, pwd=sim.password, api_version="7.2", timeout=10)
    assert session.name == sim.login
    assert type(session.current_user).__name__ == "AdminUser"


def test_wrong_key_fails_login(sim):
    with pytest.raises(SMCConnectionError, match="Login failed"):
        session.login(url=sim.url, api_key="not-the-key", api_version="7.2", timeout=10)
    assert sim.sessions == 0


def test_engines_firewalls_and_element_data(sim):
    session.login(url=sim.url, api_key=sim.api_key, api_version="7.2", timeout=10)
    engines = list(Engine.objects.all())
    assert [e.name for e in engines] == [e.name for e in sim.world.engines]
    assert [type(e) for e in engines] == [Layer3Firewall] * 3 + [FirewallCluster]
    assert [e.href for e in engines] == sim.hrefs["engines"]
    firewalls = list(Layer3Firewall.objects.all())
    assert [f.name for f in firewalls] == [e.name for e in sim.world.engines if e.type == "single_fw"]
    cluster = engines[-1]
    data = cluster.data
    assert data["name"] == cluster.name and cluster.etag and cluster.etag.startswith('"')
    nodes = [n["firewall_node"]["link"][0]["href"] for n in data["nodes"]]
    assert nodes == [n for n in sim.hrefs["nodes"] if n.startswith(cluster.href + "/")]
    found = Layer3Firewall(sim.world.engines[1].name)  # located by name through the elements filter
    assert found.href == sim.hrefs["engines"][1]


def test_session_cookie_opens_the_status_socket(sim):
    """smc-python's socket examples: websocket-client's create_connection with ``cookie=session.session_id``."""
    session.login(url=sim.url, api_key=sim.api_key, api_version="7.2", timeout=10)
    firewall = next(iter(Layer3Firewall.objects.all()))
    ws = websocket.create_connection(f"{session.web_socket_url}/status/socket", cookie=session.session_id, timeout=5)
    try:
        ws.send(json.dumps({"element": firewall.href}))
        assert json.loads(ws.recv()) == {"success": "Subscribed for status", "subscription_id": 0}
        status = json.loads(ws.recv())
        assert status["subscription_id"] == 0
        assert status["status"]["status"]["name"] == firewall.name
        assert [c["type"] for c in status["status"]["status"]["result"]] == ["firewall_node"]
        ws.send(json.dumps({"context": "fw_single"}))
        while "success" not in (reply := json.loads(ws.recv())):
            pass
        assert reply == {"success": "Subscribed for status", "subscription_id": 1}
    finally:
        ws.close()
    session.logout()
    assert sim.sessions == 0
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://{sim.host}:{sim.port}/7.2/status/socket", cookie="JSESSIONID=x", timeout=5)
    assert refused.value.status_code == 401
