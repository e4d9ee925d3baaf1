"""Sans-I/O protocol adapters: frames in, typed events out, no network imports.

>>> from streamkit.protocols import MistProtocol
>>> p = MistProtocol()
>>> p.subscribe("/sites/s1/stats/devices"); p.data_to_send()          # the frames to send
['{"subscribe":"/sites/s1/stats/devices"}']
>>> p.parse('{"event": "channel_subscribed", "channel": "/sites/s1/stats/devices"}')   # a frame received
Subscribed(topic='/sites/s1/stats/devices', subscription_id=None)
"""

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
