"""A Mist-compatible WebSocket stream server on loopback, driven by a seeded :class:`MistWorld`.

The same seed gives the same organisation (ids, devices, credentials); the port is a free one unless given:

>>> from streamkit.sim import MistSimulator
>>> with MistSimulator(seed=1) as sim:
...     sim.url.startswith("ws://127.0.0.1:"), sim.channel("device_stats"), len(sim.devices)
(True, '/sites/1e2feb89-414c-443c-9027-c4d1c386bbc4/stats/devices', 20)
>>> sim.running
False
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import socket
import time
from collections import defaultdict
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .._json import dumps
from .._redact import websockets_logger
from ..protocols import mist
from ..protocols.base import Malformed, SubscribeRequest
from ._server import Faults, Peer, Simulator
from .mist_world import MistWorld

__all__ = ["MistSimulator"]

_CHANNEL = re.compile(
    r"^/sites/(?P<site>[^/]+)/(?:stats/devices|stats/clients|devices"
    r"|stats/maps/(?P<map>[^/]+)/clients|devices/(?P<device>[^/]+)/cmd)$"
)
CHANNEL_KINDS = ("device_stats", "client_stats", "device_events", "location")


class MistSimulator(Simulator):
    """Serves ``/api-ws/v1/stream`` the way Mist does (see the protocol notes, mist.md).

    Args:
        seed: the scenario's seed; the same seed gives the same organisation and the same story.
        interval: seconds between updates of each device and client (Mist itself: 20-30 s); 0 = flat out.
        sites, aps, switches, gateways, clients, maps: scenario sizes (per site but ``sites``).
        max_channels: subscriptions allowed per connection before ``subscribe_failed``.
        data_as_object: send ``data`` as a JSON object instead of a JSON string (clients must accept both).
        faults: connection drops, malformed frames and stalls to inject (:class:`Faults`).
        host, port, ssl: where to listen (port 0: a free one) and an optional TLS context (``wss://``).
        world: further :class:`MistWorld` knobs (``restart_rate``, ``roam_rate`` ...).

    Credentials it accepts: ``token`` (``Authorization: Token ...``), ``email``/``password`` (Basic) and
    ``cookies`` (a login session's ``sessionid`` and ``csrftoken``).
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
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: Any = None,
        **world: Any,
    ) -> None:
        super().__init__(host=host, port=port, seed=seed, interval=interval, faults=faults, ssl=ssl)
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
        self._subs: defaultdict[str, set[Peer]] = defaultdict(set)
        self._refuse: list[tuple[int, float]] = []
        self._server: Server | None = None

    # -- what a client needs to know ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{mist.STREAM_PATH}"

    @property
    def headers(self) -> dict[str, str]:
        """The upgrade headers of a token login."""
        return {"Authorization": f"Token {self.token}"}

    @property
    def org_id(self) -> str:
        return self.world.org_id

    @property
    def site_ids(self) -> list[str]:
        return [site.id for site in self.world.sites]

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
        """A channel this simulator serves: ``device_stats``, ``client_stats``, ``device_events`` or ``location``
        for the ``site``-th site (and its ``map``-th map)."""
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"kind is one of {', '.join(CHANNEL_KINDS)}, not {kind!r}")
        s = self.world.sites[site]
        key = f"location:{s.map_ids[map]}" if kind == "location" else kind
        return self.world.channels(s)[key]

    def __repr__(self) -> str:
        base = super().__repr__()[:-1]
        return f"{base} org={self.org_id} sites={len(self.world.sites)}>"

    # -- controls ------------------------------------------------------------------------------------------

    def refuse_next(self, count: int = 1, *, status: int = 429, retry_after: float = 30) -> None:
        """Answer the next ``count`` upgrades with HTTP ``status`` (429: rate limited, with ``Retry-After``;
        503: unavailable ...)."""
        self._refuse.extend([(status, retry_after)] * count)

    def command_output(self, device_id: str, text: str, *, session: str = "sim-session", pieces: int = 3) -> None:
        """Stream ``text`` as a device command's output on ``/sites/{site}/devices/{device_id}/cmd``
        in ``pieces`` data events, as Mist does after a REST-triggered command (thread-safe)."""
        device = self.world.device_by_id[device_id]
        channel = f"/sites/{device.site_id}/devices/{device_id}/cmd"
        step = max(1, -(-len(text) // pieces))
        chunks = [text[i : i + step] for i in range(0, len(text), step)]

        async def push() -> None:
            for chunk in chunks:
                frame = self._data_frame(channel, {"session": session, "raw": chunk})
                for peer in tuple(self._subs.get(channel, ())):
                    await self.send_data(peer, frame)

        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(push(), self._loop)

    # -- server --------------------------------------------------------------------------------------------

    async def _listen(self, sock: socket.socket) -> None:
        self._server = await serve(
            self._handler,
            sock=sock,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            ssl=self.ssl,
            logger=websockets_logger("streamkit.sim"),
            max_size=2**20,
            server_header="streamkit-sim (Mist)",
        )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._subs.clear()

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != mist.STREAM_PATH:
            return conn.respond(404, f"no stream here: the stream is at {mist.STREAM_PATH}\n")
        if self._refuse:
            status, retry_after = self._refuse.pop(0)
            self.counts[f"refused_{status}"] += 1
            response = conn.respond(status, "rate limited, retry later\n" if status == 429 else "unavailable\n")
            if status == 429:
                response.headers["Retry-After"] = f"{retry_after:g}"
            return response
        if not self._authorized(request.headers):
            self.counts["refused_401"] += 1
            return conn.respond(401, "authentication required: invalid or missing credentials\n")
        return None

    def _authorized(self, headers: Headers) -> bool:
        auth = headers.get("Authorization", "")
        if auth == f"Token {self.token}":
            return True
        if auth.startswith("Basic "):
            try:
                pair = base64.b64decode(auth[6:], validate=True).decode()
            except ValueError:
                return False
            return pair == f"{self.email}:{self.password}"
        return self._cookie_ok(headers.get("Cookie", ""))

    def _cookie_ok(self, header: str) -> bool:
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            return False
        values: Mapping[str, str] = {k: v.value for k, v in jar.items()}
        return all(values.get(name) == value for name, value in self.cookies.items())

    async def _handler(self, conn: ServerConnection) -> None:
        peer = Peer(conn.send, conn.transport, write=lambda frame: broadcast((conn,), frame))
        self._peers.add(peer)
        self.counts["connections"] += 1
        mine: set[str] = set()
        try:
            async for frame in conn:
                request = mist.parse_request(frame)
                if isinstance(request, Malformed):
                    self.counts["bad_requests"] += 1
                    continue
                channel = str(request.topic)
                self.counts["subscribes" if isinstance(request, SubscribeRequest) else "unsubscribes"] += 1
                if isinstance(request, SubscribeRequest):
                    problem = None if channel in mine else self._refusal(channel, len(mine))
                    if problem:
                        await peer.send(mist.subscribe_failed_frame(channel, problem))
                        continue
                    mine.add(channel)
                    self._subs[channel].add(peer)
                    await peer.send(mist.subscribed_frame(channel))
                    if channel == "/test":
                        await self.send_data(peer, self._data_frame(channel, 1))
                else:
                    mine.discard(channel)
                    self._subs[channel].discard(peer)
                    await peer.send(mist.unsubscribed_frame(channel))
        except ConnectionClosed:
            pass
        finally:
            self._peers.discard(peer)
            for channel in mine:
                self._subs[channel].discard(peer)

    def _refusal(self, channel: str, count: int) -> str | None:
        """Why ``channel`` cannot be subscribed to, or ``None``."""
        if count >= self.max_channels:
            return f"too many channels on this connection (limit {self.max_channels})"
        if channel == "/test":
            return None
        match = _CHANNEL.match(channel)
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
        for channel, payload in messages:
            frame = self._data_frame(channel, payload)
            for peer in tuple(self._subs.get(channel, ())):
                await self.send_data(peer, frame)
        await self._drain()
        if not messages and self.interval == 0:
            await asyncio.sleep(0.01)  # flat out with nobody listening: do not spin
