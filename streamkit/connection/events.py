"""Connection lifecycle events (``client.events``) and non-fatal problems (``client.errors``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocols.base import Topic

__all__ = ["Closed", "Connected", "Connecting", "Disconnected", "Gap", "Problem", "Reconnecting"]


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


@dataclass(frozen=True, slots=True)
class Problem:
    """Something went wrong without ending a stream: a malformed frame, an unknown message, a failing observer.

    ``raw`` keeps (the start of) the frame that caused it, so nothing is lost silently.
    """

    kind: str  # "malformed" | "unknown" | "observer"
    message: str
    raw: str | bytes = ""
    topic: Topic | None = None
    at: float = 0.0
