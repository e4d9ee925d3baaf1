"""The exceptions streamkit raises: one hierarchy, each message says what happened and what to do.

A stream's error reaches its observers' ``on_error`` (and :func:`streamkit.collect` raises it):

>>> import streamkit as sk
>>> from streamkit.sim import MistSimulator
>>> with MistSimulator(seed=1, sites=1, aps=1) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
...     errors = []
...     _ = mist.subscribe("/sites/nope/stats/devices").subscribe(on_error=errors.append)
...     _ = sk.collect(mist.subscribe(sim.channel("device_stats")), count=1, timeout=10)   # the others go on
>>> type(errors[0]).__name__, isinstance(errors[0], sk.StreamkitError)
('SubscriptionError', True)
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CollectInterrupted",
    "CollectTimeout",
    "ConnectionLost",
    "ProtocolError",
    "RateLimited",
    "StreamkitError",
    "SubscriptionError",
]


class StreamkitError(Exception):
    """Base class of every error streamkit raises on purpose.

    >>> import reactivex, streamkit as sk
    >>> try:
    ...     sk.collect(reactivex.never(), count=1, timeout=0.05)
    ... except sk.StreamkitError as exc:             # catches all of streamkit's own errors
    ...     type(exc).__name__
    'CollectTimeout'
    """


class AuthenticationError(StreamkitError):
    """The server refused the credentials (HTTP 401/403 at the upgrade, or a failed SMC login).

    Fatal: streamkit does not retry, because the same credentials would be refused again. Every observer of the
    client gets it at once:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, sites=1, aps=1) as sim, sk.mist(url=sim.url, token="wrong") as mist:
    ...     try:
    ...         sk.collect(mist.subscribe(sim.channel("device_stats")), count=1, timeout=10)
    ...     except sk.AuthenticationError as exc:
    ...         print("refused the credentials (HTTP 401)" in str(exc))
    True
    """


class RateLimited(StreamkitError):
    """The server answered HTTP 429; wait at least ``retry_after`` seconds before the next try.

    Args:
        message: what happened.
        retry_after: the seconds the server asked to wait (Mist: at least 30).

    Clients wait it out themselves (the retry policy classifies it as a wait, not a failure):

    >>> import streamkit as sk
    >>> from streamkit.connection import classify
    >>> exc = sk.RateLimited("HTTP 429 from the server", retry_after=30)
    >>> exc.retry_after, classify(exc)
    (30, <Decision.WAIT: 'wait'>)
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SubscriptionError(StreamkitError):
    """The server refused one subscription (Mist ``subscribe_failed``, SMC ``failure``).

    Only that subscription's stream ends with it; the connection and other subscriptions go on.

    Args:
        message: what happened and what to do.
        topic: the refused subscription.
        detail: the server's own reason.

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, sites=1, aps=1) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
    ...     try:
    ...         sk.collect(mist.subscribe("/sites/nope/stats/devices"), count=1, timeout=10)
    ...     except sk.SubscriptionError as exc:
    ...         print(exc.topic, "|", exc.detail)
    /sites/nope/stats/devices | forbidden: site nope is not in this organisation
    """

    def __init__(self, message: str, *, topic: object = None, detail: str = "") -> None:
        super().__init__(message)
        self.topic = topic
        self.detail = detail


class ProtocolError(StreamkitError):
    """A frame or an HTTP answer did not follow the protocol (malformed JSON, unexpected shape).

    Here an SMC client pointed at a server that is not an SMC:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, sites=1, aps=1) as sim, sk.smc(url=sim.rest_url, api_key="key") as smc:
    ...     try:
    ...         sk.collect(smc.subscribe(context="fw_single"), count=1, timeout=10)
    ...     except sk.ProtocolError as exc:
    ...         print(str(exc).endswith("is this an SMC API base URL?"))
    True
    """


class ConnectionLost(StreamkitError):
    """The connection dropped and could not be restored within the retry policy.

    >>> import streamkit as sk
    >>> give_up = sk.Reconnect(initial=0.01, max_attempts=2)
    >>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="t", reconnect=give_up) as mist:
    ...     try:
    ...         sk.collect(mist.subscribe("/sites/s/stats/devices"), count=1, timeout=10)
    ...     except sk.ConnectionLost as exc:
    ...         print(str(exc).split(":")[0])       # then why: the last attempt's error
    gave up on ws
    """


class CollectTimeout(StreamkitError, TimeoutError):
    """:func:`streamkit.collect` did not get ``count`` records in time; ``records`` holds the ones that came.

    Also a ``TimeoutError``.

    >>> import reactivex, streamkit as sk
    >>> try:
    ...     sk.collect(reactivex.concat(reactivex.of(1, 2), reactivex.never()), count=5, timeout=0.1)
    ... except sk.CollectTimeout as exc:
    ...     exc.records
    [1, 2]
    """

    def __init__(self, message: str, *, records: list[object]) -> None:
        super().__init__(message)
        self.records = records


class CollectInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a notebook's interrupt) stopped :func:`streamkit.collect`; ``records`` holds what it collected.

    A ``KeyboardInterrupt``, so a script still stops on Ctrl-C; catch it to keep the records. In a notebook,
    the records of the last interrupted cell are ``sys.last_value.records``.

    >>> import streamkit as sk
    >>> try:
    ...     raise sk.CollectInterrupted("interrupted after 2 records", records=[{"a": 1}, {"a": 2}])
    ... except KeyboardInterrupt as exc:            # what Ctrl-C in sk.collect(...) raises
    ...     exc.records
    [{'a': 1}, {'a': 2}]
    """

    def __init__(self, message: str, *, records: list[object]) -> None:
        super().__init__(message)
        self.records = records
