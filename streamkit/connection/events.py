"""Connection lifecycle events (``client.events``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Closed", "Connected", "Connecting", "Disconnected", "Gap", "Reconnecting"]


@dataclass(frozen=True, slots=True)
class Connecting:
    url: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Connected:
    url: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended: WebSocket close ``code`` and ``reason`` (1006, "" when it was cut)."""

    code: int
    reason: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class Reconnecting:
    attempt: int
    delay: float
    cause: str


@dataclass(frozen=True, slots=True)
class Gap:
    """Time without a connection: nothing could arrive between ``start`` and ``end`` (epoch seconds)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Closed:
    """The client was closed; nothing runs any more."""
