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
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from ..core import Message, Stream
from ..protocols import MistProtocol
from ..protocols import mist as mist_protocol
from ._factory import SSLOption, env, recording
from .client import SUBSCRIBE_TIMEOUT, Client
from .policy import Reconnect
from .transport import Connector, TransportOptions, connector

__all__ = ["MistClient", "mist"]


class MistClient(Client):
    """A Juniper Mist stream connection; create it with :func:`mist`."""

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
    transport: str | Connector = "websockets",
    record: str | Path | None = None,
    channels_per_connection: int = 1000,
    subscribe_timeout: float | None = SUBSCRIBE_TIMEOUT,
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
        channels_per_connection: channels one WebSocket carries (Mist allows at most 2,000); more channels open
            more WebSockets, all behind this one client.
        subscribe_timeout: seconds Mist has to acknowledge a subscription before it is asked for again (once),
            then its stream fails with ``SubscriptionError``; None waits for ever.

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
    )
    return recording(record, client)
