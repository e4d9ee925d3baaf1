"""A Forcepoint SMC-compatible server on loopback: the REST session and the status socket on one port.

>>> from streamkit.sim import SmcSimulator
>>> with SmcSimulator(seed=1) as sim:
...     sim.url.startswith("http://127.0.0.1:"), sim.socket_url.endswith("/7.2/status/socket"), sim.api_key
(True, True, 'db4277b7037a1f74af79cb83fe7d29')
>>> {kind: len(hrefs) for kind, hrefs in sim.hrefs.items()}
{'engines': 4, 'nodes': 5, 'vpns': 1, 'tunnels': 3, 'endpoints': 6}

It answers Forcepoint's own client, ``fp-ngfw-smc-python``, as an SMC does: the REST paths that client uses
(versions, entry points, login, current user, element listings and filters, elements by href with an ETag),
JSON as exactly ``application/json``, and a status socket that pings its clients every ``heartbeat`` seconds.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from .._json import dumps
from ..protocols import smc
from ..protocols.base import Malformed, SubscribeRequest
from ._server import Faults, Peer, Simulator
from .smc_world import ELEMENT_KINDS, SmcWorld

__all__ = ["SmcSimulator"]

#: The API versions ``GET /api`` offers by default. An SMC may offer three-part versions such as ``7.2.1``
#: (``api_versions=``); fp-ngfw-smc-python 1.0.34 cannot parse those, streamkit's client can.
API_VERSIONS = ("6.10", "7.1", "7.2")
JSON = "application/json"  # exactly: fp-ngfw-smc-python reads a body only under this content type
#: The REST entry points served besides the element listings: (rel, method, path below the version).
ENTRY_POINTS = (
    ("login", "POST", "login"),
    ("lms_login", "POST", "lms_login"),
    ("logout", "PUT", "logout"),
    ("current_user", "GET", "system/current_user"),
    ("elements", "GET", "elements"),
    ("api_client", "GET", "elements/api_client"),
    ("admin_user", "GET", "elements/admin_user"),
)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with ``Content-Type: application/json`` and no charset parameter, as the SMC sends it."""
    response = web.Response(body=dumps(body).encode(), status=status, headers=headers)
    response.content_type = JSON
    return response


class _Refused(Exception):
    """An HTTP error answer; :func:`_errors_as_json` renders it as the SMC does, in JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@web.middleware
async def _errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except _Refused as refused:
        return json_response({"status": refused.status, "message": refused.message}, status=refused.status)
    return response


@dataclass(slots=True)
class _Login:
    """One login session: when it expires and who logged in (the path of their user element)."""

    expiry: float
    user: str


@dataclass(slots=True)
class _Socket:
    """One status-socket connection: its numbered subscriptions (from 0 on every connection)."""

    peer: Peer
    subs: dict[int, tuple[str, str]]
    version: str  # hrefs in statuses are in the socket's API version
    next_id: int = 0


class SmcSimulator(Simulator):
    """Serves the SMC REST session and ``/{version}/status/socket`` (see the protocol notes, smc.md).

    Args:
        seed: the scenario's seed.
        interval: seconds between scenario steps (node state changes, tunnel figures drifting).
        engines, clusters, cluster_nodes, vpns, tunnels, flap_rate: scenario sizes and liveliness.
        session_ttl: seconds a login session lives (``None``: until logout or :meth:`expire_sessions`).
        api_versions: what ``GET /api`` offers; every one is served, hrefs in the version asked for.
            ``sim.version`` (and ``sim.hrefs``, ``sim.socket_url``) is the newest.
        heartbeat: seconds between the status socket's pings (a client that does not answer one within
            half of that is dropped); ``None``: no pings.
        faults, host, port, ssl: as for every simulator.

    Credentials it accepts: ``api_key`` (``POST {ver}/login``, logged in as the API client
    ``sim.api_client``) and ``login``/``password`` (``lms_login``, logged in as that administrator).

    >>> import streamkit as sk
    >>> with SmcSimulator(seed=1, interval=0.05) as sim, sk.smc(url=sim.url, api_key=sim.api_key) as smc:
    ...     rows = sk.collect(smc.subscribe(context="fw_single"), count=2, timeout=10)
    >>> rows[0].origin, rows[0]["name"], rows[0]["engine_node_status"]
    (('context', 'fw_single'), 'fw-berlin node 1', 'Online')
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        interval: float = 1.0,
        engines: int = 3,
        clusters: int = 1,
        cluster_nodes: int = 2,
        vpns: int = 1,
        tunnels: int = 3,
        flap_rate: float = 0.01,
        session_ttl: float | None = None,
        api_versions: Sequence[str] = API_VERSIONS,
        heartbeat: float | None = 30.0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: Any = None,
    ) -> None:
        super().__init__(host=host, port=port, seed=seed, interval=interval, faults=faults, ssl=ssl)
        try:
            self.api_versions = tuple(sorted(set(api_versions), key=_version_key))
        except ValueError:
            raise ValueError(f"API versions are numbers such as '7.2' or '7.2.1', not {list(api_versions)}") from None
        if not self.api_versions:
            raise ValueError("api_versions needs at least one version, e.g. ('7.2',)")
        if heartbeat is not None and heartbeat <= 0:
            raise ValueError(f"heartbeat is a positive number of seconds or None, not {heartbeat}")
        self.heartbeat = heartbeat
        self.version = self.api_versions[-1]
        self.world = SmcWorld(
            seed=seed,
            version=self.version,
            engines=engines,
            clusters=clusters,
            cluster_nodes=cluster_nodes,
            vpns=vpns,
            tunnels=tunnels,
            flap_rate=flap_rate,
        )
        secret = random.Random(f"credentials-{seed}")
        self.api_key = f"{secret.getrandbits(120):030x}"
        self.login = "sim-admin"
        self.password = f"pw-{secret.getrandbits(48):012x}"
        #: The name of the API client that ``api_key`` logs in as.
        self.api_client = "sim-api-client"
        self._users: dict[str, dict[str, Any]] = {
            f"/{self.version}/elements/api_client/1": {"name": self.api_client, "enabled": True, "key": 1},
            f"/{self.version}/elements/admin_user/1": {
                "name": self.login,
                "enabled": True,
                "superuser": True,
                "key": 1,
            },
        }
        self.session_ttl = session_ttl
        self._sessions: dict[str, _Login] = {}  # cookie -> expiry (monotonic; inf without a ttl) and user
        self._sockets: dict[Peer, _Socket] = {}
        self._runner: web.AppRunner | None = None

    # -- what a client needs to know ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL (what ``sk.smc(url=...)`` takes)."""
        return f"{self.http_scheme}://{self.host}:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/{self.version}/status/socket"

    def href(self, path: str) -> str:
        return self.url + path

    @property
    def hrefs(self) -> dict[str, list[str]]:
        """Element hrefs by kind: ``engines``, ``nodes``, ``vpns``, ``tunnels``, ``endpoints``."""
        w = self.world
        return {
            "engines": [self.href(e.path) for e in w.engines],
            "nodes": [self.href(n.path) for e in w.engines for n in e.nodes],
            "vpns": [self.href(v.path) for v in w.vpns],
            "tunnels": [self.href(t.path) for v in w.vpns for t in v.tunnels],
            "endpoints": [self.href(ep.path) for v in w.vpns for t in v.tunnels for ep in t.children],
        }

    @property
    def sessions(self) -> int:
        """How many login sessions are alive."""
        now = time.monotonic()
        return sum(1 for login in self._sessions.values() if login.expiry > now)

    def expire_sessions(self) -> None:
        """End every login session now, as an SMC does when sessions time out."""
        self._sessions.clear()

    # -- server --------------------------------------------------------------------------------------------

    async def _listen(self, sock: socket.socket) -> None:
        app = web.Application(middlewares=[_errors_as_json])
        app.router.add_get("/api", self._versions)
        app.router.add_get("/{ver}/api", self._entry_points)
        app.router.add_post("/{ver}/login", self._login)
        app.router.add_post("/{ver}/lms_login", self._lms_login)
        app.router.add_put("/{ver}/logout", self._logout)
        app.router.add_get("/{ver}/system/current_user", self._current_user)
        app.router.add_get("/{ver}/elements", self._search)
        app.router.add_get("/{ver}/elements/{kind}", self._elements)
        app.router.add_get("/{ver}/elements/{kind}/{rest:.+}", self._element)
        app.router.add_get("/{ver}/status/socket", self._status_socket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self.ssl).start()

    async def _close(self) -> None:
        self._sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # hrefs: the world addresses elements in the newest version; a client may use any version offered

    def _to_world(self, path: str) -> str:
        """The world's path of an element path in any offered version (``/6.10/elements/...``)."""
        ver, _, rest = path.removeprefix("/").partition("/")
        return f"/{self.version}/{rest}" if ver in self.api_versions else path

    def _href(self, path: str, ver: str) -> str:
        """The absolute href, in API version ``ver``, of a world path."""
        prefix = f"/{self.version}/"
        return self.url + (f"/{ver}/{path[len(prefix) :]}" if path.startswith(prefix) else path)

    def _absolute(self, doc: Any, ver: str) -> Any:
        """``doc`` with every ``href`` made absolute in version ``ver``."""
        if isinstance(doc, dict):
            return {
                k: self._href(v, ver) if k == "href" and isinstance(v, str) else self._absolute(v, ver)
                for k, v in doc.items()
            }
        if isinstance(doc, list):
            return [self._absolute(v, ver) for v in doc]
        return doc

    def _check_version(self, request: web.Request) -> str:
        ver = request.match_info["ver"]
        if ver not in self.api_versions:
            raise _Refused(404, f"no API version {ver}; see /api")
        return ver

    def _session(self, request: web.Request) -> str | None:
        cookie = request.cookies.get(smc.SESSION_COOKIE)
        if cookie is None:
            return None
        login = self._sessions.get(cookie)
        if login is None or login.expiry <= time.monotonic():
            self._sessions.pop(cookie, None)
            return None
        return cookie

    def _require_session(self, request: web.Request) -> str:
        self._check_version(request)
        cookie = self._session(request)
        if cookie is None:
            self.counts["refused_401"] += 1
            raise _Refused(401, "no valid session: log in first")
        return cookie

    def _start_session(self, user: str) -> web.Response:
        cookie = secrets.token_hex(16)
        self._sessions[cookie] = _Login(time.monotonic() + (self.session_ttl or float("inf")), user)
        self.counts["logins"] += 1
        response = json_response({"details": "Login successful"})
        response.set_cookie(smc.SESSION_COOKIE, cookie, path="/", httponly=True)
        return response

    async def _versions(self, request: web.Request) -> web.Response:
        return json_response({"version": [{"rel": v, "href": f"{self.url}/{v}/api"} for v in self.api_versions]})

    async def _entry_points(self, request: web.Request) -> web.Response:
        ver = self._check_version(request)
        points = [*ENTRY_POINTS, *((kind, "GET", f"elements/{kind}") for kind in ELEMENT_KINDS)]
        return json_response(
            {
                "entry_point": [
                    {"rel": rel, "href": f"{self.url}/{ver}/{path}", "method": method} for rel, method, path in points
                ]
            }
        )

    async def _login(self, request: web.Request) -> web.Response:
        self._check_version(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("authenticationkey") != self.api_key:
            self.counts["refused_login"] += 1
            raise _Refused(401, "Login failed: invalid authentication key")
        return self._start_session(f"/{self.version}/elements/api_client/1")

    async def _lms_login(self, request: web.Request) -> web.Response:
        self._check_version(request)
        if request.query.get("login") != self.login or request.query.get("pwd") != self.password:
            self.counts["refused_login"] += 1
            raise _Refused(401, "Login failed: invalid login or password")
        return self._start_session(f"/{self.version}/elements/admin_user/1")

    async def _logout(self, request: web.Request) -> web.Response:
        cookie = self._require_session(request)
        del self._sessions[cookie]
        self.counts["logouts"] += 1
        return web.Response(status=204)

    async def _current_user(self, request: web.Request) -> web.Response:
        """``{"value": href}``: the logged-in user's element (the official client fetches it for its name)."""
        cookie = self._require_session(request)
        return json_response({"value": self._href(self._sessions[cookie].user, request.match_info["ver"])})

    def _listing(self, request: web.Request, kind: str) -> web.Response:
        """Elements of one kind as ``{"result": [{name, href, type}]}``; ``filter`` (a name, or part of one
        unless ``exact_match=true``) and ``limit`` narrow it."""
        ver = request.match_info["ver"]
        if kind in ("api_client", "admin_user"):
            listing: list[dict[str, str]] | None = [
                {"name": user["name"], "path": path, "type": kind}
                for path, user in self._users.items()
                if f"/elements/{kind}/" in path
            ]
        else:
            listing = self.world.elements(kind)
        if listing is None:
            raise _Refused(404, f"no element type or filter context {kind!r}; see /{ver}/api")
        wanted = request.query.get("filter")
        if wanted:
            exact = request.query.get("exact_match", "false").lower() == "true"
            listing = [e for e in listing if (e["name"] == wanted if exact else wanted.lower() in e["name"].lower())]
        limit = request.query.get("limit", "")
        if limit.isdigit():
            listing = listing[: int(limit)]
        return json_response(
            {"result": [{"name": e["name"], "href": self._href(e["path"], ver), "type": e["type"]} for e in listing]}
        )

    async def _search(self, request: web.Request) -> web.Response:
        """``GET /elements?filter_context=...``: the listing of a composite context such as ``engine_clusters``."""
        self._require_session(request)
        return self._listing(request, request.query.get("filter_context") or "engine_clusters")

    async def _elements(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return self._listing(request, request.match_info["kind"])

    async def _element(self, request: web.Request) -> web.Response:
        """One element by its href, with an ETag (``If-None-Match`` with the current one: 304)."""
        self._require_session(request)
        ver = request.match_info["ver"]
        path = self._to_world(request.path.rstrip("/"))
        doc = self.world.document(path)
        if doc is None and path in self._users:
            kind = path.split("/")[3]
            doc = {**self._users[path], "link": [{"href": path, "rel": "self", "type": kind}]}
        if doc is None:
            raise _Refused(404, f"Element not found: {self.url}{request.path}")
        body = dumps(self._absolute(doc, ver)).encode()
        etag = f'"{hashlib.sha1(body).hexdigest()[:20]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        response = web.Response(body=body, headers={"ETag": etag})
        response.content_type = JSON
        return response

    # -- status socket -------------------------------------------------------------------------------------

    async def _status_socket(self, request: web.Request) -> web.StreamResponse:
        self._require_session(request)
        ws = web.WebSocketResponse(autoping=True, heartbeat=self.heartbeat, max_msg_size=2**20)
        await ws.prepare(request)
        peer = Peer(ws.send_str, request.transport)
        conn = _Socket(peer, {}, request.match_info["ver"])
        self._peers.add(peer)
        self._sockets[peer] = conn
        self.counts["connections"] += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_request(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await peer.send(smc.failure_frame("Binary messages are not supported"))
        finally:
            self._peers.discard(peer)
            self._sockets.pop(peer, None)
        return ws

    def _path(self, href: str) -> str:
        return self._to_world(urlsplit(href).path.rstrip("/"))

    async def _on_request(self, conn: _Socket, frame: str) -> None:
        request = smc.parse_request(frame)
        if isinstance(request, Malformed):
            await conn.peer.send(smc.failure_frame(f"Invalid request: {request.reason}"))
            return
        if not isinstance(request, SubscribeRequest):
            sid = request.topic
            if not isinstance(sid, int) or conn.subs.pop(sid, None) is None:
                await conn.peer.send(smc.failure_frame(f"Unknown subscription_id {sid}"))
            else:
                await conn.peer.send(smc.unsubscribed_frame(sid))
            return
        kind, value = cast(tuple[str, str], request.topic)
        if kind == "context":
            members = self.world.context_members(value)
            if members is None:
                await conn.peer.send(smc.failure_frame(f"Unknown context: {value}"))
                return
        else:
            path = self._path(value)
            if not self.world.exists(path):
                await conn.peer.send(smc.failure_frame(f"Element not found: {value}"))
                return
            members = [path]
        sid = conn.next_id
        conn.next_id += 1
        conn.subs[sid] = (kind, value)
        await conn.peer.send(smc.subscribed_frame(sid))
        for path in members:  # the current status at once
            await self.send_data(conn.peer, smc.status_frame(sid, self._status(path, conn.version)))

    def _status(self, path: str, ver: str) -> dict[str, Any]:
        status: dict[str, Any] = self._absolute(self.world.status(path), ver)
        return status

    async def _tick(self) -> None:
        changed = self.world.tick()
        if not self._sockets:
            return
        frames: dict[tuple[str, str], dict[str, Any]] = {}
        for conn in tuple(self._sockets.values()):
            for sid, (kind, value) in tuple(conn.subs.items()):
                if kind == "context":
                    paths = [p for p in self.world.context_members(value) or () if p in changed]
                else:
                    path = self._path(value)
                    paths = [path] if path in changed else []
                for path in paths:
                    key = (path, conn.version)
                    if key not in frames:  # one status object per changed element per tick
                        frames[key] = self._status(path, conn.version)
                    await self.send_data(conn.peer, smc.status_frame(sid, frames[key]))
