"""Reconnect policy as two small pure pieces: classify an error, and generate delays with jitter.

>>> from itertools import islice
>>> list(islice(backoff(initial=1, factor=2, cap=5, jitter=0), 5))
[1.0, 2.0, 4.0, 5.0, 5.0]
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from ..errors import AuthenticationError, RateLimited, StreamkitError

__all__ = ["Decision", "Reconnect", "backoff", "certificate_error", "classify"]


class Decision(Enum):
    """What :func:`classify` makes of a failure.

    >>> classify(ConnectionRefusedError()), classify(AuthenticationError("HTTP 401"))
    (<Decision.RETRY: 'retry'>, <Decision.FATAL: 'fatal'>)
    """

    RETRY = "retry"  # try again after the next backoff delay
    WAIT = "wait"  # rate limited: try again after the server's delay (at least Reconnect.rate_limit_wait)
    FATAL = "fatal"  # the same attempt would fail the same way: stop and tell every observer


def backoff(
    *,
    initial: float = 0.5,
    factor: float = 2.0,
    cap: float = 30.0,
    jitter: float = 0.5,
    rand: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Exponential delays ``initial * factor**n`` capped at ``cap``; each one is scaled by a random factor in
    ``[1 - jitter, 1]`` ("equal jitter") so that many clients do not retry in lockstep.

    >>> from itertools import islice
    >>> delays = list(islice(backoff(initial=1, factor=2, cap=5), 5))
    >>> [0.5 <= d / c <= 1 for d, c in zip(delays, [1, 2, 4, 5, 5])] == [True] * 5
    True
    """
    delay = initial
    while True:
        yield float(min(cap, delay) * (1 - jitter * rand()))
        delay = min(cap, delay * factor)


def certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate refusal behind ``exc`` (httpx, websockets and aiohttp wrap it), if that is what it is."""
    seen: BaseException | None = exc
    while seen is not None:
        inner = getattr(seen, "certificate_error", None)  # aiohttp keeps the refusal here, and is an SSLError itself
        if isinstance(inner, ssl.SSLCertVerificationError):
            return inner
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def classify(exc: BaseException) -> Decision:
    """Whether a failure to connect (or a dropped connection) is worth another try.

    >>> classify(TimeoutError()), classify(RateLimited("HTTP 429", retry_after=30))
    (<Decision.RETRY: 'retry'>, <Decision.WAIT: 'wait'>)
    """
    if isinstance(exc, RateLimited):
        return Decision.WAIT
    if isinstance(exc, (AuthenticationError, InvalidURI)) or certificate_error(exc) is not None:
        return Decision.FATAL
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return Decision.RETRY if status >= 500 or status == 408 else Decision.FATAL
    if isinstance(exc, StreamkitError):
        return Decision.FATAL
    if isinstance(exc, (OSError, TimeoutError, EOFError, InvalidHandshake)):
        return Decision.RETRY
    return Decision.RETRY


@dataclass(frozen=True, slots=True)
class Reconnect:
    """How a client reconnects after a retryable failure.

    Args:
        initial, factor, cap, jitter: the backoff (see :func:`backoff`).
        max_attempts: give up after this many failed attempts in a row (``None``: never give up).
        rate_limit_wait: the least wait after an HTTP 429 (Mist asks for 30 s).
        classify: the error classifier (see :func:`classify`).

    >>> import streamkit as sk
    >>> from itertools import islice
    >>> policy = sk.Reconnect(initial=1, cap=4, jitter=0, max_attempts=5)
    >>> list(islice(policy.delays(), 4))
    [1.0, 2.0, 4.0, 4.0]
    >>> client = sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="t", reconnect=policy)   # not yet connected
    >>> client.close()
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    max_attempts: int | None = None
    rate_limit_wait: float = 30.0
    classify: Callable[[BaseException], Decision] = classify

    def delays(self) -> Iterator[float]:
        return backoff(initial=self.initial, factor=self.factor, cap=self.cap, jitter=self.jitter)

    def wait(self, decision: Decision, exc: BaseException, delays: Iterator[float]) -> float:
        """Seconds to wait after ``exc`` (judged ``decision``) before the next attempt: the next of ``delays``, or
        for a rate limit the server's delay (at least :attr:`rate_limit_wait`).

        >>> from streamkit.errors import RateLimited
        >>> policy = Reconnect(initial=1, jitter=0)
        >>> delays = policy.delays()
        >>> policy.wait(Decision.RETRY, OSError(), delays)
        1.0
        >>> policy.wait(Decision.WAIT, RateLimited("HTTP 429", retry_after=60), delays)
        60
        """
        delay = next(delays)
        if decision is Decision.WAIT:
            return max(self.rate_limit_wait, getattr(exc, "retry_after", 0.0))
        return delay
