"""A client for any JSON WebSocket feed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from ..core import Message, Stream, Topic
from ..protocols import FeedProtocol
from ..protocols.feed import ALL, MessageBuilder, Selector
from ._factory import SSLOption, recording
from .client import Client
from .policy import Reconnect
from .transport import Connector, TransportOptions, connector

__all__ = ["FeedClient", "feed"]


class FeedClient(Client):
    """Any JSON WebSocket feed; create it with :func:`feed`.

    Here against an in-memory server that answers every subscription with one message (``{"subscribe": topic}``
    and routing by the ``channel`` field are :func:`feed`'s defaults):

    >>> import streamkit as sk
    >>> from streamkit.connection import MemoryServer
    >>> server = MemoryServer(respond=lambda connection, frame: connection.push('{"channel": "ticks", "n": 1}'))
    >>> with sk.feed("wss://feed.example/ws", transport=server.connect) as ticks:
    ...     sk.collect(ticks.subscribe("ticks"), count=1, timeout=10)
    [Message({'channel': 'ticks', 'n': 1}, origin='ticks')]
    >>> server.connections[0].sent
    ['{"subscribe":"ticks"}', '{"unsubscribe":"ticks"}']
    """

    def subscribe(self, topic: Topic = ALL) -> Stream[Message]:
        """The hot, shared Observable of one topic (``"*"``: everything no other subscription claims)."""
        return self._stream(topic)


def feed(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    subscribe: MessageBuilder | None = lambda topic: {"subscribe": topic},
    unsubscribe: MessageBuilder | None = lambda topic: {"unsubscribe": topic},
    route: Selector = "channel",
    payload: Selector | None = None,
    ack: Callable[[Any], Topic | None] | None = None,
    ssl: SSLOption = None,
    reconnect: Reconnect | None = None,
    ping_interval: float | None = 30.0,
    ping_timeout: float | None = 20.0,
    max_size: int | None = 16 * 2**20,
    max_queue: int = 64,
    proxy: str | Literal[True] | None = True,
    transport: str | Connector | None = None,
    record: str | Path | None = None,
) -> FeedClient:
    """A client for any JSON WebSocket feed (see :class:`~streamkit.protocols.feed.FeedProtocol` for
    ``subscribe``, ``unsubscribe``, ``route``, ``payload`` and ``ack``).

    A feed without topics that pushes everything unasked is ``sk.feed(url, subscribe=None).subscribe()``. One that
    wants ``{"op": "sub", "topic": ...}`` and sends ``{"topic": ..., "data": {...}}``, played here by an in-memory
    server (against a real one, drop ``transport=``):

    >>> import json, streamkit as sk
    >>> from streamkit.connection import MemoryServer
    >>> def respond(connection, frame):             # the server answers a subscription with one price
    ...     request = json.loads(frame)
    ...     if request["op"] == "sub":
    ...         connection.push(json.dumps({"topic": request["topic"], "data": {"px": 1.5}}))
    >>> server = MemoryServer(respond=respond)
    >>> prices = sk.feed(
    ...     "wss://feed.example/ws",
    ...     subscribe=lambda t: {"op": "sub", "topic": t},
    ...     unsubscribe=lambda t: {"op": "unsub", "topic": t},
    ...     route="topic",
    ...     payload="data",
    ...     transport=server.connect,
    ... )
    >>> sk.collect(prices.subscribe("prices"), count=1, timeout=10)
    [Message({'px': 1.5}, origin='prices')]
    >>> server.connections[0].sent[0]
    '{"op":"sub","topic":"prices"}'
    >>> prices.close()
    """
    adapter = FeedProtocol(subscribe=subscribe, unsubscribe=unsubscribe, route=route, payload=payload, ack=ack)
    options = TransportOptions(
        ssl=ssl,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_size=max_size,
        max_queue=max_queue,
        proxy=proxy,
        auth_hint="check the headers= you passed",
    )
    client = FeedClient(
        adapter,
        url=url,
        connector=connector(transport),
        headers=headers or {},
        options=options,
        reconnect=reconnect,
        name="Feed",
    )
    return recording(record, client)
