"""Typed events and the sans-I/O adapter interface every protocol implements.

An adapter never touches a socket: the I/O driver feeds it received frames with :meth:`Adapter.parse`
and sends what :meth:`Adapter.data_to_send` returns, as websockets' own ``Protocol`` class does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias

from ..core import Topic

__all__ = [
    "Adapter",
    "Data",
    "Event",
    "Malformed",
    "SubscribeFailed",
    "SubscribeRequest",
    "Subscribed",
    "Topic",
    "Unknown",
    "UnsubscribeRequest",
    "Unsubscribed",
]

#: Raw frames are kept in events up to this many characters so that a huge bad frame cannot pin memory.
RAW_LIMIT = 64 * 1024


def clip(raw: str | bytes) -> str | bytes:
    """The start of a raw frame, bounded by :data:`RAW_LIMIT`."""
    return raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT]


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The server confirmed a subscription (SMC also gives its numbered ``subscription_id``).

    >>> from streamkit.protocols import SmcProtocol
    >>> p = SmcProtocol()
    >>> p.subscribe(("context", "fw_single")); p.data_to_send()
    ['{"context":"fw_single"}']
    >>> p.parse('{"success": "ok", "subscription_id": 0}')
    Subscribed(topic=('context', 'fw_single'), subscription_id=0)
    """

    topic: Topic
    subscription_id: int | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """The server confirmed that a subscription ended.

    >>> from streamkit.protocols import MistProtocol
    >>> MistProtocol().parse('{"event": "channel_unsubscribed", "channel": "/test"}')
    Unsubscribed(topic='/test')
    """

    topic: Topic


@dataclass(frozen=True, slots=True)
class SubscribeFailed:
    """The server refused a subscription; ``detail`` is its reason, word for word.

    >>> from streamkit.protocols import MistProtocol
    >>> MistProtocol().parse('{"event": "subscribe_failed", "channel": "/sites/x", "detail": "forbidden"}')
    SubscribeFailed(topic='/sites/x', detail='forbidden')
    """

    topic: Topic
    detail: str


class Data(NamedTuple):
    """One decoded payload for a subscription.

    The one event of the receive path's hot loop, so an immutable named tuple rather than a frozen dataclass:
    it is built several times faster.

    >>> from streamkit.protocols import MistProtocol
    >>> MistProtocol().parse('{"event": "data", "channel": "/test", "data": {"mac": "a"}}')
    Data(topic='/test', payload={'mac': 'a'})
    """

    topic: Topic
    payload: Any


@dataclass(frozen=True, slots=True)
class Unknown:
    """A well-formed message the adapter has no meaning for; kept, not dropped.

    >>> from streamkit.protocols import FeedProtocol
    >>> FeedProtocol().parse('{"hello": 1}')          # no "channel" to route it by, and no "*" subscription
    Unknown(message={'hello': 1}, raw='{"hello": 1}')
    """

    message: Any
    raw: str | bytes


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that broke the protocol: ``reason`` says how, ``raw`` keeps (the start of) the frame.

    >>> from streamkit.protocols import MistProtocol
    >>> event = MistProtocol().parse("not json")
    >>> event.raw, event.reason.startswith("frame is not valid JSON")
    ('not json', True)
    """

    raw: str | bytes
    reason: str


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    """Server side: a client asked for a subscription.

    >>> from streamkit.protocols import mist
    >>> mist.parse_request('{"subscribe": "/test"}')
    SubscribeRequest(topic='/test')
    """

    topic: Topic


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    """Server side: a client ended a subscription (SMC names it by ``subscription_id``).

    >>> from streamkit.protocols import mist
    >>> mist.parse_request('{"unsubscribe": "/test"}')
    UnsubscribeRequest(topic='/test')
    """

    topic: Topic


#: What :meth:`Adapter.parse` returns: one typed event per frame.
Event: TypeAlias = Subscribed | Unsubscribed | SubscribeFailed | Data | Unknown | Malformed


class Adapter(ABC):
    """Client side of one protocol: builds outgoing frames and turns incoming frames into events.

    The adapter keeps the record of active subscriptions, so that after a reconnect the driver calls
    :meth:`connection_made` and sends what :meth:`data_to_send` returns to restore every one of them.

    >>> from streamkit.protocols import MistProtocol
    >>> p = MistProtocol()
    >>> p.subscribe("/test"); _ = p.data_to_send()
    >>> p.parse('{"event": "channel_subscribed", "channel": "/test"}')
    Subscribed(topic='/test', subscription_id=None)
    >>> p.connection_made(); p.data_to_send()         # after a reconnect: subscribe again
    ['{"subscribe":"/test"}']
    """

    #: Whether the server confirms subscriptions. Without acks a subscription counts as active once sent.
    acks: bool = True

    def __init__(self) -> None:
        self._active: dict[Topic, None] = {}
        self._outbox: list[str] = []

    @property
    def active(self) -> tuple[Topic, ...]:
        """The topics subscribed to, in the order they were first asked for."""
        return tuple(self._active)

    def subscribe(self, topic: Topic) -> None:
        """Ask for ``topic``; a repeated ask for an active topic sends nothing."""
        if topic in self._active:
            return
        self._active[topic] = None
        self._outbox.extend(self._subscribe_frames(topic))

    def unsubscribe(self, topic: Topic) -> None:
        """End the subscription to ``topic``; unknown topics are ignored."""
        if self._active.pop(topic, 0) is None:
            self._outbox.extend(self._unsubscribe_frames(topic))

    def resubscribe(self, topic: Topic) -> None:
        """Ask for an active ``topic`` again (the server did not acknowledge it); others are ignored."""
        if topic in self._active:
            self._outbox.extend(self._subscribe_frames(topic))

    def fresh(self) -> Adapter:
        """A new adapter speaking the same protocol with the same options, with no subscriptions (for another
        connection of the same client)."""
        return type(self)()

    def connection_made(self) -> None:
        """A new connection is open: forget per-connection state and queue every active subscription again."""
        self._outbox.clear()
        self._reset()
        for topic in self._active:
            self._outbox.extend(self._subscribe_frames(topic))

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._outbox)

    def data_to_send(self) -> list[str]:
        """Frames the driver must send now, in order; calling it empties the queue."""
        out, self._outbox = self._outbox, []
        return out

    def _drop(self, topic: Topic) -> None:
        """Forget a topic the server refused, so that it is not asked for again after a reconnect."""
        self._active.pop(topic, None)

    def _reset(self) -> None:  # noqa: B027 - optional hook, most adapters keep no per-connection state
        """Forget per-connection state (such as SMC's numbered subscription ids)."""

    @abstractmethod
    def _subscribe_frames(self, topic: Topic) -> list[str]: ...

    @abstractmethod
    def _unsubscribe_frames(self, topic: Topic) -> list[str]: ...

    @abstractmethod
    def parse(self, frame: str | bytes) -> Event:
        """Turn one received frame into one event; never raises on bad input (see :class:`Malformed`)."""

    def parse_for(self, frame: str | bytes, topic: Topic) -> Event:
        """Parse a frame that a recording says was delivered to ``topic``: its data goes to that topic.

        Replay routes by the recording because some routing (SMC's numbered subscriptions) belongs to the
        connection the frames were recorded on.
        """
        event = self.parse(frame)
        if type(event) is Data and event.topic != topic:
            return Data(topic, event.payload)
        return event
