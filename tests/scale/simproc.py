"""A Mist simulator in a process of its own, for the cluster tests and the benchmark: it reports what it sent per
(site, event-time window), how many connections are open, and the most peers one channel ever had at once.

The bookkeeping reads the simulator's ``_peers`` and ``_subs`` (it has no public view of who is subscribed now)
and counts sends by overriding ``_send_all``; the simulator itself is not changed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from typing import Any

from streamkit.sim import MistSimulator

__all__ = ["SimProcess"]


def _serve(conn: Any, options: dict[str, Any], window: float) -> None:
    class Counting(MistSimulator):
        sent: Counter[tuple[str, float]] = Counter()

        async def _send_all(self, messages: Any) -> None:
            messages = list(messages)
            for channel, payload in messages:
                peers = self._subs.get(channel)
                if peers and isinstance(payload, dict) and "_time" in payload:
                    self.sent[(channel.split("/")[2], payload["_time"] // window * window)] += len(peers)
            await super()._send_all(messages)

    sim = Counting(**options).start()
    channels = [sim.channel("device_stats", site=i) for i in range(len(sim.site_ids))]
    conn.send({"url": sim.url, "token": sim.token, "channels": channels})
    most = 0
    while True:
        # a look every 5 ms: how many peers each channel has now (two = a shard's channels subscribed twice)
        loop = sim._loop
        assert loop is not None
        now = asyncio.run_coroutine_threadsafe(_look(sim), loop).result(5)
        most = max(most, now)
        if conn.poll(0.005):
            what = conn.recv()
            if what == "stop":
                sim.stop()
                conn.send("stopped")
                return
            conn.send(
                {
                    "connections": len(sim._peers),
                    "most_peers_per_channel": most,
                    "peers_per_channel_now": now,
                    "sent": dict(sim.sent),
                    "at": time.time(),
                }
            )


async def _look(sim: MistSimulator) -> int:
    return max((len(peers) for peers in sim._subs.values()), default=0)


class SimProcess:
    """``with SimProcess(sites=200) as sim: sim.url, sim.token, sim.channels, sim.stats()``."""

    def __init__(self, *, window: float = 2.0, **options: Any) -> None:
        options.setdefault("seed", 7)
        self._parent, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child, options, window), daemon=True
        )
        self._process.start()
        info = self._parent.recv()
        self.url: str = info["url"]
        self.token: str = info["token"]
        self.channels: list[str] = info["channels"]

    def stats(self) -> dict[str, Any]:
        self._parent.send("stats")
        stats: dict[str, Any] = self._parent.recv()
        return stats

    def close(self) -> None:
        if self._process.is_alive():
            self._parent.send("stop")
            self._parent.poll(10) and self._parent.recv()
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
