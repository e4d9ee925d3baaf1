"""The clients users create: ``sk.mist(...)``, ``sk.smc(...)``, ``sk.feed(...)``.

A subscription is a hot, shared Observable: its first observer connects and subscribes, later ones share it, and
when the last one goes the server is told to unsubscribe. Against the Mist cloud the client is
``sk.mist(region="emea01")`` with the token in ``$MIST_API_TOKEN``; here it is the bundled simulator:

>>> import streamkit as sk
>>> from streamkit.sim import MistSimulator
>>> sim = MistSimulator(seed=1, interval=0.05, sites=1, aps=2).start()
>>> mist = sk.mist(url=sim.url, token=sim.token)
>>> devices = mist.subscribe(sim.channel("device_stats"))
>>> seen = []
>>> subscription = devices.subscribe(seen.append)      # connects and subscribes
>>> rows = sk.collect(devices, count=3, timeout=10)    # shares that subscription
>>> mist.topics == (sim.channel("device_stats"),), len(rows), len(seen) >= 3
(True, 3, True)
>>> subscription.dispose()
>>> mist.close()
>>> sim.stop()
"""

from __future__ import annotations

import base64
import os
import ssl as ssl_module
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from .._redact import install_http
from ..core import Message, Stream, Topic
from ..errors import AuthenticationError, ProtocolError
from ..protocols import FeedProtocol, MistProtocol, SmcProtocol
from ..protocols import mist as mist_protocol
from ..protocols import smc as smc_protocol
from ..protocols.feed import ALL, MessageBuilder, Selector
from ..protocols.smc import HttpRequest, HttpResponse, SmcSession
from .client import Client
from .policy import Reconnect
from .transport import Connector, Transport, TransportOptions, connector

__all__ = ["FeedClient", "MistClient", "SmcClient", "feed", "mist", "smc"]

SSLOption = ssl_module.SSLContext | None


class MistClient(Client):
    """A Juniper Mist stream connection; create it with :func:`mist`."""

    def subscribe(self, channel: str) -> Stream[Message]:
        """The hot, shared Observable of one channel, e.g. ``/sites/{site_id}/stats/devices``.

        Records are the decoded ``data`` payloads; ``record.origin`` is the channel.
        """
        if not isinstance(channel, str) or not channel.startswith("/"):
            raise ValueError(f"a Mist channel is a path such as '/sites/<site_id>/stats/devices', not {channel!r}")
        return self._stream(channel)


class SmcClient(Client):
    """A Forcepoint SMC status-socket connection (REST login first); create it with :func:`smc`."""

    def __init__(
        self,
        *,
        url: str,
        credentials: dict[str, str | None],
        api_version: str | None,
        domain: str | None,
        verify: ssl_module.SSLContext | bool,
        timeout: float,
        connector: Connector,
        options: TransportOptions,
        reconnect: Reconnect | None,
    ) -> None:
        super().__init__(
            SmcProtocol(), url=url.rstrip("/"), connector=connector, options=options, reconnect=reconnect, name="SMC"
        )
        self._credentials = credentials  # api_key or login/password: never shown
        self._api_version = api_version
        self._domain = domain
        self._verify = verify
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self.session: SmcSession | None = None

    def subscribe(self, *, context: str | None = None, element: str | None = None) -> Stream[Message]:
        """The hot, shared Observable of a family (``context="fw_single"``) or one element (``element=href``).

        Records are status objects; ``record.origin`` is ``("context", name)`` or ``("element", href)``.
        """
        return self._stream(smc_protocol.subscription_topic(context=context, element=element))

    async def _request(self, request: HttpRequest) -> HttpResponse:
        if self._http is None:
            install_http()  # lms_login puts the password in the URL, and httpcore traces cookies
            self._http = httpx.AsyncClient(verify=self._verify, timeout=self._timeout)
        response = await self._http.request(
            request.method, request.url, params=request.params, json=request.json, headers=request.headers
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        return HttpResponse(response.status_code, body, dict(response.cookies))

    async def _login(self) -> SmcSession:
        flow = smc_protocol.login_flow(
            self.url,
            api_key=self._credentials.get("api_key"),
            login=self._credentials.get("login"),
            password=self._credentials.get("password"),
            api_version=self._api_version,
            domain=self._domain,
        )
        request = next(flow)
        while True:
            response = await self._request(request)
            try:
                request = flow.send(response)
            except StopIteration as done:
                session: SmcSession = done.value
                return session

    async def _open(self) -> Transport:
        fresh = self.session is None
        if self.session is None:
            self.session = await self._login()
        try:
            return await self._connector(self.session.socket_url("status"), self.session.cookie_header, self._options)
        except AuthenticationError:
            if fresh:
                raise
            self.session = await self._login()  # the session expired while we were away: log in again, once
            return await self._connector(self.session.socket_url("status"), self.session.cookie_header, self._options)

    async def _on_close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            flow = smc_protocol.logout_flow(session)
            request = next(flow)
            try:
                flow.send(await self._request(request))
            except StopIteration:
                pass
            except (httpx.HTTPError, OSError, ProtocolError):
                pass  # the server is gone or already forgot the session: nothing left to end
        if self._http is not None:
            await self._http.aclose()
            self._http = None


class FeedClient(Client):
    """Any JSON WebSocket feed; create it with :func:`feed`."""

    def subscribe(self, topic: Topic = ALL) -> Stream[Message]:
        """The hot, shared Observable of one topic (``"*"``: everything no other subscription claims)."""
        return self._stream(topic)


# -- factories -------------------------------------------------------------------------------------------


C = TypeVar("C", bound=Client)


def _recording(path: str | Path | None, client: C) -> C:
    """Start recording ``client`` to ``path`` (the ``record=`` option); the recorder stops when the client closes."""
    if path is not None:
        from ..recording import record  # recording builds on connection, not the other way round

        client.recorder = record(client, path)
    return client


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def mist(
    *,
    token: str | None = None,
    region: str | None = None,
    host: str | None = None,
    url: str | None = None,
    email: str | None = None,
    password: str | None = None,
    cookies: Mapping[str, str] | None = None,
    ssl: SSLOption = None,
    reconnect: Reconnect | None = None,
    ping_interval: float | None = 30.0,
    ping_timeout: float | None = 20.0,
    max_size: int | None = 16 * 2**20,
    max_queue: int = 64,
    proxy: str | Literal[True] | None = True,
    transport: str | Connector = "websockets",
    record: str | Path | None = None,
) -> MistClient:
    """A Juniper Mist stream client. Nothing connects until the first observer subscribes.

    Args:
        token: API token (default: ``$MIST_API_TOKEN``); or ``email``/``password`` (Basic), or a login
            session's ``cookies`` (``sessionid``, ``csrftoken``).
        region: ``global01`` ... ``apac03``; or ``host``: the REST host (``api.eu.mist.com``); or ``url``: the
            full stream URL (e.g. a simulator's). Default: ``$MIST_HOST``, else ``$MIST_REGION``, else global01.
        ssl: an ``SSLContext`` for custom CAs; certificates are verified by default.
        reconnect: the retry policy; ping_interval/ping_timeout: keepalive; max_size: largest frame (bytes);
            max_queue: frames buffered before reading pauses (the server then meets TCP backpressure).
        transport: ``"websockets"``, or a connector (see :mod:`streamkit.connection.transport`).
        record: also record every frame to this ``.jsonl.gz`` file (see ``sk.record``), until close().

    Nothing connects until a subscription has an observer, so a cloud client can be made and looked at here:

    >>> import streamkit as sk
    >>> cloud = sk.mist(region="emea01", token="...")    # or the token from $MIST_API_TOKEN
    >>> cloud.url
    'wss://api-ws.eu.mist.com/api-ws/v1/stream'
    >>> cloud.close()

    Streaming, here from the bundled simulator (with ``email``/``password``; ``token`` and ``cookies`` work too):

    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, email=sim.email, password=sim.password) as mist:
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=3, timeout=10)
    >>> len(rows), all("mac" in row for row in rows)
    (3, True)
    """
    if sum(x is not None for x in (region, host, url)) > 1:
        raise ValueError("give at most one of region=, host= or url=")
    if url is None:
        if region is None and host is None:
            host, region = _env("MIST_HOST"), _env("MIST_REGION")
            if host is not None:
                region = None
            elif region is None:
                region = "global01"
        url = mist_protocol.stream_url(region=region, host=host)
    headers: dict[str, str] = {}
    if email is not None or password is not None:
        if not (email and password):
            raise ValueError("Basic authentication needs both email= and password=")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()
        what = "the email and password"
    elif cookies is not None:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        what = "the session cookies (log in again to refresh them)"
    else:
        token = token or _env("MIST_API_TOKEN")
        if token is None:
            raise ValueError("no Mist API token: pass token= or set MIST_API_TOKEN (or use email=/password=)")
        headers["Authorization"] = f"Token {token}"
        what = "the API token (MIST_API_TOKEN)"
    options = TransportOptions(
        ssl=ssl,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_size=max_size,
        max_queue=max_queue,
        proxy=proxy,
        auth_hint=f"check {what} and that it belongs to the cloud region of {url}",
    )
    client = MistClient(
        MistProtocol(),
        url=url,
        connector=connector(transport),
        headers=headers,
        options=options,
        reconnect=reconnect,
        name="Mist",
    )
    return _recording(record, client)


def smc(
    *,
    url: str | None = None,
    api_key: str | None = None,
    login: str | None = None,
    password: str | None = None,
    api_version: str | None = None,
    domain: str | None = None,
    ssl: SSLOption = None,
    verify: bool = True,
    reconnect: Reconnect | None = None,
    ping_interval: float | None = 30.0,
    ping_timeout: float | None = 20.0,
    max_size: int | None = 16 * 2**20,
    max_queue: int = 64,
    timeout: float = 30.0,
    transport: str | Connector = "websockets",
    record: str | Path | None = None,
) -> SmcClient:
    """A Forcepoint SMC status-socket client: logs in over REST, then opens ``/{version}/status/socket`` with the
    session cookie; logs out on close. Nothing connects until the first observer subscribes.

    Args:
        url: the SMC API base, e.g. ``https://smc.example.com:8082`` (default: ``$SMC_URL``).
        api_key: the API client's key (default: ``$SMC_API_KEY``); or ``login`` and ``password``.
        api_version: e.g. ``"7.2"`` (default: the newest the SMC offers).
        domain: the administrative domain to log in to.
        ssl / verify: a custom ``SSLContext``, or ``verify=False`` for a lab SMC with a self-signed certificate.
        transport: ``"websockets"``, or a connector for the status socket (see :mod:`streamkit.connection.transport`).

    A lab SMC is ``sk.smc(url="https://smc.example.com:8082", api_key=key, verify=False)``; here, the bundled
    simulator:

    >>> import streamkit as sk
    >>> from streamkit.sim import SmcSimulator
    >>> with SmcSimulator(seed=1, interval=0.05) as sim, sk.smc(url=sim.url, api_key=sim.api_key) as smc:
    ...     nodes = sk.collect(smc.subscribe(context="fw_single"), count=2, timeout=10)
    ...     node = sk.collect(smc.subscribe(element=sim.hrefs["nodes"][0]), count=1, timeout=10)
    ...     logged_in = sim.sessions
    >>> [row.origin for row in nodes]
    [('context', 'fw_single'), ('context', 'fw_single')]
    >>> node[0].origin == ("element", sim.hrefs["nodes"][0]), "monitoring_state" in node[0]
    (True, True)
    >>> logged_in, sim.sessions                # close() logged out
    (1, 0)
    """
    url = url or _env("SMC_URL")
    if url is None:
        raise ValueError("no SMC URL: pass url= (e.g. 'https://smc.example.com:8082') or set SMC_URL")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the SMC URL is the REST base, http(s)://host:port, not {url!r}")
    if login is None and password is None:
        api_key = api_key or _env("SMC_API_KEY")
        if api_key is None:
            raise ValueError("no SMC credentials: pass api_key= (or set SMC_API_KEY), or login= and password=")
    elif not (login and password):
        raise ValueError("SMC user login needs both login= and password=")
    options = TransportOptions(
        ssl=ssl,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_size=max_size,
        max_queue=max_queue,
        auth_hint="the SMC session was refused; streamkit logs in again once, then gives up",
    )
    client = SmcClient(
        url=url,
        credentials={"api_key": api_key, "login": login, "password": password},
        api_version=api_version,
        domain=domain,
        verify=ssl if ssl is not None else verify,
        timeout=timeout,
        connector=connector(transport),
        options=options,
        reconnect=reconnect,
    )
    return _recording(record, client)


def feed(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    subscribe: MessageBuilder | None = lambda topic: {"subscribe": topic},
    unsubscribe: MessageBuilder | None = lambda topic: {"unsubscribe": topic},
    route: Selector = "channel",
    payload: Selector | None = None,
    ack: Callable[[Any], Topic | None] | None = None,
    ssl: SSLOption = None,
    reconnect: Reconnect | None = None,
    ping_interval: float | None = 30.0,
    ping_timeout: float | None = 20.0,
    max_size: int | None = 16 * 2**20,
    max_queue: int = 64,
    proxy: str | Literal[True] | None = True,
    transport: str | Connector = "websockets",
    record: str | Path | None = None,
) -> FeedClient:
    """A client for any JSON WebSocket feed (see :class:`~streamkit.protocols.feed.FeedProtocol` for
    ``subscribe``, ``unsubscribe``, ``route``, ``payload`` and ``ack``).

    A feed without topics that pushes everything unasked is ``sk.feed(url, subscribe=None).subscribe()``. One that
    wants ``{"op": "sub", "topic": ...}`` and sends ``{"topic": ..., "data": {...}}``, played here by an in-memory
    server (against a real one, drop ``transport=``):

    >>> import json, streamkit as sk
    >>> from streamkit.connection import MemoryServer
    >>> def respond(connection, frame):             # the server answers a subscription with one price
    ...     request = json.loads(frame)
    ...     if request["op"] == "sub":
    ...         connection.push(json.dumps({"topic": request["topic"], "data": {"px": 1.5}}))
    >>> server = MemoryServer(respond=respond)
    >>> prices = sk.feed(
    ...     "wss://feed.example/ws",
    ...     subscribe=lambda t: {"op": "sub", "topic": t},
    ...     unsubscribe=lambda t: {"op": "unsub", "topic": t},
    ...     route="topic",
    ...     payload="data",
    ...     transport=server.connect,
    ... )
    >>> sk.collect(prices.subscribe("prices"), count=1, timeout=10)
    [Message({'px': 1.5}, origin='prices')]
    >>> server.connections[0].sent[0]
    '{"op":"sub","topic":"prices"}'
    >>> prices.close()
    """
    adapter = FeedProtocol(subscribe=subscribe, unsubscribe=unsubscribe, route=route, payload=payload, ack=ack)
    options = TransportOptions(
        ssl=ssl,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_size=max_size,
        max_queue=max_queue,
        proxy=proxy,
        auth_hint="check the headers= you passed",
    )
    client = FeedClient(
        adapter,
        url=url,
        connector=connector(transport),
        headers=headers or {},
        options=options,
        reconnect=reconnect,
        name="Feed",
    )
    return _recording(record, client)
