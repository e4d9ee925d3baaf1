"""Juniper Mist WebSocket stream: endpoints, frames and events (sans-I/O).

Client side: :class:`MistProtocol`. Server side (used by :mod:`streamkit.sim`): the ``*_frame`` builders and
:func:`parse_request`. Facts and their sources are in the project's protocol notes (mist.md).

>>> p = MistProtocol()
>>> p.subscribe("/test"); p.data_to_send()
['{"subscribe":"/test"}']
>>> p.parse('{"event": "data", "channel": "/test", "data": "1"}')
Data(topic='/test', payload=1)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .._json import JSONDecodeError, dumps, loads
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
    clip,
)

__all__ = [
    "GOVCLOUD_HOST",
    "MAX_CHANNELS",
    "REGIONS",
    "STREAM_PATH",
    "MistProtocol",
    "data_frame",
    "parse_request",
    "rest_url",
    "stream_url",
    "subscribe_failed_frame",
    "subscribed_frame",
    "unsubscribed_frame",
    "ws_host",
]

STREAM_PATH = "/api-ws/v1/stream"
#: Channels one WebSocket may carry (Juniper's rate-limit guide; its own client warns at 1,500).
MAX_CHANNELS = 2000

#: Region name -> REST host, as Juniper documents them.
REGIONS: dict[str, str] = {
    "global01": "api.mist.com",
    "global02": "api.gc1.mist.com",
    "global03": "api.ac2.mist.com",
    "global04": "api.gc2.mist.com",
    "global05": "api.gc4.mist.com",
    "emea01": "api.eu.mist.com",
    "emea02": "api.gc3.mist.com",
    "emea03": "api.ac6.mist.com",
    "emea04": "api.gc6.mist.com",
    "apac01": "api.ac5.mist.com",
    "apac02": "api.gc5.mist.com",
    "apac03": "api.gc7.mist.com",
}
GOVCLOUD_HOST = "api.us.mist-federal.com"


def ws_host(rest_host: str) -> str:
    """The stream host for a REST host: the leading ``api.`` becomes ``api-ws.``.

    >>> ws_host("api.eu.mist.com")
    'api-ws.eu.mist.com'
    """
    host = rest_host.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    host = host.rstrip("/")
    if host.startswith("api-ws."):
        return host
    if not host.startswith("api."):
        raise ValueError(f"{rest_host!r} is not a Mist REST host: expected a name like 'api.mist.com'")
    return "api-ws." + host.removeprefix("api.")


def stream_url(*, region: str | None = None, host: str | None = None) -> str:
    """The ``wss://`` stream URL for a region name (``emea01``) or a REST host (``api.eu.mist.com``).

    >>> stream_url(region="emea01")
    'wss://api-ws.eu.mist.com/api-ws/v1/stream'
    """
    if (region is None) == (host is None):
        raise ValueError("give exactly one of region= (e.g. 'global01') or host= (e.g. 'api.mist.com')")
    if region is not None:
        key = region.strip().lower()
        if key not in REGIONS:
            known = ", ".join(REGIONS)
            raise ValueError(f"unknown Mist region {region!r}; known regions: {known}")
        host = REGIONS[key]
    assert host is not None
    return f"wss://{ws_host(host)}{STREAM_PATH}"


def rest_url(stream: str) -> str:
    """The REST base for a stream URL: the cloud's ``api-ws.`` host becomes ``api.`` (https); any other host (the
    simulator, a proxy of your own) serves REST on the same host and port.

    >>> rest_url("wss://api-ws.eu.mist.com/api-ws/v1/stream")
    'https://api.eu.mist.com'
    >>> rest_url("ws://127.0.0.1:8765/api-ws/v1/stream")
    'http://127.0.0.1:8765'
    """
    parts = urlsplit(stream)
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
        raise ValueError(f"{stream!r} is not a stream URL such as 'wss://api-ws.mist.com{STREAM_PATH}'")
    scheme = "https" if parts.scheme in ("wss", "https") else "http"
    host = parts.hostname.lower()
    if host.startswith("api-ws."):
        host = "api." + host.removeprefix("api-ws.")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{scheme}://{netloc}"


class MistProtocol(Adapter):
    """Client side of the Mist stream: ``{"subscribe": channel}`` out, channel events in.

    >>> p = MistProtocol()
    >>> p.subscribe("/sites/s1/stats/devices"); p.data_to_send()
    ['{"subscribe":"/sites/s1/stats/devices"}']
    >>> p.parse('{"event": "data", "channel": "/sites/s1/stats/devices", "data": {"cpu_util": 7}}')
    Data(topic='/sites/s1/stats/devices', payload={'cpu_util': 7})
    """

    def _subscribe_frames(self, topic: Topic) -> list[str]:
        return [dumps({"subscribe": topic})]

    def _unsubscribe_frames(self, topic: Topic) -> list[str]:
        return [dumps({"unsubscribe": topic})]

    def parse(self, frame: str | bytes) -> Event:
        try:
            msg = loads(frame)
        except JSONDecodeError as exc:
            return Malformed(clip(frame), f"frame is not valid JSON ({exc})")
        if not isinstance(msg, dict):
            return Malformed(clip(frame), f"expected a JSON object, got {type(msg).__name__}")
        event = msg.get("event")
        channel = msg.get("channel")
        if event is None:
            return Unknown(msg, clip(frame))
        if not isinstance(channel, str):
            return Malformed(clip(frame), f"{event!r} event without a channel")
        if event == "data":
            data = msg.get("data")
            if isinstance(data, str):
                try:
                    data = loads(data)
                except JSONDecodeError as exc:
                    return Malformed(clip(frame), f"data of {channel} is not valid JSON ({exc})")
            return Data(channel, data)
        if event == "channel_subscribed":
            return Subscribed(channel)
        if event == "channel_unsubscribed":
            return Unsubscribed(channel)
        if event == "subscribe_failed":
            self._drop(channel)
            return SubscribeFailed(channel, str(msg.get("detail") or msg.get("reason") or "no reason given"))
        return Unknown(msg, clip(frame))


# -- server side -------------------------------------------------------------------------------------------


def subscribed_frame(channel: str) -> str:
    return dumps({"event": "channel_subscribed", "channel": channel})


def unsubscribed_frame(channel: str) -> str:
    return dumps({"event": "channel_unsubscribed", "channel": channel})


def subscribe_failed_frame(channel: str, detail: str) -> str:
    return dumps({"event": "subscribe_failed", "channel": channel, "detail": detail})


def data_frame(channel: str, payload: Any) -> str:
    """A data event whose ``data`` is the payload encoded as a JSON string, as Mist sends it."""
    return dumps({"event": "data", "channel": channel, "data": dumps(payload)})


def parse_request(frame: str | bytes) -> SubscribeRequest | UnsubscribeRequest | Malformed:
    """What a client asked for in one frame."""
    try:
        msg = loads(frame)
    except JSONDecodeError as exc:
        return Malformed(clip(frame), f"frame is not valid JSON ({exc})")
    if isinstance(msg, dict):
        if isinstance(msg.get("subscribe"), str):
            return SubscribeRequest(msg["subscribe"])
        if isinstance(msg.get("unsubscribe"), str):
            return UnsubscribeRequest(msg["unsubscribe"])
    return Malformed(clip(frame), 'expected {"subscribe": "<channel>"} or {"unsubscribe": "<channel>"}')
