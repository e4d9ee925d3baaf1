"""A Forcepoint SMC-compatible server on loopback: the REST session and the status socket on one port.

>>> from streamkit.sim import SmcSimulator
>>> with SmcSimulator(seed=1) as sim:
...     sim.url.startswith("http://127.0.0.1:"), sim.socket_url.endswith("/7.2/status/socket"), sim.api_key
(True, True, 'db4277b7037a1f74af79cb83fe7d29')
>>> {kind: len(hrefs) for kind, hrefs in sim.hrefs.items()}
{'engines': 4, 'nodes': 5, 'vpns': 1, 'tunnels': 3, 'endpoints': 6}
"""

from __future__ import annotations

import random
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ..protocols import smc
from ..protocols.base import Malformed, SubscribeRequest
from ._server import Faults, Peer, Simulator
from .smc_world import SmcWorld

__all__ = ["SmcSimulator"]

API_VERSIONS = ("6.10", "7.1", "7.2")


@dataclass(slots=True)
class _Socket:
    """One status-socket connection: its numbered subscriptions (from 0 on every connection)."""

    peer: Peer
    subs: dict[int, tuple[str, str]]
    next_id: int = 0


class SmcSimulator(Simulator):
    """Serves the SMC REST session and ``/{version}/status/socket`` (see the protocol notes, smc.md).

    Args:
        seed: the scenario's seed.
        interval: seconds between scenario steps (node state changes, tunnel figures drifting).
        engines, clusters, cluster_nodes, vpns, tunnels, flap_rate: scenario sizes and liveliness.
        session_ttl: seconds a login session lives (``None``: until logout or :meth:`expire_sessions`).
        faults, host, port, ssl: as for every simulator.

    Credentials it accepts: ``api_key`` (``POST {ver}/login``) and ``login``/``password`` (``lms_login``).
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
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: Any = None,
    ) -> None:
        super().__init__(host=host, port=port, seed=seed, interval=interval, faults=faults, ssl=ssl)
        self.version = API_VERSIONS[-1]
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
        self.session_ttl = session_ttl
        self._sessions: dict[str, float] = {}  # cookie -> expiry (monotonic; inf without a ttl)
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
        return sum(1 for expiry in self._sessions.values() if expiry > now)

    def expire_sessions(self) -> None:
        """End every login session now, as an SMC does when sessions time out."""
        self._sessions.clear()

    # -- server --------------------------------------------------------------------------------------------

    async def _listen(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_get("/api", self._versions)
        app.router.add_get("/{ver}/api", self._entry_points)
        app.router.add_post("/{ver}/login", self._login)
        app.router.add_post("/{ver}/lms_login", self._lms_login)
        app.router.add_put("/{ver}/logout", self._logout)
        app.router.add_get("/{ver}/system/current_user", self._current_user)
        app.router.add_get("/{ver}/elements/{kind}", self._elements)
        app.router.add_get("/{ver}/status/socket", self._status_socket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self.ssl).start()

    async def _close(self) -> None:
        self._sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _check_version(self, request: web.Request) -> None:
        if request.match_info["ver"] not in API_VERSIONS:
            raise web.HTTPNotFound(text=f"no API version {request.match_info['ver']}; see /api\n")

    def _session(self, request: web.Request) -> str | None:
        cookie = request.cookies.get(smc.SESSION_COOKIE)
        if cookie is None:
            return None
        expiry = self._sessions.get(cookie)
        if expiry is None or expiry <= time.monotonic():
            self._sessions.pop(cookie, None)
            return None
        return cookie

    def _require_session(self, request: web.Request) -> str:
        self._check_version(request)
        cookie = self._session(request)
        if cookie is None:
            self.counts["refused_401"] += 1
            raise web.HTTPUnauthorized(text="no valid session: log in first\n")
        return cookie

    def _start_session(self) -> web.Response:
        cookie = secrets.token_hex(16)
        self._sessions[cookie] = time.monotonic() + (self.session_ttl or float("inf"))
        self.counts["logins"] += 1
        response = web.json_response({"details": "Login successful"})
        response.set_cookie(smc.SESSION_COOKIE, cookie, path="/", httponly=True)
        return response

    async def _versions(self, request: web.Request) -> web.Response:
        return web.json_response({"version": [{"rel": v, "href": f"{self.url}/{v}/api"} for v in API_VERSIONS]})

    async def _entry_points(self, request: web.Request) -> web.Response:
        self._check_version(request)
        ver = request.match_info["ver"]
        points = [
            ("login", "POST", "login"),
            ("lms_login", "POST", "lms_login"),
            ("logout", "PUT", "logout"),
            ("current_user", "GET", "system/current_user"),
            ("single_fw", "GET", "elements/single_fw"),
            ("fw_cluster", "GET", "elements/fw_cluster"),
            ("vpn", "GET", "elements/vpn"),
        ]
        return web.json_response(
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
            raise web.HTTPUnauthorized(text="Login failed: invalid authentication key\n")
        return self._start_session()

    async def _lms_login(self, request: web.Request) -> web.Response:
        self._check_version(request)
        if request.query.get("login") != self.login or request.query.get("pwd") != self.password:
            self.counts["refused_login"] += 1
            raise web.HTTPUnauthorized(text="Login failed: invalid login or password\n")
        return self._start_session()

    async def _logout(self, request: web.Request) -> web.Response:
        cookie = self._require_session(request)
        del self._sessions[cookie]
        self.counts["logouts"] += 1
        return web.Response(status=204)

    async def _current_user(self, request: web.Request) -> web.Response:
        self._require_session(request)
        return web.json_response({"name": self.login, "enabled": True, "superuser": True})

    async def _elements(self, request: web.Request) -> web.Response:
        self._require_session(request)
        listing = self.world.elements(request.match_info["kind"])
        return web.json_response({"result": [{"href": self.href(e.pop("path")), **e} for e in listing]})

    # -- status socket -------------------------------------------------------------------------------------

    async def _status_socket(self, request: web.Request) -> web.StreamResponse:
        self._require_session(request)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=2**20)
        await ws.prepare(request)
        peer = Peer(ws.send_str, request.transport)
        conn = _Socket(peer, {})
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
        return urlsplit(href).path.rstrip("/")

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
            await self.send_data(conn.peer, smc.status_frame(sid, self._status(path)))

    def _status(self, path: str) -> dict[str, Any]:
        status = self.world.status(path)
        status["result"] = [{**child, "href": self.href(child["href"])} for child in status["result"]]
        return status

    async def _tick(self) -> None:
        changed = self.world.tick()
        if not self._sockets:
            return
        frames: dict[str, dict[str, Any]] = {}
        for conn in tuple(self._sockets.values()):
            for sid, (kind, value) in tuple(conn.subs.items()):
                if kind == "context":
                    paths = [p for p in self.world.context_members(value) or () if p in changed]
                else:
                    path = self._path(value)
                    paths = [path] if path in changed else []
                for path in paths:
                    if path not in frames:  # one status object per changed element per tick
                        frames[path] = self._status(path)
                    await self.send_data(conn.peer, smc.status_frame(sid, frames[path]))
