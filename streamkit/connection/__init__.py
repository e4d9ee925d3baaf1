"""The only place that opens network connections: transports, auth flows, the retry policy and the clients.

A client reports what its connection does on ``client.events``:

>>> import streamkit as sk
>>> from streamkit.sim import MistSimulator
>>> with MistSimulator(seed=1, sites=1, aps=1, interval=0.05) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
...     events = []
...     _ = mist.events.subscribe(events.append)
...     rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=1, timeout=10)
>>> [type(event).__name__ for event in events][:3]
['Connecting', 'Connected', 'Subscribed']
"""

from .client import Client, Stats, Tap
from .events import Closed, Connected, Connecting, Disconnected, Gap, Reconnecting
from .feed_client import FeedClient, feed
from .memory import MemoryConnection, MemoryServer
from .mist_client import MistClient, mist
from .policy import Decision, Reconnect, backoff, classify
from .smc_client import SmcClient, smc
from .spec import ClientSpec, Secret
from .transport import (
    CONNECTORS,
    Connector,
    Incoming,
    Transport,
    TransportClosed,
    TransportEnded,
    TransportOptions,
    WebSocketTransport,
)

__all__ = [
    "CONNECTORS",
    "Client",
    "ClientSpec",
    "Closed",
    "Connected",
    "Connecting",
    "Connector",
    "Decision",
    "Disconnected",
    "FeedClient",
    "Gap",
    "Incoming",
    "MemoryConnection",
    "MemoryServer",
    "MistClient",
    "Reconnect",
    "Reconnecting",
    "Secret",
    "SmcClient",
    "Stats",
    "Tap",
    "Transport",
    "TransportClosed",
    "TransportEnded",
    "TransportOptions",
    "WebSocketTransport",
    "backoff",
    "classify",
    "feed",
    "mist",
    "smc",
]
