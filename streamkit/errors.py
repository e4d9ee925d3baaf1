"""The exceptions streamkit raises: one hierarchy, each message says what happened and what to do."""

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
    """Base class of every error streamkit raises on purpose."""


class AuthenticationError(StreamkitError):
    """The server refused the credentials (HTTP 401/403 at the upgrade, or a failed SMC login).

    Fatal: streamkit does not retry, because the same credentials would be refused again.
    """


class RateLimited(StreamkitError):
    """The server answered HTTP 429; wait at least ``retry_after`` seconds before the next try."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SubscriptionError(StreamkitError):
    """The server refused one subscription (Mist ``subscribe_failed``, SMC ``failure``).

    Only that subscription's stream ends with it; the connection and other subscriptions go on.
    """

    def __init__(self, message: str, *, topic: object = None, detail: str = "") -> None:
        super().__init__(message)
        self.topic = topic
        self.detail = detail


class ProtocolError(StreamkitError):
    """A frame or an HTTP answer did not follow the protocol (malformed JSON, unexpected shape)."""


class ConnectionLost(StreamkitError):
    """The connection dropped and could not be restored within the retry policy."""


class CollectTimeout(StreamkitError, TimeoutError):
    """:func:`streamkit.collect` did not get ``count`` records in time; ``records`` holds the ones that came."""

    def __init__(self, message: str, *, records: list[object]) -> None:
        super().__init__(message)
        self.records = records


class CollectInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a notebook's interrupt) stopped :func:`streamkit.collect`; ``records`` holds what it collected.

    A ``KeyboardInterrupt``, so a script still stops on Ctrl-C; catch it to keep the records. In a notebook,
    the records of the last interrupted cell are ``sys.last_value.records``.
    """

    def __init__(self, message: str, *, records: list[object]) -> None:
        super().__init__(message)
        self.records = records
