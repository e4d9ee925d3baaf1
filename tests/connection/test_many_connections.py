"""One client, many WebSockets: channels spread at ``channels_per_connection``, a drop is one connection's gap,
and subscriptions the server never acknowledges are asked for again, then fail. In-memory server, virtual time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import streamkit as sk
from streamkit._json import dumps
from streamkit.connection import Gap, MemoryConnection, MemoryServer
from streamkit.core import ProblemKind
from streamkit.protocols import mist
from streamkit.protocols.base import SubscribeRequest, UnsubscribeRequest

from .test_memory_transport import A, B, Seen, client, in_virtual_time, until

LIMIT = 2000  # what the server accepts on one connection, as Mist does


class LimitedServer(MemoryServer):
    def __init__(self, *, respond: Any, channels: dict[MemoryConnection, set[str]]) -> None:
        super().__init__(respond=respond)
        #: The channels each connection holds now.
        self.channels = channels


def limited_server(*, ignore: set[str] | None = None, answer_late: set[str] | None = None) -> LimitedServer:
    """A Mist server that refuses channels beyond ``LIMIT`` on one connection; it never answers the channels in
    ``ignore`` and answers those in ``answer_late`` only when they are asked for a second time."""
    ignore, answer_late = ignore or set(), answer_late or set()
    counts: dict[MemoryConnection, set[str]] = {}
    asked: dict[str, int] = {}

    def respond(connection: MemoryConnection, frame: str) -> None:
        request = mist.parse_request(frame)
        channels = counts.setdefault(connection, set())
        if isinstance(request, SubscribeRequest):
            channel = str(request.topic)
            asked[channel] = asked.get(channel, 0) + 1
            if channel in ignore or (channel in answer_late and asked[channel] < 2):
                return
            if len(channels) >= LIMIT:
                connection.push(mist.subscribe_failed_frame(channel, f"at most {LIMIT} channels per connection"))
                return
            channels.add(channel)
            connection.push(mist.subscribed_frame(channel), mist.data_frame(channel, {"channel": channel}))
        elif isinstance(request, UnsubscribeRequest):
            channels.discard(str(request.topic))
            connection.push(mist.unsubscribed_frame(str(request.topic)))

    return LimitedServer(respond=respond, channels=counts)


def channels(n: int) -> list[str]:
    return [f"/sites/{i:05d}/stats/devices" for i in range(n)]


@in_virtual_time
async def test_five_thousand_channels_spread_over_connections_a_server_limits_to_two_thousand():
    server = limited_server()
    mist_client = client(server)  # the default: 1,000 channels per connection
    seen: dict[str, Seen] = {}
    for channel in channels(5000):
        seen[channel] = Seen()
        mist_client.subscribe(channel).subscribe(seen[channel])
    await until(lambda: all(s.items for s in seen.values()))
    assert len(server.connections) == 5 and len(server.open) == 5
    assert [len(c) for c in server.channels.values()] == [1000] * 5
    assert not any(s.error for s in seen.values()) and len(mist_client.problems) == 0
    assert [c["topics"] for c in mist_client.connections] == [1000] * 5
    assert mist_client.state == "connected" and mist_client.stats.messages == 5000
    await mist_client.aclose()
    assert not server.open and all(s.completed for s in seen.values())


@in_virtual_time
async def test_without_spreading_the_same_channels_meet_the_servers_limit():
    server = limited_server()
    mist_client = client(server, channels_per_connection=2000)  # the most Mist allows...
    seen = [Seen() for _ in range(2001)]  # ...so one channel more needs a second connection
    for channel, observer in zip(channels(2001), seen, strict=True):
        mist_client.subscribe(channel).subscribe(observer)
    await until(lambda: all(s.items for s in seen))
    assert len(server.connections) == 2 and not any(s.error for s in seen)
    await mist_client.aclose()

    one = sk.connection.MistClient(
        mist.MistProtocol(), url="ws://memory/api-ws/v1/stream", connector=limited_server().connect
    )  # one connection for everything (channels_per_connection=None)
    seen = [Seen() for _ in range(2001)]
    for channel, observer in zip(channels(2001), seen, strict=True):
        one.subscribe(channel).subscribe(observer)
    await until(lambda: all(s.items or s.error for s in seen))
    refused = [s for s in seen if s.error is not None]
    assert len(refused) == 1 and "at most 2000 channels" in str(refused[0].error)
    await one.aclose()


def test_mist_refuses_more_than_its_limit_per_connection():
    with pytest.raises(ValueError, match="1 to 2,000"):
        sk.mist(token="t", url="ws://x/api-ws/v1/stream", channels_per_connection=2500)


@in_virtual_time
async def test_a_drop_is_the_gap_of_one_connection_and_only_its_channels_are_resubscribed():
    server = limited_server()
    mist_client = client(server, channels_per_connection=2, reconnect=sk.Reconnect(initial=1.0, jitter=0))
    gaps: list[Gap] = []
    mist_client.events.subscribe(lambda e: gaps.append(e) if isinstance(e, Gap) else None)
    seen = {channel: Seen() for channel in channels(4)}
    for channel, observer in seen.items():
        mist_client.subscribe(channel).subscribe(observer)
    await until(lambda: all(s.items for s in seen.values()))
    first, second = server.connections
    sent_on_first = len(first.sent)
    second.drop(1006)
    await until(lambda: len(server.connections) == 3 and gaps)
    third = server.connections[2]
    assert sorted(third.sent) == sorted(dumps({"subscribe": c}) for c in channels(4)[2:])
    assert len(first.sent) == sent_on_first and first in server.open  # the other connection was left alone
    assert [g.connection for g in gaps] == [1] and gaps[0].duration >= 0
    figures = {c["connection"]: c for c in mist_client.connections}
    assert figures[0]["reconnects"] == 0 and figures[1]["reconnects"] == 1 == mist_client.stats.reconnects
    await mist_client.aclose()


@in_virtual_time
async def test_leaving_channels_frees_room_and_an_empty_connection_closes():
    server = limited_server()
    mist_client = client(server, channels_per_connection=2)
    subscriptions = [mist_client.subscribe(c).subscribe(Seen()) for c in channels(3)]
    await until(lambda: len(server.open) == 2)
    subscriptions[2].dispose()  # the only channel of the second connection
    await until(lambda: len(server.open) == 1)
    subscriptions[0].dispose()
    mist_client.subscribe("/sites/new/stats/devices").subscribe(Seen())  # fills the first connection's room
    await asyncio.sleep(1)
    assert len(server.connections) == 2 and len(server.open) == 1
    assert [c["topics"] for c in mist_client.connections] == [2, 0]
    await mist_client.aclose()


@in_virtual_time
async def test_a_subscription_never_acknowledged_is_reported_asked_again_then_fails():
    server = limited_server(ignore={B})
    mist_client = client(server)
    a, b = Seen(), Seen()
    mist_client.subscribe(A).subscribe(a)
    mist_client.subscribe(B).subscribe(b)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await until(lambda: len(mist_client.problems) == 1)
    assert 10 <= loop.time() - started < 11
    problem = mist_client.problems.newest
    assert problem is not None and problem.kind is ProblemKind.UNACKNOWLEDGED and problem.topic == B
    assert "within 10 s; asking again" in problem.message and b.error is None
    await until(lambda: b.error is not None)
    assert 20 <= loop.time() - started < 21
    assert isinstance(b.error, sk.SubscriptionError) and "never acknowledged" in str(b.error)
    assert server.connections[0].sent.count(dumps({"subscribe": B})) == 2
    assert a.error is None and a.items and mist_client.topics == (A,)
    await mist_client.aclose()


@in_virtual_time
async def test_an_acknowledgement_to_the_second_ask_keeps_the_stream():
    server = limited_server(answer_late={B})
    mist_client = client(server)
    b = Seen()
    mist_client.subscribe(B).subscribe(b)
    await until(lambda: b.items)
    await asyncio.sleep(60)
    assert b.error is None and len(mist_client.problems) == 1
    await mist_client.aclose()


@in_virtual_time
async def test_data_without_an_acknowledgement_counts_as_one():
    def respond(connection: MemoryConnection, frame: str) -> None:
        request = mist.parse_request(frame)
        if isinstance(request, SubscribeRequest):
            connection.push(mist.data_frame(str(request.topic), {"n": 1}))

    server = MemoryServer(respond=respond)
    mist_client = client(server)
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    await asyncio.sleep(60)
    assert seen.items and seen.error is None and len(mist_client.problems) == 0
    await mist_client.aclose()


@in_virtual_time
async def test_subscribe_timeout_none_waits_for_ever():
    server = limited_server(ignore={A})
    mist_client = client(server, subscribe_timeout=None)
    seen = Seen()
    mist_client.subscribe(A).subscribe(seen)
    await asyncio.sleep(600)
    assert seen.error is None and len(mist_client.problems) == 0
    await mist_client.aclose()


def test_five_thousand_channels_against_the_simulator_limited_to_two_thousand_per_connection():
    from streamkit.protocols.base import Subscribed, SubscribeFailed
    from streamkit.sim import MistSimulator

    from .test_mist_client import wait_for

    kinds = ("device_stats", "client_stats", "device_events", "mxedge_stats", "mxedge_events")
    with MistSimulator(seed=1, interval=3600, sites=1000, aps=1, clients=0, max_channels=2000) as sim:
        wanted = [sim.channel(kind, site=site) for site in range(1000) for kind in kinds]
        mist = sk.mist(url=sim.url, token=sim.token)
        answers: list[object] = []
        mist.events.subscribe(lambda e: answers.append(e) if isinstance(e, (Subscribed, SubscribeFailed)) else None)
        subscriptions = [mist.subscribe(channel).subscribe(lambda row: None) for channel in wanted]
        wait_for(lambda: len(answers) == 5000, timeout=30)
        assert not any(isinstance(a, SubscribeFailed) for a in answers)
        assert sim.open_connections == 5 and sim.counts["subscribes"] == 5000
        assert [c["topics"] for c in mist.connections] == [1000] * 5 and mist.state == "connected"
        for subscription in subscriptions:
            subscription.dispose()
        wait_for(lambda: sim.open_connections == 0, timeout=10)  # the last channel of each connection closed it
        mist.close()
