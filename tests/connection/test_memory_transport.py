"""The receive loop's fault handling against the in-memory server: no sockets, no sleeps, virtual time.

Each test plays the server (refuse, drop, push) and checks what the client did: reconnects and re-subscribes,
rate-limit waits, oversized frames, dead connections, refused credentials and subscriptions, giving up.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import looptime

import streamkit as sk
from streamkit._json import dumps
from streamkit.connection import Connected, Disconnected, Gap, MemoryServer, Reconnecting
from streamkit.core import ProblemKind
from streamkit.protocols import mist
from streamkit.protocols.base import SubscribeRequest, UnsubscribeRequest

URL = "ws://memory/api-ws/v1/stream"
A, B = "/sites/a/stats/devices", "/sites/b/stats/devices"


def in_virtual_time(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run ``test`` on an event loop whose clock jumps ahead whenever every task waits (looptime's loop), so
    backoff delays and rate-limit waits take no real time. The loop is the test's own and is closed after it.

    (looptime's pytest plugin stays off in pyproject.toml: it leaves an unclosed loop behind in sync tests.)
    """

    @functools.wraps(test)
    def run() -> None:
        loop = looptime.new_event_loop(start=0)
        try:
            loop.run_until_complete(test())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return run


def mist_server(refuse: Iterable[str] = ()) -> MemoryServer:
    """A Mist server that acknowledges subscriptions (and refuses the channels in ``refuse``)."""
    refused = set(refuse)

    def respond(connection: Any, frame: str) -> None:
        request = mist.parse_request(frame)
        if isinstance(request, SubscribeRequest):
            channel = str(request.topic)
            if channel in refused:
                connection.push(mist.subscribe_failed_frame(channel, "no such channel"))
            else:
                connection.push(mist.subscribed_frame(channel))
        elif isinstance(request, UnsubscribeRequest):
            connection.push(mist.unsubscribed_frame(str(request.topic)))

    return MemoryServer(respond=respond)


async def until(condition: Callable[[], bool], timeout: float = 600) -> None:
    """Wait (in virtual time) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.25)


class Seen:
    """An observer that keeps what it is given."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self.completed = False

    def on_next(self, item: Any) -> None:
        self.items.append(item)

    def on_error(self, error: BaseException) -> None:
        self.error = error

    def on_completed(self) -> None:
        self.completed = True


def client(server: MemoryServer, **options: Any) -> sk.MistClient:
    return sk.mist(token="secret-token", url=URL, transport=server.connect, **options)


@in_virtual_time
async def test_a_dropped_connection_is_reopened_after_the_backoff_and_every_channel_resubscribed():
    server = mist_server()
    mist_client = client(server, reconnect=sk.Reconnect(initial=2.0, jitter=0))
    events: list[Any] = []
    mist_client.events.subscribe(events.append)
    a, b = Seen(), Seen()
    mist_client.subscribe(A).subscribe(a)
    mist_client.subscribe(B).subscribe(b)
    await until(lambda: len(server.connections) == 1 and len(server.connections[0].sent) == 2)
    first = server.connections[0]
    assert first.headers == {"Authorization": "Token secret-token"}
    first.push(mist.data_frame(A, {"n": 1}), mist.data_frame(B, {"n": 2}))
    await until(lambda: a.items and b.items)

    loop = asyncio.get_running_loop()
    dropped_at, wall = loop.time(), time.monotonic()
    first.drop(1006)
    await until(lambda: len(server.connections) == 2)
    assert loop.time() - dropped_at >= 2.0  # the backoff, in virtual time
    assert time.monotonic() - wall < 1.0  # and no real waiting
    second = server.connections[1]
    assert sorted(second.sent) == sorted([dumps({"subscribe": A}), dumps({"subscribe": B})])
    second.push(mist.data_frame(A, {"n": 3}))
    await until(lambda: len(a.items) == 2)
    assert [m["n"] for m in a.items] == [1, 3]
    kinds = [type(e) for e in events]
    assert kinds.count(Connected) == 2 and kinds.count(Gap) == 1
    assert next(e for e in events if isinstance(e, Disconnected)).code == 1006
    assert next(e for e in events if isinstance(e, Reconnecting)).delay == 2.0
    assert mist_client.stats.reconnects == 1 and a.error is None
    await mist_client.aclose()
    assert a.completed and b.completed and not server.open


@in_virtual_time
async def test_http_429_waits_at_least_the_retry_after_and_the_configured_minimum():
    server = mist_server()
    server.refuse(429, retry_after=45)
    server.refuse(429, retry_after=1)
    mist_client = client(server, reconnect=sk.Reconnect(rate_limit_wait=30))
    seen = Seen()
    loop = asyncio.get_running_loop()
    start = loop.time()
    mist_client.subscribe(A).subscribe(seen)
    await until(lambda: len(server.connections) == 1)
    assert len(server.attempts) == 3
    assert loop.time() - start >= 45 + 30  # Retry-After 45, then the minimum of 30 over Retry-After 1
    await mist_client.aclose()


@in_virtual_time
async def test_refused_credentials_fail_every_observer_at_once_without_retrying():
    server = mist_server()
    server.refuse(401, times=5)
    mist_client = client(server)
    a, b = Seen(), Seen()
    mist_client.subscribe(A).subscribe(a)
    mist_client.subscribe(B).subscribe(b)
    await until(lambda: a.error is not None and b.error is not None)
    assert isinstance(a.error, sk.AuthenticationError) and a.error is b.error
    assert "MIST_API_TOKEN" in str(a.error) and "secret-token" not in str(a.error)
    assert len(server.attempts) == 1 and mist_client.state == "failed"
    late = Seen()
    mist_client.subscribe(A).subscribe(late)
    await until(lambda: late.error is not None)
    assert late.error is a.error and len(server.attempts) == 1
    await mist_client.aclose()


@in_virtual_time
async def test_an_oversized_frame_is_a_problem_that_says_what_to_do_and_the_stream_goes_on():
    server = mist_server()
    mist_client = client(server, max_size=1_000, reconnect=sk.Reconnect(initial=0.1, jitter=0))
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    await until(lambda: len(server.connections) == 1 and server.connections[0].sent)
    server.connections[0].push(mist.data_frame(A, {"blob": "x" * 2_000}))
    await until(lambda: len(server.connections) == 2 and server.connections[1].sent)
    server.connections[1].push(mist.data_frame(A, {"n": 1}))
    await until(lambda: seen.items)
    problem = mist_client.problems.newest
    assert problem is not None and problem.kind is ProblemKind.OVERSIZED and "max_size=" in problem.message
    assert seen.error is None and seen.items[0]["n"] == 1
    await mist_client.aclose()


@in_virtual_time
async def test_a_connection_found_dead_by_its_keepalive_is_reopened():
    server = mist_server()
    mist_client = client(server, reconnect=sk.Reconnect(initial=0.5, jitter=0))
    events: list[Any] = []
    mist_client.events.subscribe(events.append)
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    await until(lambda: len(server.connections) == 1 and server.connections[0].sent)
    server.connections[0].drop(1011, "keepalive ping timeout")
    await until(lambda: len(server.connections) == 2 and server.connections[1].sent)
    drop = next(e for e in events if isinstance(e, Disconnected))
    assert (drop.code, drop.reason) == (1011, "keepalive ping timeout")
    assert seen.error is None and mist_client.stats.last_gap is not None
    await mist_client.aclose()


@in_virtual_time
async def test_a_refused_subscription_errors_only_its_own_stream():
    server = mist_server(refuse=[B])
    mist_client = client(server)
    a, b = Seen(), Seen()
    mist_client.subscribe(A).subscribe(a)
    mist_client.subscribe(B).subscribe(b)
    await until(lambda: b.error is not None)
    assert isinstance(b.error, sk.SubscriptionError) and b.error.topic == B and "no such channel" in str(b.error)
    server.connections[0].push(mist.data_frame(A, {"n": 1}))
    await until(lambda: a.items)
    assert a.error is None and len(server.connections) == 1 and mist_client.topics == (A,)
    await mist_client.aclose()


@in_virtual_time
async def test_after_max_attempts_failed_connections_every_observer_gets_connection_lost():
    server = mist_server()
    server.fail(OSError("connection refused"), times=10)
    mist_client = client(server, reconnect=sk.Reconnect(initial=1, jitter=0, max_attempts=3))
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    await until(lambda: seen.error is not None)
    assert isinstance(seen.error, sk.ConnectionLost)
    assert "after 3 attempts" in str(seen.error) and "connection refused" in str(seen.error)
    assert len(server.attempts) == 3
    await mist_client.aclose()


@in_virtual_time
async def test_the_last_observer_leaving_unsubscribes_and_closes_the_connection():
    server = mist_server()
    mist_client = client(server)
    a1, a2 = Seen(), Seen()
    first = mist_client.subscribe(A).subscribe(a1)
    second = mist_client.subscribe(A).subscribe(a2)
    await until(lambda: len(server.connections) == 1 and server.connections[0].sent)
    connection = server.connections[0]
    first.dispose()
    await asyncio.sleep(0.1)
    assert connection.sent == [dumps({"subscribe": A})] and connection.closed is None
    second.dispose()
    await until(lambda: connection.closed is not None)
    assert connection.sent[-1] == dumps({"unsubscribe": A})
    assert mist_client.state == "idle"
    await mist_client.aclose()


@in_virtual_time
async def test_a_server_that_accepts_and_then_closes_at_once_is_a_refusal_not_a_retry_storm():
    """The Mist seed: a client without valid credentials "tried to connect and was immediately disconnected"."""
    server = MemoryServer(respond=lambda connection, frame: connection.drop(1008, "policy violation"))
    mist_client = client(server, reconnect=sk.Reconnect(initial=1, jitter=0))
    events: list[Any] = []
    mist_client.events.subscribe(events.append)
    seen = Seen()
    loop = asyncio.get_running_loop()
    start = loop.time()
    mist_client.subscribe(A).subscribe(seen)
    await until(lambda: seen.error is not None)
    assert isinstance(seen.error, sk.AuthenticationError)
    assert "closed it before any acknowledgement or data, 3 times in a row" in str(seen.error)
    assert "code 1008: policy violation" in str(seen.error) and "MIST_API_TOKEN" in str(seen.error)
    assert len(server.attempts) == 3 and mist_client.state == "failed"
    assert loop.time() - start >= 1 + 2  # backed off between the attempts: no storm
    assert not any(isinstance(e, Gap) for e in events)  # nothing flowed, so no gap ended
    await mist_client.aclose()


@in_virtual_time
async def test_connections_closed_before_anything_with_another_code_end_in_connection_lost():
    server = MemoryServer(respond=lambda connection, frame: connection.drop(1000, ""))
    mist_client = client(server, reconnect=sk.Reconnect(initial=0.5, jitter=0))
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    await until(lambda: seen.error is not None)
    assert isinstance(seen.error, sk.ConnectionLost) and not isinstance(seen.error, sk.AuthenticationError)
    assert "3 times in a row (code 1000)" in str(seen.error)
    await mist_client.aclose()


@in_virtual_time
async def test_a_working_connection_that_drops_again_and_again_keeps_reconnecting():
    server = mist_server()
    mist_client = client(server, reconnect=sk.Reconnect(initial=0.5, jitter=0))
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    for n in range(5):  # each connection acknowledges, then drops: never a refusal
        await until(lambda n=n: len(server.connections) == n + 1 and server.connections[n].sent)
        await asyncio.sleep(0.1)
        server.connections[n].drop(1006)
    await until(lambda: len(server.connections) == 6)
    assert seen.error is None and mist_client.stats.reconnects == 5
    await mist_client.aclose()


@in_virtual_time
async def test_data_for_a_channel_nobody_subscribed_to_is_a_problem_with_its_raw_frame():
    server = mist_server()
    mist_client = client(server)
    seen = Seen()
    subscription = mist_client.subscribe(A).subscribe(seen)
    await until(lambda: len(server.connections) == 1 and server.connections[0].sent)
    connection = server.connections[0]
    connection.push(mist.data_frame(B, {"n": 1}))
    await until(lambda: len(mist_client.problems) == 1)
    problem = mist_client.problems.newest
    assert problem is not None and problem.kind is ProblemKind.UNROUTED and problem.topic == B
    assert b'"n\\":1' in problem.raw or b'{\\"n\\":1}' in problem.raw
    assert repr(A) in problem.message
    mist_client.subscribe(B).subscribe(Seen()).dispose()  # subscribed and left at once: its data is in flight
    connection.push(mist.data_frame(B, {"n": 2}))
    await asyncio.sleep(1)
    assert len(mist_client.problems) == 1
    subscription.dispose()
    await mist_client.aclose()
