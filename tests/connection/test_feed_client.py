"""sk.websocket against a small JSON feed served on loopback by the test itself."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from websockets.asyncio.server import ServerConnection, serve

import streamkit as sk

from .test_mist_client import wait_for


@pytest.fixture
def feed() -> Iterator[dict]:
    """A feed speaking {"op": "sub", "topic": t} / {"op": "unsub", ...}; pushes {"topic", "data"} every 20 ms."""
    info: dict = {"requests": []}
    ready = threading.Event()
    stop: asyncio.Future[None]

    async def handler(ws: ServerConnection) -> None:
        topics: set[str] = set()

        async def push() -> None:
            n = 0
            while True:
                for topic in sorted(topics):
                    await ws.send(json.dumps({"topic": topic, "data": {"n": n}}))
                n += 1
                await asyncio.sleep(0.02)

        await ws.send(json.dumps({"hello": "feed"}))  # a message for no topic
        pusher = asyncio.create_task(push())
        try:
            async for frame in ws:
                msg = json.loads(frame)
                info["requests"].append(msg)
                if msg["op"] == "sub":
                    topics.add(msg["topic"])
                    await ws.send(json.dumps({"ack": msg["topic"]}))
                else:
                    topics.discard(msg["topic"])
        finally:
            pusher.cancel()

    async def main() -> None:
        nonlocal stop
        stop = asyncio.get_running_loop().create_future()
        async with serve(handler, "127.0.0.1", 0) as server:
            info["url"] = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            ready.set()
            await stop

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(5)
    yield info
    loop.call_soon_threadsafe(stop.set_result, None)
    thread.join(5)
    loop.close()


def test_generic_feed_with_custom_messages_routing_and_acks(feed):
    client = sk.feed(
        feed["url"],
        subscribe=lambda t: {"op": "sub", "topic": t},
        unsubscribe=lambda t: {"op": "unsub", "topic": t},
        route="topic",
        payload="data",
        ack=lambda m: m.get("ack"),
    )
    prices = sk.collect(client.subscribe("prices"), count=3, timeout=5)
    assert [r.origin for r in prices] == ["prices"] * 3
    assert all(set(r) == {"n"} for r in prices)
    wait_for(lambda: {"op": "unsub", "topic": "prices"} in feed["requests"])
    both: list[dict] = []
    client.subscribe("a").subscribe(both.append)
    client.subscribe("b").subscribe(both.append)
    wait_for(lambda: {r.origin for r in both} == {"a", "b"})
    client.close()


def test_feed_without_subscriptions_delivers_everything_to_all(feed):
    client = sk.feed(feed["url"], subscribe=None, unsubscribe=None, route="topic")
    rows = sk.collect(client.subscribe(), count=1, timeout=5)
    assert rows == [{"hello": "feed"}] and rows[0].origin == "*"
    assert feed["requests"] == []  # nothing was sent to the feed
    client.close()


def test_messages_for_no_subscribed_topic_are_kept_as_problems(feed):
    client = sk.feed(feed["url"], subscribe=lambda t: {"op": "sub", "topic": t}, route="topic")
    problems: list[object] = []
    client.problems.subscribe(problems.append)
    sk.collect(client.subscribe("x"), count=1, timeout=5)
    assert [p.kind for p in problems][:1] == ["unknown"]
    assert b'"hello"' in problems[0].raw  # the raw frame, as received
    client.close()
