"""A WebSocket server with a handler of the test's own, on 127.0.0.1 in a thread: for servers that misbehave."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from websockets.asyncio.server import ServerConnection, serve


@contextlib.contextmanager
def serving(handler: Callable[[ServerConnection], Awaitable[None]], **options: Any) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port; yields the ``ws://`` URL, stops the server on exit."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["stop"] = asyncio.get_running_loop().create_future()
        async with serve(handler, "127.0.0.1", 0, **options) as server:
            box["url"] = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            ready.set()
            await box["stop"]

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield box["url"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set_result, None)
        thread.join(10)
        loop.close()
