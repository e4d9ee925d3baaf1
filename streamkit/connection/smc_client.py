"""The Forcepoint SMC client: a REST login, then the status socket with the session cookie."""

from __future__ import annotations

import ssl as ssl_module
from pathlib import Path

import httpx

from .._redact import install_http
from ..core import Message, Stream
from ..errors import AuthenticationError, ProtocolError
from ..protocols import SmcProtocol
from ..protocols import smc as smc_protocol
from ..protocols.smc import HttpRequest, HttpResponse, SmcSession
from ._factory import SSLOption, env, recording
from .client import Client
from .policy import Reconnect
from .transport import Connector, Transport, TransportOptions, connector

__all__ = ["SmcClient", "smc"]


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
    url = url or env("SMC_URL")
    if url is None:
        raise ValueError("no SMC URL: pass url= (e.g. 'https://smc.example.com:8082') or set SMC_URL")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the SMC URL is the REST base, http(s)://host:port, not {url!r}")
    if login is None and password is None:
        api_key = api_key or env("SMC_API_KEY")
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
    return recording(record, client)
