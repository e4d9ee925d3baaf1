"""The only place that opens network connections: transports, auth flows, the retry policy and the clients."""

from .client import Client, Record, Stats
from .events import Closed, Connected, Connecting, Disconnected, Gap, Problem, Reconnecting
from .policy import Decision, Reconnect, backoff, classify
from .sources import JsonClient, MistClient, SmcClient, mist, smc, websocket
from .transport import Transport, TransportClosed, WebSocketTransport

__all__ = [
    "Client",
    "Closed",
    "Connected",
    "Connecting",
    "Decision",
    "Disconnected",
    "Gap",
    "JsonClient",
    "MistClient",
    "Problem",
    "Reconnect",
    "Reconnecting",
    "Record",
    "SmcClient",
    "Stats",
    "Transport",
    "TransportClosed",
    "WebSocketTransport",
    "backoff",
    "classify",
    "mist",
    "smc",
    "websocket",
]
