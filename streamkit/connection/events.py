"""Connection lifecycle events (``client.events``); ``connection`` numbers a client's WebSockets from 0.

A connection the server drops is reconnected and its subscriptions restored; the events tell the story:

>>> import streamkit as sk
>>> from streamkit.sim import MistSimulator
>>> with MistSimulator(seed=1, sites=1, aps=1, interval=0.05) as sim:
...     with sk.mist(url=sim.url, token=sim.token, reconnect=sk.Reconnect(initial=0.01)) as mist:
...         events = []
...         _ = mist.events.subscribe(events.append)
...         devices = mist.subscribe(sim.channel("device_stats"))
...         held = devices.subscribe(lambda message: None)
...         _ = sk.collect(devices, count=2, timeout=10)
...         sim.drop_connections()                       # as a network failure would
...         _ = sk.collect(devices, count=4, timeout=10)
...         held.dispose()
>>> [type(event).__name__ for event in events]  # doctest: +NORMALIZE_WHITESPACE
['Connecting', 'Connected', 'Subscribed', 'Disconnected', 'Reconnecting', 'Connecting', 'Connected', 'Gap',
 'Subscribed', 'Closed']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Closed", "Connected", "Connecting", "Disconnected", "Gap", "Reconnecting"]


@dataclass(frozen=True, slots=True)
class Connecting:
    """A connection attempt starts; ``attempt`` numbers the tries since the last success, from 1.

    >>> Connecting("wss://api-ws.mist.com/api-ws/v1/stream", attempt=1)
    Connecting(url='wss://api-ws.mist.com/api-ws/v1/stream', attempt=1, connection=0)
    """

    url: str
    attempt: int
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Connected:
    """The WebSocket is open; the subscriptions are (re)sent next.

    >>> Connected("wss://api-ws.mist.com/api-ws/v1/stream", connection=2).connection
    2
    """

    url: str
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended: WebSocket close ``code`` and ``reason`` (1006, "" when it was cut).

    >>> Disconnected(1006, "")
    Disconnected(code=1006, reason='', error='', connection=0)
    """

    code: int
    reason: str
    error: str = ""
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The client waits ``delay`` seconds before connecting again, because of ``cause``.

    >>> Reconnecting(attempt=2, delay=1.5, cause="ConnectionRefusedError").delay
    1.5
    """

    attempt: int
    delay: float
    cause: str
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Gap:
    """Time without a connection: nothing could arrive on ``connection`` (its number within the client) between
    ``start`` and ``end`` (epoch seconds).

    >>> Gap(1_700_000_000.0, 1_700_000_002.5).duration
    2.5
    """

    start: float
    end: float
    connection: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Closed:
    """The client was closed; nothing runs any more.

    >>> import streamkit as sk
    >>> mist = sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="t")
    >>> events = []
    >>> _ = mist.events.subscribe(events.append)
    >>> mist.close()
    >>> events
    [Closed()]
    """
