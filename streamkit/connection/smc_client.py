"""The Forcepoint SMC client: a REST login, then the status socket with the session cookie; element discovery
(``smc.engines()``, ``smc.elements(kind)``) over the same session."""

from __future__ import annotations

import asyncio
import difflib
import ssl as ssl_module
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .. import runtime
from .._redact import install_http
from ..core import Message, Stream
from ..errors import AuthenticationError, ProtocolError, RateLimited
from ..protocols import SmcProtocol
from ..protocols import smc as smc_protocol
from ..protocols.smc import HttpRequest, HttpResponse, SmcSession
from ._factory import SSLOption, env, recording
from .client import Client
from .policy import Reconnect
from .rest import RATE_LIMIT_TRIES, retry_after
from .transport import Connector, Transport, TransportOptions, connector

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SmcClient", "smc"]

T = TypeVar("T")
#: Filter contexts that group several element types: listed through the ``elements`` entry point with
#: ``?filter_context=`` (as fp-ngfw-smc-python does), not through an entry point of their own.
FILTER_CONTEXTS = (
    "engine_clusters", "fw_clusters", "ips_clusters", "layer2_clusters", "network_elements", "services",
    "services_and_applications", "alias", "tags", "situations",
)  # fmt: skip
#: Engine documents read at once when resolving an engine node's name.
READ_AT_ONCE = 8


def _is_href(element: str) -> bool:
    return "://" in element


class SmcClient(Client):
    """A Forcepoint SMC status-socket connection (REST login first), and element discovery over the same login;
    create it with :func:`smc`.

    Discovery (:meth:`engines`, :meth:`elements`, :meth:`resolve`, ``subscribe(element=name)``) makes REST calls
    on the client's own loop, with its one httpx client and its one login session: the session the status
    socket uses (a lock makes sure only one login happens), logged out on close. The synchronous calls wait for
    the answer with :func:`streamkit.runtime.run`: from a script's thread they wait on the loop thread; in a
    notebook cell, which runs on the kernel's loop, they run that loop re-entrantly until the answer is in. So
    the cell ends with its table, and what else runs on the loop (the status socket, a simulator started in the
    notebook) keeps going while it waits. A blocking HTTP client on the cell's thread would stall the loop
    instead (a simulator on it could never answer), and a second loop would need a second session. Async code
    awaits the a-prefixed forms (:meth:`aengines` ...), which never block.

    >>> import streamkit as sk
    >>> from streamkit.sim import SmcSimulator
    >>> with SmcSimulator(seed=1, interval=0.05) as sim, sk.smc(url=sim.url, api_key=sim.api_key) as smc:
    ...     rows = sk.collect(smc.subscribe(element="fw-berlin"), count=1, timeout=10)   # a name or an href
    ...     href = smc.resolve("fw-berlin")
    >>> rows[0]["name"], rows[0].origin == ("element", href)
    ('fw-berlin', True)
    """

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
        channels_per_connection: int | None = None,
    ) -> None:
        super().__init__(
            SmcProtocol(),
            url=url.rstrip("/"),
            connector=connector,
            options=options,
            reconnect=reconnect,
            name="SMC",
            channels_per_connection=channels_per_connection,
        )
        self._credentials = credentials  # api_key or login/password: never shown
        self._api_version = api_version
        self._domain = domain
        self._verify = verify
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self._login_lock = asyncio.Lock()  # one session per client: the socket and discovery share it
        self.session: SmcSession | None = None

    def _spec_options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Each process that builds this client again logs in itself (a session of its own), with the same
        credentials, version and domain."""
        open_options = {
            "url": self.url,
            "api_version": self._api_version,
            "domain": self._domain,
            "verify": self._verify,
            "timeout": self._timeout,
            "connector": self._connector,
            "options": self._options,
            "reconnect": self._reconnect,
            "channels_per_connection": self.channels_per_connection,
        }
        return open_options, {"credentials": self._credentials}

    def subscribe(self, *, context: str | None = None, element: str | None = None) -> Stream[Message]:
        """The hot, shared Observable of a family (``context="fw_single"``) or one element (``element=``: its
        href, or its name, e.g. ``element="fw-berlin"`` or ``element="fw-berlin node 1"``).

        A name is looked up among engines, VPNs and engine nodes (:meth:`resolve`): an unknown or ambiguous
        name raises :class:`ValueError` listing close matches. Records are status objects; ``record.origin`` is
        ``("context", name)`` or ``("element", href)``.
        """
        if element is not None and context is None and not _is_href(element):
            element = self.resolve(element)
        return self._stream(smc_protocol.subscription_topic(context=context, element=element))

    async def asubscribe(self, *, context: str | None = None, element: str | None = None) -> Stream[Message]:
        """Coroutine form of :meth:`subscribe`: an element's name is looked up without blocking the loop (what a
        shard on a Dask worker's loop does)."""
        if element is not None and context is None and not _is_href(element):
            element = await self.aresolve(element)
        return self._stream(smc_protocol.subscription_topic(context=context, element=element))

    # -- discovery -----------------------------------------------------------------------------------------

    def elements(self, kind: str) -> pd.DataFrame:
        """The elements of one type, by its entry point's name (``"single_fw"``, ``"fw_cluster"``, ``"vpn"``,
        ``"host"`` ...) or a filter context (``"engine_clusters"``): a DataFrame with ``name``, ``type`` and
        ``href`` first. Waits for the answer (in a notebook cell too).

        >>> import streamkit as sk
        >>> from streamkit.sim import SmcSimulator
        >>> with SmcSimulator(seed=1) as sim, sk.smc(url=sim.url, api_key=sim.api_key) as smc:
        ...     vpns = smc.elements("vpn")
        >>> vpns[["name", "type"]].to_dict("records")
        [{'name': 'Corporate VPN', 'type': 'vpn'}]
        """
        return self._wait(self.aelements(kind))

    def engines(self) -> pd.DataFrame:
        """Every engine (firewalls, clusters, IPS, layer 2, virtual and master engines): ``name``, ``type``,
        ``href``. Waits for the answer (in a notebook cell too).

        >>> import streamkit as sk
        >>> from streamkit.sim import SmcSimulator
        >>> with SmcSimulator(seed=1, engines=2, clusters=1) as sim, sk.smc(url=sim.url, api_key=sim.api_key) as smc:
        ...     table = smc.engines()
        >>> table.columns[:3].tolist(), table["type"].tolist()
        (['name', 'type', 'href'], ['single_fw', 'single_fw', 'fw_cluster'])
        """
        return self._wait(self.aengines())

    def resolve(self, name: str) -> str:
        """The href of the engine, VPN or engine node called ``name``; :class:`ValueError` (with close matches)
        when none or several are. Waits for the answer (in a notebook cell too).

        >>> import streamkit as sk
        >>> from streamkit.sim import SmcSimulator
        >>> with SmcSimulator(seed=1) as sim, sk.smc(url=sim.url, api_key=sim.api_key) as smc:
        ...     smc.resolve("fw-berlin node 1") == sim.hrefs["nodes"][0]
        True
        """
        return self._wait(self.aresolve(name))

    async def aelements(self, kind: str) -> pd.DataFrame:
        """Coroutine form of :meth:`elements`."""
        return _frame(await self._listing(kind))

    async def aengines(self) -> pd.DataFrame:
        """Coroutine form of :meth:`engines`."""
        return _frame(await self._listing("engine_clusters"))

    async def aresolve(self, name: str) -> str:
        """Coroutine form of :meth:`resolve`."""
        session = await self._session()
        candidates = await self._listing("engine_clusters")
        if "vpn" in session.entry_points:
            candidates += await self._listing("vpn")
        found = [c for c in candidates if c.get("name") == name]
        if not found:  # engine nodes: read each engine's document, a few at a time
            candidates += await self._nodes([c for c in candidates if c.get("type") != "vpn"])
            found = [c for c in candidates if c.get("name") == name]
        if len(found) == 1:
            return str(found[0]["href"])
        if found:
            listed = "; ".join(f"{c.get('type')} {c['href']}" for c in found)
            raise ValueError(
                f"{len(found)} SMC elements are named {name!r} ({listed}): pass element= the href of the one you mean"
            )
        names = sorted({str(c["name"]) for c in candidates if c.get("name")})
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f"close matches: {', '.join(map(repr, close))}" if close else f"{len(names)} names looked at"
        raise ValueError(
            f"no SMC engine, engine node or VPN is named {name!r} ({hint}); "
            "see smc.engines() or smc.elements(kind), or pass element= an href"
        )

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this SMC client is closed (and logged out): create a new one with sk.smc(...)")
        if runtime.in_loop_thread(self._loop):
            return runtime.run(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _nodes(self, engines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = asyncio.Semaphore(READ_AT_ONCE)

        async def nodes_of(engine: dict[str, Any]) -> list[dict[str, Any]]:
            async with limit:
                doc = await self._get(str(engine["href"]), what=f"engine {engine.get('name')!r}")
            found = []
            for entry in doc.get("nodes", []) if isinstance(doc, dict) else []:
                for node_type, node in entry.items() if isinstance(entry, dict) else ():
                    links = node.get("link", []) if isinstance(node, dict) else []
                    href = next((link.get("href") for link in links if link.get("rel") == "self"), None)
                    if href:
                        found.append({"name": node.get("name"), "type": node_type, "href": href})
            return found

        return [node for nodes in await asyncio.gather(*map(nodes_of, engines)) for node in nodes]

    async def _listing(self, kind: str) -> list[dict[str, Any]]:
        session = await self._session()
        points = session.entry_points
        if kind in points and kind not in FILTER_CONTEXTS:
            url, params = points[kind], None
        elif kind in FILTER_CONTEXTS:
            url = points.get("elements", f"{session.base_url}/{session.version}/elements")
            params = {"filter_context": kind}
        else:
            known = sorted({*points, *FILTER_CONTEXTS})
            close = difflib.get_close_matches(kind, known, n=5, cutoff=0.5)
            hint = f"close matches: {', '.join(map(repr, close))}" if close else "see client.session.entry_points"
            raise ValueError(f"this SMC (API {session.version}) has no element type {kind!r} ({hint})")
        body = await self._get(url, params=params, what=f"the {kind} elements")
        result = body.get("result", []) if isinstance(body, dict) else body
        if not isinstance(result, list):
            raise ProtocolError(f"SMC listing of {kind}: expected a list of elements, got {type(result).__name__}")
        return [e for e in result if isinstance(e, dict) and "href" in e]

    async def _get(self, url: str, *, params: Mapping[str, str] | None = None, what: str) -> Any:
        """GET a REST resource with the session's cookie; logs in again once if the session expired."""
        session = await self._session()
        for again in (True, False):
            response = await self._request(HttpRequest("GET", url, params=params, headers=session.cookie_header))
            if response.status == 401 and again:
                session = await self._relogin(session)
                continue
            break
        if response.status in (401, 403):
            raise AuthenticationError(
                f"the SMC refused to show {what} (HTTP {response.status}): check that the API client (or "
                "administrator) is enabled and its role may view these elements"
                + (f" in domain {self._domain!r}" if self._domain else "")
            )
        if response.status == 429:
            raise RateLimited(
                f"the SMC is still rate-limiting after {RATE_LIMIT_TRIES} tries for {what}: wait, then ask again",
                retry_after=retry_after(response.headers, RATE_LIMIT_TRIES),
            )
        if response.status != 200 or response.body is None:
            raise ProtocolError(f"SMC GET {url} answered HTTP {response.status} without JSON, asking for {what}")
        return response.body

    async def _session(self) -> SmcSession:
        """The client's one login session (logging in if there is none yet)."""
        async with self._login_lock:
            if self._closed:
                raise RuntimeError("this SMC client is closed (and logged out): create a new one with sk.smc(...)")
            if self.session is None:
                self.session = await self._login()
            return self.session

    async def _relogin(self, stale: SmcSession) -> SmcSession:
        """Log in again because ``stale`` was refused, unless another caller already did."""
        async with self._login_lock:
            if self.session is stale or self.session is None:
                self.session = await self._login()
            return self.session

    async def _request(self, request: HttpRequest) -> HttpResponse:
        """Perform one REST request; on HTTP 429 wait as :func:`~streamkit.connection.rest.retry_after` says and
        try again, :data:`~streamkit.connection.rest.RATE_LIMIT_TRIES` tries in all."""
        if self._http is None:
            install_http()  # lms_login puts the password in the URL, and httpcore traces cookies
            self._http = httpx.AsyncClient(verify=self._verify, timeout=self._timeout)
        for attempt in range(RATE_LIMIT_TRIES):
            response = await self._http.request(
                request.method, request.url, params=request.params, json=request.json, headers=request.headers
            )
            if response.status_code != 429 or attempt == RATE_LIMIT_TRIES - 1:
                break
            await asyncio.sleep(retry_after(response.headers, attempt))
        try:
            body = response.json()
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in response.headers.items() if k.lower() != "set-cookie"}
        return HttpResponse(response.status_code, body, dict(response.cookies), headers)

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
        session = await self._session()
        try:
            return await self._connector(session.socket_url("status"), session.cookie_header, self._options)
        except AuthenticationError:
            if fresh:
                raise
            session = await self._relogin(session)  # it expired while we were away: log in again, once
            return await self._connector(session.socket_url("status"), session.cookie_header, self._options)

    async def _on_close(self) -> None:
        async with self._login_lock:  # a login in progress ends first, then its session is logged out
            session, self.session = self.session, None
        if session is not None:
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


def _frame(elements: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd  # only when a table is asked for: import streamkit stays light

    first = ["name", "type", "href"]
    rest = list(dict.fromkeys(k for e in elements for k in e if k not in first))
    return pd.DataFrame(elements, columns=[*first, *rest])


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
    transport: str | Connector | None = None,
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
        transport: ``"aiohttp"`` or ``"websockets"`` (default: ``$STREAMKIT_TRANSPORT``, else aiohttp), or a
            connector for the status socket (see :mod:`streamkit.connection.transport`).

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
