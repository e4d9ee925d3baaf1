"""The only place that opens network connections: transports, auth flows, the retry policy and the clients."""

from .client import Client, Stats, Tap
from .events import Closed, Connected, Connecting, Disconnected, Gap, Reconnecting
from .feed_client import FeedClient, feed
from .memory import MemoryConnection, MemoryServer
from .mist_client import MistClient, mist
from .policy import Decision, Reconnect, backoff, classify
from .smc_client import SmcClient, smc
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
