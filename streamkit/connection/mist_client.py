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

import asyncio
import base64
import difflib
import re
import ssl as ssl_module
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .. import runtime
from ..core import Message, Stream
from ..protocols import MistProtocol
from ..protocols import mist as mist_protocol
from ..protocols.base import Adapter
from ._factory import SSLOption, env, recording
from .client import SUBSCRIBE_TIMEOUT, Client
from .policy import Reconnect
from .rest import RestClient
from .transport import Connector, TransportOptions, connector

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MistClient", "mist"]

T = TypeVar("T")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
DEVICE_TYPES = ("all", "ap", "switch", "gateway")


class MistClient(Client):
    """A Juniper Mist stream connection, and discovery over Mist's REST API; create it with :func:`mist`.

    Discovery (:meth:`orgs`, :meth:`sites`, :meth:`devices`, :meth:`maps`) answers with pandas DataFrames, using
    the same credentials as the stream at the REST host of the stream's cloud (``api-ws.`` becomes ``api.``; a
    simulator serves both on one port).

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, sites=2, aps=1, interval=0.05) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
    ...     names = mist.sites()["name"].tolist()
    ...     rows = sk.collect(mist.subscribe(sim.channel("device_stats", site=1)), count=2, timeout=10)
    >>> names, rows[0].origin == sim.channel("device_stats", site=1)
    (['site-01', 'site-02'], True)
    """

    def __init__(
        self,
        adapter: Adapter,
        *,
        rest_url: str | None = None,
        rest_verify: ssl_module.SSLContext | bool = True,
        rest_timeout: float = 30.0,
        rest_hint: str = "check the credentials",
        **options: Any,
    ) -> None:
        super().__init__(adapter, **options)
        #: Where discovery asks (the REST base of the stream's cloud).
        self.rest_url = rest_url or mist_protocol.rest_url(self.url)
        self._rest_verify = rest_verify
        self._rest_timeout = rest_timeout
        self._rest_hint = rest_hint
        self._rest: RestClient | None = None
        self._rest_lock = threading.Lock()

    def _spec_options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        open_options, secret = super()._spec_options()
        rest = {"rest_url": self.rest_url, "rest_verify": self._rest_verify, "rest_timeout": self._rest_timeout}
        return {**open_options, **rest, "rest_hint": self._rest_hint}, secret

    # -- discovery -----------------------------------------------------------------------------------------

    def _call(self, work: Callable[[RestClient], T]) -> T:
        """Run ``work`` with the REST client and wait for it. In a thread that runs an event loop (a notebook
        cell, whose kernel loop may also run a simulator or this client's streams), the HTTP call runs on a
        worker thread while the loop keeps turning."""

        def run() -> T:
            with self._rest_lock:
                if self._rest is None:
                    self._rest = RestClient(
                        self.rest_url,
                        headers=self._headers,
                        verify=self._rest_verify,
                        timeout=self._rest_timeout,
                        auth_hint=self._rest_hint,
                    )
                return work(self._rest)

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run()
        return runtime.run(asyncio.to_thread(run))

    def _privileges(self) -> list[dict[str, Any]]:
        me = self._call(lambda rest: rest.get("/api/v1/self"))
        return [p for p in me.get("privileges", []) if isinstance(p, dict)] if isinstance(me, dict) else []

    def orgs(self) -> pd.DataFrame:
        """The organisations these credentials see (from ``/api/v1/self``): id, name, role.

        >>> import streamkit as sk
        >>> from streamkit.sim import MistSimulator
        >>> with MistSimulator(seed=1) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
        ...     orgs = mist.orgs()
        >>> list(orgs.columns[:3]), orgs["id"].tolist() == [sim.org_id]
        (['id', 'name', 'role'], True)
        """
        rows = [{"id": p.get("org_id"), **p} for p in self._privileges() if p.get("scope") == "org"]
        for row in rows:
            row.pop("org_id", None)
        return _frame(rows, ["id", "name", "role"])

    def _org(self, org: str | None) -> str:
        """The org id: ``org`` as given (an id, or a name these credentials see), else the only one they see."""
        if org is not None and _UUID.match(org):
            return org
        orgs = [(str(p.get("org_id")), str(p.get("name", ""))) for p in self._privileges() if p.get("scope") == "org"]
        listed = ", ".join(f"{name} ({oid})" for oid, name in orgs) or "none"
        if org is None:
            if len(orgs) == 1:
                return orgs[0][0]
            raise ValueError(
                f"these credentials see {len(orgs)} organisations: pass org= (an id or a name); they see: {listed}"
            )
        named = [oid for oid, name in orgs if name == org] or [oid for oid, name in orgs if name.lower() == org.lower()]
        if len(named) == 1:
            return named[0]
        raise ValueError(f"no single organisation named {org!r}; these credentials see: {listed}")

    def sites(self, org: str | None = None) -> pd.DataFrame:
        """The sites of ``org`` (default: the credentials' only organisation): id, name, timezone, address ...

        >>> import streamkit as sk
        >>> from streamkit.sim import MistSimulator
        >>> with MistSimulator(seed=1, sites=3) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
        ...     sites = mist.sites()
        >>> sites[["name", "country_code"]].values.tolist()
        [['site-01', 'US'], ['site-02', 'NL'], ['site-03', 'IN']]
        """
        org_id = self._org(org)
        rows = self._call(lambda rest: rest.get_all(f"/api/v1/orgs/{org_id}/sites"))
        return _frame(rows, ["id", "name", "timezone", "country_code", "address"])

    def _site(self, site: str) -> str:
        """A site id for ``site``: an id as is, or the id of the org's site of that name."""
        if not isinstance(site, str) or not site:
            raise ValueError(f"a site is a site id or a site name, not {site!r}")
        if _UUID.match(site):
            return site
        return self._site_ids([site])[0]

    def _site_ids(self, names: list[str], org: str | None = None) -> list[str]:
        """Ids for site ids and names; names are looked up once among the org's sites."""
        if all(_UUID.match(n) for n in names):
            return names
        org_id = self._org(org)
        known = self._call(lambda rest: rest.get_all(f"/api/v1/orgs/{org_id}/sites"))
        by_name: dict[str, list[str]] = {}
        for row in known:
            by_name.setdefault(str(row.get("name")), []).append(str(row.get("id")))
        ids = []
        for name in names:
            if _UUID.match(name):
                ids.append(name)
                continue
            found = by_name.get(name) or [i for n, i_s in by_name.items() if n.lower() == name.lower() for i in i_s]
            if len(found) == 1:
                ids.append(found[0])
            elif found:
                raise ValueError(f"{len(found)} sites are named {name!r} ({', '.join(found)}): pass the site id")
            else:
                close = difflib.get_close_matches(name, list(by_name), n=5) or sorted(by_name)[:10]
                raise ValueError(f"no site named {name!r} in organisation {org_id}; close: {', '.join(close)}")
        return ids

    def devices(self, site: str, type: str = "all") -> pd.DataFrame:
        """The devices of a site (its id or its name): id, name, type, model, mac, serial, map_id ...

        ``type`` is ``all`` (default), ``ap``, ``switch`` or ``gateway``.

        >>> import streamkit as sk
        >>> from streamkit.sim import MistSimulator
        >>> with MistSimulator(seed=1, aps=2) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
        ...     devices = mist.devices("site-01")
        >>> devices[["name", "type"]].values.tolist()
        [['site-01-ap01', 'ap'], ['site-01-ap02', 'ap'], ['site-01-sw1', 'switch'], ['site-01-gw1', 'gateway']]
        """
        if type not in DEVICE_TYPES:
            raise ValueError(f"type is one of {', '.join(DEVICE_TYPES)}, not {type!r}")
        site_id = self._site(site)
        rows = self._call(lambda rest: rest.get_all(f"/api/v1/sites/{site_id}/devices", params={"type": type}))
        return _frame(rows, ["id", "name", "type", "model", "mac", "serial", "site_id", "map_id"])

    def maps(self, site: str) -> pd.DataFrame:
        """The floor maps of a site (its id or its name): id, name, site_id, width, height, ppm ...

        >>> import streamkit as sk
        >>> from streamkit.sim import MistSimulator
        >>> with MistSimulator(seed=1, maps=2) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
        ...     maps = mist.maps(sim.site_ids[1])
        >>> maps["name"].tolist(), maps["id"].tolist() == sim.map_ids[sim.site_ids[1]]
        (['site-02 floor 1', 'site-02 floor 2'], True)
        """
        site_id = self._site(site)
        rows = self._call(lambda rest: rest.get_all(f"/api/v1/sites/{site_id}/maps"))
        return _frame(rows, ["id", "name", "site_id", "type", "width", "height", "ppm"])

    def site_channels(
        self,
        kind: str = "stats/devices",
        sites: str | Iterable[str] | pd.DataFrame | None = None,
        *,
        org: str | None = None,
    ) -> list[str]:
        """The channels ``/sites/{id}/{kind}`` of the chosen sites (see :meth:`subscribe_sites`)."""
        kind = kind.strip("/")
        if not kind or kind.startswith("sites/"):
            raise ValueError(f"kind is what follows /sites/<id>/ in a channel, e.g. 'stats/devices', not {kind!r}")
        if sites is None:
            ids = [str(i) for i in self.sites(org)["id"]]
        else:
            table: Any = sites
            if hasattr(table, "columns"):  # a DataFrame such as mist.sites(), or a selection of its rows
                if "id" not in table.columns:
                    raise ValueError("a table of sites needs an 'id' column, as mist.sites() has")
                chosen = [str(i) for i in table["id"]]
            elif isinstance(sites, str):
                chosen = [sites]
            else:
                chosen = [str(s) for s in sites]
            ids = self._site_ids(chosen, org) if chosen else []
        if not ids:
            raise ValueError("no sites to subscribe to: the selection is empty")
        if "{map}" in kind:
            return [
                f"/sites/{site_id}/{kind.format(map=map_id)}"
                for site_id in dict.fromkeys(ids)
                for map_id in self.maps(site_id)["id"]
            ]
        return [f"/sites/{site_id}/{kind}" for site_id in dict.fromkeys(ids)]

    def subscribe_sites(
        self, kind: str = "stats/devices", sites: Any = None, *, org: str | None = None
    ) -> Stream[Message]:
        """One channel kind across many sites as one hot, shared Observable (the merge of each site's Stream).

        Args:
            kind: what follows ``/sites/{site_id}/`` in the channel: ``stats/devices``, ``stats/clients``,
                ``devices``, ``stats/mxedges``, ``mxedges``, ``pcaps``; for every map of each site,
                ``stats/maps/{map}/clients`` (or ``assets``, ``sdkclients``, ``unconnected_clients``,
                ``discovered_assets``).
            sites: ``None`` for every site of the organisation (found over REST); or a site id or name, a list
                of them, or a table from :meth:`sites` (its ``id`` column), e.g. ``mist.sites().head(3)``.
            org: the organisation when the credentials see several (an id or a name).

        Each record's ``.origin`` is its channel, so the site stays known (``record.origin.split("/")[2]``).

        >>> import streamkit as sk
        >>> from streamkit.sim import MistSimulator
        >>> sim = MistSimulator(seed=1, interval=0.05, sites=3, aps=1).start()
        >>> with sk.mist(url=sim.url, token=sim.token) as mist:
        ...     rows = sk.collect(mist.subscribe_sites("stats/devices"), count=30, timeout=10)
        >>> sim.stop()
        >>> sorted({row.origin.split("/")[2] for row in rows}) == sorted(sim.site_ids)
        True
        """
        import reactivex

        streams = [self.subscribe(channel) for channel in self.site_channels(kind, sites, org=org)]
        if len(streams) == 1:
            return streams[0]
        return Stream.of(reactivex.merge(*streams), observer_failed=None)

    async def _on_close(self) -> None:
        await super()._on_close()
        with self._rest_lock:
            if self._rest is not None:
                self._rest.close()
                self._rest = None

    def subscribe(self, channel: str) -> Stream[Message]:
        """The hot, shared Observable of one channel, e.g. ``/sites/{site_id}/stats/devices``.

        Records are the decoded ``data`` payloads; ``record.origin`` is the channel.
        """
        if not isinstance(channel, str) or not channel.startswith("/"):
            raise ValueError(f"a Mist channel is a path such as '/sites/<site_id>/stats/devices', not {channel!r}")
        return self._stream(channel)


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
    transport: str | Connector | None = None,
    record: str | Path | None = None,
    channels_per_connection: int = 1000,
    subscribe_timeout: float | None = SUBSCRIBE_TIMEOUT,
    rest_url: str | None = None,
    timeout: float = 30.0,
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
        transport: ``"aiohttp"`` or ``"websockets"`` (default: ``$STREAMKIT_TRANSPORT``, else aiohttp), or a
            connector (see :mod:`streamkit.connection.transport`).
        record: also record every frame to this ``.jsonl.gz`` file (see ``sk.record``), until close().
        channels_per_connection: channels one WebSocket carries (Mist allows at most 2,000); more channels open
            more WebSockets, all behind this one client.
        subscribe_timeout: seconds Mist has to acknowledge a subscription before it is asked for again (once),
            then its stream fails with ``SubscriptionError``; None waits for ever.
        rest_url: where discovery (``mist.sites()`` ...) asks; default: the REST host of the stream's cloud
            (``api-ws.`` becomes ``api.``), or the same host and port for any other URL (the simulator).
        timeout: seconds per discovery request.

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
    if not 1 <= channels_per_connection <= mist_protocol.MAX_CHANNELS:
        raise ValueError(
            f"channels_per_connection is 1 to {mist_protocol.MAX_CHANNELS:,} (Mist's limit per WebSocket), "
            f"not {channels_per_connection}"
        )
    if sum(x is not None for x in (region, host, url)) > 1:
        raise ValueError("give at most one of region=, host= or url=")
    if url is None:
        if region is None and host is None:
            host, region = env("MIST_HOST"), env("MIST_REGION")
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
        token = token or env("MIST_API_TOKEN")
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
        channels_per_connection=channels_per_connection,
        subscribe_timeout=subscribe_timeout,
        rest_url=rest_url,
        rest_verify=ssl if ssl is not None else True,
        rest_timeout=timeout,
        rest_hint=f"check {what} and that it belongs to the cloud region of {url}",
    )
    return recording(record, client)


def _frame(rows: list[dict[str, Any]], first: list[str]) -> pd.DataFrame:
    """A table of ``rows`` with the useful columns ``first`` (those present), then the rest as they come."""
    import pandas as pd  # only when a table is asked for: import streamkit stays light

    present = [c for c in first if any(c in row for row in rows)] if rows else list(first)
    rest = list(dict.fromkeys(k for row in rows for k in row if k not in present))
    return pd.DataFrame(rows, columns=[*present, *rest])
