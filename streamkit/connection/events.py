"""Connection lifecycle events (``client.events``); ``connection`` numbers a client's WebSockets from 0."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Closed", "Connected", "Connecting", "Disconnected", "Gap", "Reconnecting"]


@dataclass(frozen=True, slots=True)
class Connecting:
    url: str
    attempt: int
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Connected:
    url: str
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended: WebSocket close ``code`` and ``reason`` (1006, "" when it was cut)."""

    code: int
    reason: str
    error: str = ""
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Reconnecting:
    attempt: int
    delay: float
    cause: str
    connection: int = 0


@dataclass(frozen=True, slots=True)
class Gap:
    """Time without a connection: nothing could arrive on ``connection`` (its number within the client) between
    ``start`` and ``end`` (epoch seconds)."""

    start: float
    end: float
    connection: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Closed:
    """The client was closed; nothing runs any more."""
