"""A Mist-compatible server on loopback, driven by a seeded :class:`MistWorld`: the WebSocket stream and the REST
API Mist's own clients use, on one port.

The same seed gives the same organisation (ids, devices, credentials); the port is a free one unless given:

>>> from streamkit.sim import MistSimulator
>>> with MistSimulator(seed=1) as sim:
...     sim.url.startswith("ws://127.0.0.1:"), sim.channel("device_stats"), len(sim.devices)
(True, '/sites/1e2feb89-414c-443c-9027-c4d1c386bbc4/stats/devices', 20)
>>> sim.running
False

The REST API is on the same port (``sim.rest_url``), with the same credentials:

>>> import httpx
>>> with MistSimulator(seed=1) as sim:
...     me = httpx.get(f"{sim.rest_url}/api/v1/self", headers=sim.headers).json()
...     sites = httpx.get(f"{sim.rest_url}/api/v1/orgs/{sim.org_id}/sites", headers=sim.headers)
>>> me["privileges"][0]["org_id"] == sim.org_id, [s["name"] for s in sites.json()], sites.headers["X-Page-Total"]
(True, ['site-01', 'site-02'], '2')
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import math
import random
import re
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

from aiohttp import WSMsgType, web

from .._json import dumps, loads
from ..protocols import mist
from ..protocols.base import Malformed, SubscribeRequest
from ._server import Faults, Peer, Simulator
from .mist_world import MistDevice, MistSite, MistWorld

__all__ = ["CHANNEL_KINDS", "COMMANDS", "MistSimulator"]

_SITE_CHANNEL = re.compile(
    r"^/sites/(?P<site>[^/]+)/(?:stats/devices|stats/clients|devices|stats/mxedges|mxedges|pcaps"
    r"|stats/maps/(?P<map>[^/]+)/(?:clients|assets|sdkclients|unconnected_clients|discovered_assets)"
    r"|devices/(?P<device>[^/]+)/cmd)$"
)
_ORG_CHANNEL = re.compile(r"^/orgs/(?P<org>[^/]+)/(?:insights/summary|stats/mxedges|mxedges|pcaps)$")
SITE_KINDS = ("device_stats", "client_stats", "device_events", "mxedge_stats", "mxedge_events", "pcaps")
MAP_KINDS = ("location", "assets", "sdkclients", "unconnected_clients", "discovered_assets")
ORG_KINDS = ("org_insights", "org_mxedge_stats", "org_mxedge_events", "org_pcaps")
#: What :meth:`MistSimulator.channel` names: per site, per map of a site, per organisation.
CHANNEL_KINDS = SITE_KINDS + MAP_KINDS + ORG_KINDS

#: Device commands the REST API starts (``POST /api/v1/sites/{site}/devices/{device}/{command}``); their output
#: streams on ``/sites/{site}/devices/{device}/cmd``.
COMMANDS = (
    "arp",
    "show_arp",
    "ping",
    "traceroute",
    "show_mac_table",
    "show_forwarding_table",
    "show_route",
    "show_bgp_summary",
    "show_dhcp_leases",
    "show_session",
    "show_dot1x",
    "resolve_dns",
    "service_ping",
    "cable_test",
    "monitor_traffic",
    "run_top",
    "bounce_port",
    "clear_arp",
    "clear_mac_table",
    "clear_macs",
    "clear_session",
    "release_dhcp",
)
DEVICE_TYPES = ("ap", "switch", "gateway")
#: How long a command's output or a capture waits for someone to subscribe to its channel (seconds).
WATCH_WAIT = 30.0
REST = "/api/v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cookie_suffix(host: str) -> str:
    """The suffix of Mist's login cookies for a REST or stream host: ``api.eu.mist.com`` -> ``.eu``,
    ``api.mist.com`` (and any other host, such as ``127.0.0.1``) -> ``""``.

    >>> cookie_suffix("api.eu.mist.com:443"), cookie_suffix("api-ws.gc1.mist.com"), cookie_suffix("127.0.0.1:8080")
    ('.eu', '.gc1', '')
    """
    name = host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()
    for prefix in ("api-ws.", "api."):
        if name.startswith(prefix):
            labels = name.removeprefix(prefix).split(".")
            return f".{labels[0]}" if len(labels) == 3 else ""
    return ""


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(data), status=status, headers=headers, content_type="application/json")


def _problem(status: int, detail: str, **headers: str) -> web.Response:
    """An error as the Mist API words it: ``{"detail": ...}``."""
    return _json({"detail": detail}, status=status, headers=headers or None)


class MistSimulator(Simulator):
    """Serves ``/api-ws/v1/stream`` and the REST API under ``/api/v1`` the way Mist does (see mist.md).

    Args:
        seed: the scenario's seed; the same seed gives the same organisation and the same story.
        interval: seconds between updates of each device and client (Mist itself: 20-30 s); 0 = flat out.
        sites, aps, switches, gateways, clients, maps: scenario sizes (per site but ``sites``).
        max_channels: subscriptions allowed per connection before ``subscribe_failed``.
        data_as_object: send ``data`` as a JSON object instead of a JSON string (clients must accept both).
        page_limit: the largest page a REST list returns (Mist: 100 unless ``limit`` asks for fewer).
        ping_interval: seconds between the server's pings on each stream connection; a client that has not
            answered within half of it is dropped. ``None``: no pings.
        faults: connection drops, malformed frames and stalls to inject (:class:`Faults`).
        host, port, ssl: where to listen (port 0: a free one) and an optional TLS context (``wss://``, ``https://``).
        world: further :class:`MistWorld` knobs (``restart_rate``, ``roam_rate``, ``mxedges``, ``located`` ...).

    Credentials it accepts, on the stream and on REST: ``token`` (``Authorization: Token ...``, any case),
    ``email``/``password`` (Basic, or ``POST /api/v1/login`` which sets the session cookies) and ``cookies``
    (a login session's ``sessionid`` and ``csrftoken``, also with a region suffix: ``sessionid.eu`` ...).

    >>> import streamkit as sk
    >>> with MistSimulator(seed=1, sites=1, aps=2, interval=0.05) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         rows = sk.collect(mist.subscribe(sim.channel("client_stats")), count=3, timeout=10)
    >>> len(rows), {"mac", "ap_mac", "rssi"} <= set(rows[0])
    (3, True)
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        interval: float = 1.0,
        sites: int = 2,
        aps: int = 8,
        switches: int = 1,
        gateways: int = 1,
        clients: int = 30,
        maps: int = 1,
        max_channels: int = 2000,
        data_as_object: bool = False,
        page_limit: int = 100,
        ping_interval: float | None = 30.0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: Any = None,
        **world: Any,
    ) -> None:
        super().__init__(host=host, port=port, seed=seed, interval=interval, faults=faults, ssl=ssl)
        if page_limit < 1:
            raise ValueError(f"page_limit is the largest page of a REST list, at least 1, not {page_limit}")
        if ping_interval is not None and ping_interval <= 0:
            raise ValueError(f"ping_interval is seconds between pings (None: no pings), not {ping_interval}")
        self.world = MistWorld(
            seed=seed,
            sites=sites,
            aps=aps,
            switches=switches,
            gateways=gateways,
            clients=clients,
            maps=maps,
            start=time.time(),
            **world,
        )
        secret = random.Random(f"credentials-{seed}")
        self.token = f"sim{secret.getrandbits(160):040x}"
        self.email = "admin@example.com"
        self.password = f"pw-{secret.getrandbits(48):012x}"
        self.cookies = {
            "sessionid": f"{secret.getrandbits(128):032x}",
            "csrftoken": f"{secret.getrandbits(128):032x}",
        }
        self.max_channels = max_channels
        self.data_as_object = data_as_object
        self.page_limit = page_limit
        self.ping_interval = ping_interval
        self._ids = random.Random(f"sessions-{seed}")
        self._subs: defaultdict[str, set[Peer]] = defaultdict(set)
        self._refuse: dict[str, list[tuple[int, float]]] = {"stream": [], "rest": []}
        self._jobs: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._stalled: set[Peer] = set()  # the connections a stall stops reading (those open when it began)

    # -- what a client needs to know ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The stream URL (what ``sk.mist(url=...)`` takes)."""
        return f"{self.scheme}://{self.host}:{self.port}{mist.STREAM_PATH}"

    @property
    def rest_url(self) -> str:
        """The REST base, on the same port as the stream: ``http://127.0.0.1:PORT`` (``https`` with ``ssl=``)."""
        return f"{self.http_scheme}://{self.host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """The headers of a token login (the stream's upgrade and every REST call)."""
        return {"Authorization": f"Token {self.token}"}

    @property
    def org_id(self) -> str:
        return self.world.org_id

    @property
    def site_ids(self) -> list[str]:
        return [site.id for site in self.world.sites]

    @property
    def site_names(self) -> list[str]:
        return [site.name for site in self.world.sites]

    @property
    def map_ids(self) -> dict[str, list[str]]:
        return {site.id: list(site.map_ids) for site in self.world.sites}

    @property
    def devices(self) -> list[dict[str, Any]]:
        """Every device: id, mac, name, type, model, site_id, map_id."""
        return [
            {
                "id": d.id,
                "mac": d.mac,
                "name": d.name,
                "type": d.type,
                "model": d.model,
                "site_id": d.site_id,
                "map_id": d.map_id,
            }
            for site in self.world.sites
            for d in site.devices
        ]

    def channel(self, kind: str = "device_stats", *, site: int = 0, map: int = 0) -> str:
        """A channel this simulator serves, by kind (:data:`CHANNEL_KINDS`): per site ``device_stats``,
        ``client_stats``, ``device_events``, ``mxedge_stats``, ``mxedge_events``, ``pcaps`` of the
        ``site``-th site; per map ``location`` (connected clients), ``assets``, ``sdkclients``,
        ``unconnected_clients``, ``discovered_assets`` of its ``map``-th map; for the organisation
        ``org_insights``, ``org_mxedge_stats``, ``org_mxedge_events``, ``org_pcaps``."""
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"kind is one of {', '.join(CHANNEL_KINDS)}, not {kind!r}")
        if kind in ORG_KINDS:
            return self.world.org_channels()[kind]
        s = self.world.sites[site]
        key = f"{kind}:{s.map_ids[map]}" if kind in MAP_KINDS else kind
        return self.world.channels(s)[key]

    def __repr__(self) -> str:
        base = super().__repr__()[:-1]
        return f"{base} org={self.org_id} sites={len(self.world.sites)}>"

    # -- controls ------------------------------------------------------------------------------------------

    def refuse_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: float = 30,
        on: Literal["stream", "rest"] = "stream",
    ) -> None:
        """Answer the next ``count`` stream upgrades (``on="stream"``) or REST calls (``on="rest"``) with HTTP
        ``status`` (429: rate limited, with ``Retry-After``; 503: unavailable ...)."""
        if on not in self._refuse:
            raise ValueError(f"on is 'stream' (the upgrade) or 'rest' (the REST API), not {on!r}")
        self._refuse[on].extend([(status, retry_after)] * count)

    def command_output(self, device_id: str, text: str, *, session: str = "sim-session", pieces: int = 3) -> None:
        """Stream ``text`` as a device command's output on ``/sites/{site}/devices/{device_id}/cmd``
        in ``pieces`` data events to whoever is subscribed now, as Mist does after a REST-triggered command
        (thread-safe)."""
        device = self.world.device_by_id[device_id]
        channel = f"/sites/{device.site_id}/devices/{device_id}/cmd"
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._push_output(channel, session, text, pieces, 0.0), self._loop)

    async def _push_output(self, channel: str, session: str, text: str, pieces: int, gap: float) -> None:
        step = max(1, -(-len(text) // pieces))
        for i in range(0, len(text), step):
            frame = self._data_frame(channel, {"session": session, "raw": text[i : i + step]})
            for peer in tuple(self._subs.get(channel, ())):
                await self.send_data(peer, frame)
            if gap:
                await asyncio.sleep(gap)

    async def _when_watched(self, channel: str, then: Callable[[], Awaitable[None]]) -> None:
        """Run ``then`` once ``channel`` has a subscriber (at most :data:`WATCH_WAIT` seconds from now)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WATCH_WAIT
        while not self._subs.get(channel) and loop.time() < deadline:  # noqa: ASYNC110 (a set, not an event)
            await asyncio.sleep(0.02)
        if self._subs.get(channel):
            await then()

    def _job(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    def _stall(self, seconds: float) -> None:
        self._stalled = set(self._peers)
        super()._stall(seconds)

    # -- server --------------------------------------------------------------------------------------------

    async def _listen(self, sock: socket.socket) -> None:
        app = web.Application(middlewares=[self._rest_gate])
        app.on_response_prepare.append(self._server_header)
        app.router.add_get(mist.STREAM_PATH, self._stream)
        app.router.add_post(f"{REST}/login", self._login)
        app.router.add_post(f"{REST}/logout", self._logout)
        app.router.add_get(f"{REST}/self", self._self)
        app.router.add_get(REST + "/orgs/{org}", self._org)
        app.router.add_get(REST + "/orgs/{org}/sites", self._sites)
        app.router.add_post(REST + "/orgs/{org}/pcaps/capture", self._org_capture)
        app.router.add_get(REST + "/sites/{site}", self._site)
        app.router.add_get(REST + "/sites/{site}/devices", self._devices)
        app.router.add_get(REST + "/sites/{site}/maps", self._maps)
        app.router.add_post(REST + "/sites/{site}/pcaps/capture", self._site_capture)
        app.router.add_post(REST + "/sites/{site}/devices/{device}/{command}", self._command)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self.ssl).start()

    async def _close(self) -> None:
        for job in tuple(self._jobs):
            job.cancel()
        self._jobs.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._subs.clear()

    @staticmethod
    async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = "streamkit-sim (Mist)"

    def _refused(self, on: str) -> web.Response | None:
        """The next injected refusal for ``on`` ("stream" or "rest"), if any."""
        if not self._refuse[on]:
            return None
        status, retry_after = self._refuse[on].pop(0)
        self.counts[f"refused_{status}" if on == "stream" else f"rest_refused_{status}"] += 1
        headers: dict[str, str] = {}
        if status == 429:
            # HTTP says whole seconds; the stream keeps fractions for fast tests of the client's waiting
            headers["Retry-After"] = f"{retry_after:g}" if on == "stream" else str(max(1, math.ceil(retry_after)))
        if on == "stream":
            text = "rate limited, retry later\n" if status == 429 else "unavailable\n"
            return web.Response(status=status, text=text, headers=headers)
        detail = "Too Many Requests: rate limited, retry later" if status == 429 else "Service Unavailable"
        return _problem(status, detail, **headers)

    # -- credentials ---------------------------------------------------------------------------------------

    def _credentials(self, request: web.Request) -> str | None:
        """How ``request`` authenticated ("token", "basic", "cookie"), or ``None``."""
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()  # auth schemes are case-insensitive (RFC 9110)
        if scheme == "token":
            return "token" if hmac.compare_digest(value.encode(), self.token.encode()) else None
        if scheme == "basic":
            try:
                pair = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return None
            expected = f"{self.email}:{self.password}"
            return "basic" if hmac.compare_digest(pair.encode(), expected.encode()) else None
        return "cookie" if self._cookie_ok(request.headers.get("Cookie", "")) else None

    def _cookie_ok(self, header: str) -> bool:
        """A login session's ``sessionid<suffix>`` and ``csrftoken<suffix>`` (suffix by region: "", ".eu" ...)."""
        jar: dict[str, str] = {}
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                jar[name.strip()] = value.strip().strip('"')
        for name, value in jar.items():
            if name.startswith("sessionid") and hmac.compare_digest(value.encode(), self.cookies["sessionid"].encode()):
                csrf = jar.get("csrftoken" + name.removeprefix("sessionid"), "")
                if hmac.compare_digest(csrf.encode(), self.cookies["csrftoken"].encode()):
                    return True
        return False

    @web.middleware
    async def _rest_gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every REST call: injected refusals first, then the credentials (401), then CSRF for cookie writes."""
        if not request.path.startswith(REST + "/"):
            return await handler(request)
        refusal = self._refused("rest")
        if refusal is not None:
            return refusal
        self.counts["rest_requests"] += 1
        if request.path != f"{REST}/login":
            how = self._credentials(request)
            if how is None:
                self.counts["rest_refused_401"] += 1
                return _problem(401, "Authentication credentials were not provided or are not valid.")
            if how == "cookie" and request.method not in ("GET", "HEAD", "OPTIONS"):
                csrf = request.headers.get("X-CSRFToken", "")
                if not hmac.compare_digest(csrf.encode(), self.cookies["csrftoken"].encode()):
                    return _problem(403, "CSRF Failed: CSRF token missing or incorrect.")
        return await handler(request)

    # -- REST ----------------------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        try:
            body = loads(raw)
        except ValueError:
            raise web.HTTPBadRequest(
                text=dumps({"detail": "the body is not valid JSON"}), content_type="application/json"
            ) from None
        return body if isinstance(body, dict) else {}

    async def _login(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        email, password = str(body.get("email", "")), str(body.get("password", ""))
        ok = hmac.compare_digest(f"{email}:{password}".encode(), f"{self.email}:{self.password}".encode())
        if not ok:
            self.counts["rest_refused_login"] += 1
            return _problem(401, "Invalid email or password")
        self.counts["logins"] += 1
        response = _json({"detail": "logged in"})
        suffix = cookie_suffix(request.host)
        for name, value in self.cookies.items():
            response.set_cookie(name + suffix, value, path="/", httponly=name == "sessionid", secure=bool(self.ssl))
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        self.counts["logouts"] += 1
        return _json({})

    def _privileges(self) -> list[dict[str, Any]]:
        return [{"scope": "org", "org_id": self.org_id, "name": self.world.org_name, "role": "admin"}]

    async def _self(self, request: web.Request) -> web.Response:
        return _json(
            {
                "email": self.email,
                "first_name": "Sim",
                "last_name": "Admin",
                "phone": "",
                "via_sso": False,
                "privileges": self._privileges(),
                "tags": [],
                "session_expiry": 1440,
            }
        )

    def _org_of(self, request: web.Request) -> str:
        org = request.match_info["org"]
        if org != self.org_id:
            raise web.HTTPNotFound(
                text=dumps({"detail": f"organisation {org} not found (this token sees {self.org_id})"}),
                content_type="application/json",
            )
        return org

    def _site_of(self, request: web.Request) -> MistSite:
        site = self.world.site_by_id.get(request.match_info["site"])
        if site is None:
            raise web.HTTPNotFound(
                text=dumps({"detail": f"site {request.match_info['site']} not found in this organisation"}),
                content_type="application/json",
            )
        return site

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        """One page of ``items`` with Mist's paging headers (``limit`` and ``page`` query parameters)."""
        try:
            limit = int(request.query.get("limit", self.page_limit))
            page = int(request.query.get("page", 1))
        except ValueError:
            return _problem(400, "limit and page are whole numbers")
        limit = max(1, min(limit, self.page_limit))
        page = max(1, page)
        headers = {"X-Page-Total": str(len(items)), "X-Page-Limit": str(limit), "X-Page-Page": str(page)}
        return _json(items[(page - 1) * limit : page * limit], headers=headers)

    def _stamps(self) -> dict[str, int]:
        return {"created_time": int(self.world.created), "modified_time": int(self.world.created + 86_400)}

    async def _org(self, request: web.Request) -> web.Response:
        org = self._org_of(request)
        return _json({"id": org, "name": self.world.org_name, "msp_id": None, "session_expiry": 1440, **self._stamps()})

    def _site_json(self, site: MistSite) -> dict[str, Any]:
        return {
            "id": site.id,
            "name": site.name,
            "org_id": self.org_id,
            "timezone": site.timezone,
            "country_code": site.country_code,
            "address": site.address,
            "latlng": {"lat": site.latlng[0], "lng": site.latlng[1]},
            "sitegroup_ids": [],
            "notes": "",
            **self._stamps(),
        }

    async def _sites(self, request: web.Request) -> web.Response:
        self._org_of(request)
        return self._page(request, [self._site_json(site) for site in self.world.sites])

    async def _site(self, request: web.Request) -> web.Response:
        return _json(self._site_json(self._site_of(request)))

    def _device_json(self, d: MistDevice) -> dict[str, Any]:
        return {
            "id": d.id,
            "name": d.name,
            "type": d.type,
            "model": d.model,
            "serial": d.serial,
            "mac": d.mac,
            "site_id": d.site_id,
            "org_id": self.org_id,
            "map_id": d.map_id,
            "x": d.x if d.map_id else None,
            "y": d.y if d.map_id else None,
            "notes": "",
            **self._stamps(),
        }

    async def _devices(self, request: web.Request) -> web.Response:
        site = self._site_of(request)
        kind = request.query.get("type", "ap")  # Mist lists APs unless asked for more
        if kind not in (*DEVICE_TYPES, "all"):
            return _problem(400, f"type is one of all, {', '.join(DEVICE_TYPES)}; not {kind!r}")
        devices = [self._device_json(d) for d in site.devices if kind in ("all", d.type)]
        return self._page(request, devices)

    async def _maps(self, request: web.Request) -> web.Response:
        site = self._site_of(request)
        maps = [
            {
                "id": map_id,
                "name": f"{site.name} floor {i + 1}",
                "site_id": site.id,
                "org_id": self.org_id,
                "type": "image",
                "width": 1000,
                "height": 600,
                "width_m": 100.0,
                "height_m": 60.0,
                "ppm": 10.0,  # x, y in location payloads are pixels: metres times ppm
                "orientation": 0,
                **self._stamps(),
            }
            for i, map_id in enumerate(site.map_ids)
        ]
        return self._page(request, maps)

    async def _command(self, request: web.Request) -> web.Response:
        site = self._site_of(request)
        device = self.world.device_by_id.get(request.match_info["device"])
        command = request.match_info["command"]
        if device is None or device.site_id != site.id:
            return _problem(404, f"device {request.match_info['device']} not found in site {site.id}")
        if command not in COMMANDS:
            return _problem(404, f"no device command {command!r}; the simulator knows {', '.join(COMMANDS)}")
        body = await self._body(request)
        session = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        self.counts["commands"] += 1
        channel = f"/sites/{site.id}/devices/{device.id}/cmd"
        text = self._command_text(command, device, site, body)
        self._job(self._when_watched(channel, lambda: self._push_output(channel, session, text, 3, 0.05)))
        return _json({"session": session})

    def _command_text(self, command: str, device: MistDevice, site: MistSite, body: dict[str, Any]) -> str:
        if command in ("arp", "show_arp"):
            rows = [f"{c.ip:<16} {c.mac[:2]}:{c.mac[2:4]}:{c.mac[4:6]}:{c.mac[6:8]}:{c.mac[8:10]}:{c.mac[10:]}"
                    for c in list(site.clients.values())[:8]]  # fmt: skip
            return "Address          HWaddress\n" + "\n".join(rows) + "\n"
        if command in ("ping", "service_ping"):
            host = str(body.get("host", "8.8.8.8"))
            count = int(body.get("count", 3) or 3)
            lines = [f"PING {host} ({host}): 56 data bytes"]
            lines += [f"64 bytes from {host}: icmp_seq={i} ttl=117 time={9.5 + i * 0.7:.3f} ms" for i in range(count)]
            lines += [f"--- {host} ping statistics ---", f"{count} packets transmitted, {count} packets received"]
            return "\n".join(lines) + "\n"
        if command == "traceroute":
            host = str(body.get("host", "8.8.8.8"))
            hops = [f" {i + 1}  10.{10 + site.index}.12.{i + 1}  {1.2 * (i + 1):.3f} ms" for i in range(3)]
            return f"traceroute to {host}, 30 hops max\n" + "\n".join(hops) + f"\n 4  {host}  11.800 ms\n"
        return f"{device.name}> {command.replace('_', ' ')}\n{command}: done on {device.name} ({device.model})\n"

    async def _capture(self, request: web.Request, channel: str, site: MistSite | None) -> web.Response:
        body = await self._body(request)
        packets = body.get("num_packets", 10)
        packets = packets if isinstance(packets, int) and packets > 0 else 10
        capture = self.world.start_capture(channel, packets=min(packets, 1000), site=site)
        self.counts["captures"] += 1
        return _json(
            {
                "id": capture.id,
                "type": body.get("type", "client"),
                "format": body.get("format", "stream"),
                "num_packets": capture.packets,
                "started_time": int(time.time()),
                "org_id": self.org_id,
                "site_id": site.id if site else None,
            }
        )

    async def _site_capture(self, request: web.Request) -> web.Response:
        site = self._site_of(request)
        return await self._capture(request, f"/sites/{site.id}/pcaps", site)

    async def _org_capture(self, request: web.Request) -> web.Response:
        org = self._org_of(request)
        return await self._capture(request, f"/orgs/{org}/pcaps", None)

    async def _not_found(self, request: web.Request) -> web.Response:
        if request.path.startswith(REST + "/"):
            return _problem(404, f"{request.method} {request.path}: no such endpoint in the simulator")
        return web.Response(status=404, text=f"no stream here: the stream is at {mist.STREAM_PATH}\n")

    # -- the stream ----------------------------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refused("stream")
        if refusal is not None:
            return refusal
        if self._credentials(request) is None:
            self.counts["refused_401"] += 1
            return web.Response(status=401, text="authentication required: invalid or missing credentials\n")
        # Pings are answered here, not by aiohttp, so that a stall (which stops reading) leaves them unanswered.
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, autoping=False, compress=False, max_msg_size=2**20)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="this is the WebSocket stream: connect with a WebSocket client\n")
        await ws.prepare(request)
        peer = Peer(ws.send_str, request.transport)
        self._peers.add(peer)
        self.counts["connections"] += 1
        mine: set[str] = set()
        try:
            async for msg in ws:
                if not self._flowing.is_set() and peer in self._stalled:
                    await self._flowing.wait()
                if msg.type == WSMsgType.TEXT:
                    await self._on_frame(peer, mine, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type != WSMsgType.PONG:
                    self.counts["bad_requests"] += 1
        finally:
            self._peers.discard(peer)
            for channel in mine:
                self._subs[channel].discard(peer)
        return ws

    async def _on_frame(self, peer: Peer, mine: set[str], frame: str) -> None:
        request = mist.parse_request(frame)
        if isinstance(request, Malformed):
            self.counts["bad_requests"] += 1
            return
        channel = str(request.topic)
        self.counts["subscribes" if isinstance(request, SubscribeRequest) else "unsubscribes"] += 1
        if isinstance(request, SubscribeRequest):
            problem = None if channel in mine else self._refusal(channel, len(mine))
            if problem:
                await peer.send(mist.subscribe_failed_frame(channel, problem))
                return
            mine.add(channel)
            self._subs[channel].add(peer)
            await peer.send(mist.subscribed_frame(channel))
            if channel == "/test":
                await self.send_data(peer, self._data_frame(channel, 1))
        else:
            mine.discard(channel)
            self._subs[channel].discard(peer)
            await peer.send(mist.unsubscribed_frame(channel))

    def _refusal(self, channel: str, count: int) -> str | None:
        """Why ``channel`` cannot be subscribed to, or ``None``."""
        if count >= self.max_channels:
            return f"too many channels on this connection (limit {self.max_channels})"
        if channel == "/test":
            return None
        org = _ORG_CHANNEL.match(channel)
        if org is not None:
            return None if org["org"] == self.org_id else f"forbidden: organisation {org['org']} is not this token's"
        match = _SITE_CHANNEL.match(channel)
        if match is None:
            return f"unknown channel {channel}"
        site = self.world.site_by_id.get(match["site"])
        if site is None:
            return f"forbidden: site {match['site']} is not in this organisation"
        if match["map"] is not None and match["map"] not in site.map_ids:
            return f"unknown map {match['map']} in site {site.id}"
        if match["device"] is not None and match["device"] not in {d.id for d in site.devices}:
            return f"unknown device {match['device']} in site {site.id}"
        return None

    # -- data ----------------------------------------------------------------------------------------------

    def _data_frame(self, channel: str, payload: Any) -> str:
        if self.data_as_object:
            return dumps({"event": "data", "channel": channel, "data": payload})
        return mist.data_frame(channel, payload)

    def _corrupt(self, frame: str) -> str:
        if self._fault_rng.random() < 0.5 and '"data":"' in frame:
            return frame.replace('"data":"', '"data":"{', 1)  # the frame parses; its data string does not
        return super()._corrupt(frame)

    async def _tick(self) -> None:
        wanted = {channel for channel, peers in self._subs.items() if peers}
        messages = self.world.tick(time.time(), wanted)
        await self._send_all(messages)
        await self._drain()
        if not messages and self.interval == 0:
            await asyncio.sleep(0.01)  # flat out with nobody listening: do not spin

    async def _send_all(self, messages: Iterable[tuple[str, Any]]) -> None:
        for channel, payload in messages:
            frame = self._data_frame(channel, payload)
            for peer in tuple(self._subs.get(channel, ())):
                await self.send_data(peer, frame)
