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
from .feed import FeedProtocol
from .mist import MistProtocol
from .smc import SmcProtocol

__all__ = [
    "Adapter",
    "Data",
    "Event",
    "FeedProtocol",
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
