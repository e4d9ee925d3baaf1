"""Sans-I/O protocol adapters: frames in, typed events out, no network imports."""

from .base import (
    Adapter,
    Data,
    Event,
    Malformed,
    Subscribed,
    SubscribeFailed,
    SubscribeRequest,
    Topic,
    Unknown,
    Unsubscribed,
    UnsubscribeRequest,
)
from .jsonws import JsonWsProtocol
from .mist import MistProtocol
from .smc import SmcProtocol

__all__ = [
    "Adapter",
    "Data",
    "Event",
    "JsonWsProtocol",
    "Malformed",
    "MistProtocol",
    "SmcProtocol",
    "SubscribeFailed",
    "SubscribeRequest",
    "Subscribed",
    "Topic",
    "Unknown",
    "UnsubscribeRequest",
    "Unsubscribed",
]
