"""Any JSON WebSocket feed (sans-I/O): configurable subscribe messages and routing.

Defaults fit the common shape ``{"subscribe": topic}`` out and ``{"channel": topic, ...}`` in; every part
can be replaced by a key name or a function.

>>> p = FeedProtocol(subscribe=lambda t: {"op": "sub", "topic": t}, route="topic", payload="data")
>>> p.subscribe("prices"); p.data_to_send()
['{"op":"sub","topic":"prices"}']
>>> p.parse('{"topic": "prices", "data": {"px": 1.5}}')
Data(topic='prices', payload={'px': 1.5})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._json import JSONDecodeError, dumps, loads
from .base import Adapter, Data, Event, Malformed, Subscribed, Topic, Unknown, clip

__all__ = ["ALL", "FeedProtocol"]

#: The topic that receives every message no other active topic claims (feeds without subscriptions).
ALL = "*"

MessageBuilder = Callable[[Topic], Any]
Selector = str | Callable[[Any], Any]


def _select(selector: Selector, msg: Any) -> Any:
    if callable(selector):
        return selector(msg)
    return msg.get(selector) if isinstance(msg, dict) else None


class FeedProtocol(Adapter):
    """A generic JSON feed.

    Args:
        subscribe: builds the message that subscribes to a topic (``None``: the feed needs none, and
            subscribing only selects what is delivered). Default ``{"subscribe": topic}``.
        unsubscribe: builds the message that ends one (``None``: nothing is sent). Default ``{"unsubscribe": topic}``.
        route: key name or function giving the topic of an incoming message. Messages without one go to
            :data:`ALL` when that is subscribed to, else they are reported as unknown.
        payload: key name or function giving what is delivered; default the whole message.
        ack: function recognising a subscription confirmation: returns its topic, or ``None``. Without it,
            a subscription counts as active as soon as it is sent.

    >>> p = FeedProtocol(subscribe=lambda topic: {"op": "sub", "topic": topic}, route="topic", payload="data")
    >>> p.subscribe("prices"); p.data_to_send()
    ['{"op":"sub","topic":"prices"}']
    >>> p.parse('{"topic": "prices", "data": {"px": 1.5}}')
    Data(topic='prices', payload={'px': 1.5})
    """

    def __init__(
        self,
        *,
        subscribe: MessageBuilder | None = lambda topic: {"subscribe": topic},
        unsubscribe: MessageBuilder | None = lambda topic: {"unsubscribe": topic},
        route: Selector = "channel",
        payload: Selector | None = None,
        ack: Callable[[Any], Topic | None] | None = None,
    ) -> None:
        super().__init__()
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self._route = route
        self._payload = payload
        self._ack = ack
        self.acks = ack is not None

    def fresh(self) -> FeedProtocol:
        return FeedProtocol(
            subscribe=self._subscribe,
            unsubscribe=self._unsubscribe,
            route=self._route,
            payload=self._payload,
            ack=self._ack,
        )

    def _subscribe_frames(self, topic: Topic) -> list[str]:
        if self._subscribe is None or topic == ALL:
            return []
        return [dumps(self._subscribe(topic))]

    def _unsubscribe_frames(self, topic: Topic) -> list[str]:
        if self._unsubscribe is None or topic == ALL:
            return []
        return [dumps(self._unsubscribe(topic))]

    def parse(self, frame: str | bytes) -> Event:
        try:
            msg = loads(frame)
        except JSONDecodeError as exc:
            return Malformed(clip(frame), f"frame is not valid JSON ({exc})")
        try:
            if self._ack is not None:
                acked = self._ack(msg)
                if acked is not None:
                    return Subscribed(acked)
            topic = _select(self._route, msg)
            if topic not in self._active:
                if ALL not in self._active:
                    return Unknown(msg, clip(frame))
                topic = ALL
            body = msg if self._payload is None else _select(self._payload, msg)
        except Exception as exc:  # a user's selector failing on odd input must not end the stream
            return Malformed(clip(frame), f"route/payload selector raised {type(exc).__name__}: {exc}")
        return Data(topic, body)
