from __future__ import annotations

import ssl
from itertools import islice

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from streamkit.connection.policy import Decision, Reconnect, backoff, classify
from streamkit.errors import AuthenticationError, RateLimited, SubscriptionError


def test_backoff_grows_to_the_cap():
    assert list(islice(backoff(initial=0.5, factor=2, cap=4, jitter=0), 6)) == [0.5, 1, 2, 4, 4, 4]


def test_jitter_scales_each_delay_down_by_at_most_the_jitter_fraction():
    draws = iter([0.0, 1.0, 0.5])
    delays = list(islice(backoff(initial=1, factor=2, cap=10, jitter=0.5, rand=lambda: next(draws)), 3))
    assert delays == [1.0, 1.0, 3.0]


def status(code: int) -> InvalidStatus:
    return InvalidStatus(Response(code, "x", Headers()))


@pytest.mark.parametrize(
    ("error", "decision"),
    [
        (AuthenticationError("no"), Decision.FATAL),
        (RateLimited("slow down", retry_after=30), Decision.WAIT),
        (status(404), Decision.FATAL),
        (status(503), Decision.RETRY),
        (ConnectionRefusedError(), Decision.RETRY),
        (TimeoutError(), Decision.RETRY),
        (ssl.SSLCertVerificationError("bad cert"), Decision.FATAL),
        (SubscriptionError("no"), Decision.FATAL),
    ],
)
def test_classify(error, decision):
    assert classify(error) is decision


def test_reconnect_delays_restart_from_the_initial_delay():
    policy = Reconnect(initial=1, factor=3, cap=100, jitter=0)
    first = policy.delays()
    assert [next(first), next(first)] == [1, 3]
    assert next(policy.delays()) == 1
