"""streamkit's receive path against bare receive loops, in one run, on loopback, fed faster than any of them.

Every round runs each contender against a fresh flat-out sender (``bench/flat_sender.py``: pre-built Mist frames
written with ``sendall``), so the client, not the server, sets the pace:
  plain            a websockets ``recv()`` loop that does nothing with the frames;
  decode           the same loop decoding each frame and its ``data`` string with orjson (the work any client must do);
  aiohttp-decode   the same decode on aiohttp's WebSocket client;
  picows-decode    the same decode on picows (when installed: the fastest receive available here);
  sk-<transport>   ``sk.mist(..., transport=...).subscribe(channel)`` delivering decoded records to an observer,
                   on each transport streamkit offers.
It prints rates and the CPU each spends per message (medians of interleaved rounds), and the ratio of streamkit
on its default transport to each.

    python bench/client_rate.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent))
from flat_sender import flat_out_sender

import streamkit as sk

WARMUP = 1.0


async def plain(info: dict[str, Any], seconds: float, decode: bool = False) -> tuple[int, float, float]:
    headers = {"Authorization": f"Token {info['token']}"}
    async with connect(info["url"], additional_headers=headers, compression=None, max_queue=64) as ws:
        await ws.send(json.dumps({"subscribe": info["channel"]}))
        until = time.perf_counter() + WARMUP
        while time.perf_counter() < until:
            await ws.recv()
        count = 0
        cpu0, start = time.process_time(), time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            frame = await ws.recv(decode=False)
            if decode:
                orjson.loads(orjson.loads(frame)["data"])
            count += 1
        return count, time.perf_counter() - start, time.process_time() - cpu0


async def aiohttp_decode(info: dict[str, Any], seconds: float) -> tuple[int, float, float]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.ws_connect(info["url"], max_msg_size=0) as ws:
        await ws.send_str(json.dumps({"subscribe": info["channel"]}))
        until = time.perf_counter() + WARMUP
        while time.perf_counter() < until:
            await ws.receive()
        count = 0
        cpu0, start = time.process_time(), time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            message = await ws.receive()
            orjson.loads(orjson.loads(message.data)["data"])
            count += 1
        return count, time.perf_counter() - start, time.process_time() - cpu0


async def picows_decode(info: dict[str, Any], seconds: float) -> tuple[int, float, float]:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    state = {"count": 0, "counting": False}
    done = asyncio.get_running_loop().create_future()

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: WSTransport) -> None:
            transport.send(WSMsgType.TEXT, json.dumps({"subscribe": info["channel"]}).encode())

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT and state["counting"]:  # (the acknowledgement came before)
                orjson.loads(orjson.loads(frame.get_payload_as_memoryview())["data"])
                state["count"] += 1

    transport, _ = await ws_connect(Listener, info["url"])
    await asyncio.sleep(WARMUP)
    state["counting"] = True
    cpu0, start = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    count, elapsed, cpu = state["count"], time.perf_counter() - start, time.process_time() - cpu0
    transport.disconnect()
    done.cancel()
    return count, elapsed, cpu


def streamkit(info: dict[str, Any], seconds: float, transport: str) -> tuple[int, float, float]:
    client = sk.mist(url=info["url"], token=info["token"], transport=transport)
    counter = {"n": 0}

    def on_record(record: Any) -> None:
        counter["n"] += 1  # only counts, as the bare loops do

    subscription = client.subscribe(info["channel"]).subscribe(on_record)
    until = time.perf_counter() + 10
    while counter["n"] == 0 and time.perf_counter() < until:
        time.sleep(0.01)
    time.sleep(WARMUP)
    n0, cpu0, start = counter["n"], time.process_time(), time.perf_counter()
    time.sleep(seconds)
    count, elapsed, cpu = counter["n"] - n0, time.perf_counter() - start, time.process_time() - cpu0
    subscription.dispose()
    client.close()
    return count, elapsed, cpu


def contenders() -> dict[str, Callable[[dict[str, Any], float], tuple[int, float, float]]]:
    found: dict[str, Callable[[dict[str, Any], float], tuple[int, float, float]]] = {
        "plain": lambda info, seconds: asyncio.run(plain(info, seconds)),
        "decode": lambda info, seconds: asyncio.run(plain(info, seconds, decode=True)),
        "aiohttp-decode": lambda info, seconds: asyncio.run(aiohttp_decode(info, seconds)),
    }
    try:
        import picows  # noqa: F401
    except ImportError:
        print("picows is not installed: no picows baseline (pip install picows)")
    else:
        found["picows-decode"] = lambda info, seconds: asyncio.run(picows_decode(info, seconds))
    for transport in sk.connection.CONNECTORS:
        found[f"sk-{transport}"] = functools.partial(streamkit, transport=transport)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs = contenders()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for n in range(1, args.rounds + 1):
        for name, run in runs.items():
            with flat_out_sender() as info:
                count, elapsed, cpu = run(info, args.seconds)
            rate, cpu_us = count / elapsed, cpu / count * 1e6
            results[name].append((rate, cpu_us))
            print(f"round {n} {name:14}: {rate:9,.0f} msg/s   client CPU {cpu_us:5.1f} us/msg", flush=True)
    default = f"sk-{sk.connection.transport.DEFAULT_TRANSPORT}"
    print(f"\nmedians ({default} is streamkit's default):")
    rate = {name: statistics.median(r for r, _ in rows) for name, rows in results.items()}
    cpu = {name: statistics.median(c for _, c in rows) for name, rows in results.items()}
    for name in results:
        print(
            f"  {name:14} {rate[name]:9,.0f} msg/s  {cpu[name]:5.1f} us CPU/msg   "
            f"{default}/this: rate {rate[default] / rate[name]:.2f}x, CPU {cpu[default] / cpu[name]:.2f}x"
        )


if __name__ == "__main__":
    main()
