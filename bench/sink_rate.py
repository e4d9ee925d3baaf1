"""End to end into a LiveFrame, fed flat out: rate and CPU per message, held-row size, memory, notebook latency.

Every contender runs in its own process against a fresh flat-out sender (``bench/flat_sender.py``: pre-built Mist
device-stats frames written with ``sendall``), so the client, not the server, sets the pace; rounds interleave
the contenders and the figures are medians over rounds.

rate     sk-append      sk.mist -> ops.flatten() -> LiveFrame(max_rows=100_000), drawn as a cell would be (its
                        HTML, newest 15 rows, 4 times a second)
         sk-keyed       the same, keyed by "mac" (latest row per device, basic and full messages merged)
         sk-grid        sk-append shown as a notebook shows it: its Perspective grid kept in step 4 times a second
                        (the rows that came since, sent to the grid's table)
         aiohttp-decode the fastest receive + orjson double-decode loop with aiohttp (baseline a; picows-decode too
                        when picows is installed)
         notebook       the hand-written notebook pipeline (baseline b): websockets + orjson, each record flattened
                        into a list, a DataFrame of the newest 100k rows rebuilt every 250 ms
         streamz        aiohttp receive -> streamz map(decode) -> map(flatten) -> sink into the newest 100k rows
         perspective    aiohttp receive -> decode, flatten -> perspective Table(limit=100_000) updated every 250 ms
                        (lists as JSON text: a Perspective column holds no lists)
         Targets: streamkit end to end >= 0.5x the fastest receive + decode loop, >= 2x the notebook pipeline.
rows     memory per held row of 100k Mist device-stats rows (tracemalloc): TableState against the table of dicts
         (the flattened Messages) it used to hold.
memory   RSS while --messages messages (default 2M; the target is stated for 10M) go into the 100k-row LiveFrame,
         after the first 200k. Target: growth < 50 MB.
kernel   a Jupyter kernel showing that LiveFrame fed flat out: how long a new cell takes to answer. Target: < 0.5 s.

  python bench/sink_rate.py [rate|rows|memory|kernel ...] [--seconds 3] [--rounds 3] [--messages 2000000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from client_rate import aiohttp_decode, picows_decode
from flat_sender import flat_out_sender

WARMUP = 1.0
MAX_ROWS = 100_000
REBUILD = 0.25  # seconds between DataFrames of the notebook pipeline / Perspective updates / LiveFrame draws

Result = tuple[int, float, float]  # messages, seconds, CPU seconds


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """A hand-written flatten (nested dicts to dotted keys), as the baselines do it."""
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if type(v) is dict and v:
                walk(v, f"{prefix}{k}.")
            else:
                out[prefix + k] = v

    walk(record, "")
    return out


# -- contenders (each in its own process) -----------------------------------------------------------------------


def streamkit_frame(info: dict[str, Any], seconds: float, key: str | None = None, grid: bool = False) -> Result:
    import streamkit as sk
    from streamkit import ops
    from streamkit.sinks.grid import Grid

    client = sk.mist(url=info["url"], token=info["token"])
    frame = sk.LiveFrame(
        client.subscribe(info["channel"]).pipe(ops.flatten()), key=key, max_rows=MAX_ROWS, fps=1 / REBUILD
    )
    shown = Grid(frame.state, columns=None, sort_by=[], title=None, tz=None, show=15) if grid else None

    def draw() -> None:  # what a cell showing the frame does each frame
        if shown is None:
            frame._repr_html_()  # its HTML table (flushes the queue into the table first)
        else:
            frame._flush()
            shown.sync()

    while frame._arrivals == 0:
        time.sleep(0.01)
        frame._flush()
    time.sleep(WARMUP)
    frame._flush()
    n0, cpu0, start = frame._arrivals, time.process_time(), time.perf_counter()
    end = start + seconds
    while (now := time.perf_counter()) < end:
        time.sleep(min(REBUILD, end - now))
        draw()
    frame._flush()
    result = frame._arrivals - n0, time.perf_counter() - start, time.process_time() - cpu0
    frame.close()
    client.close()
    return result


async def notebook(info: dict[str, Any], seconds: float) -> Result:
    import pandas as pd
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Token {info['token']}"}
    rows: list[dict[str, Any]] = []
    async with connect(info["url"], additional_headers=headers, compression=None, max_queue=64) as ws:
        await ws.send(json.dumps({"subscribe": info["channel"]}))
        count = 0
        start = time.perf_counter()
        measuring, end = False, start + WARMUP
        cpu0 = time.process_time()
        rebuild = start + REBUILD
        while True:
            message = orjson.loads(await ws.recv(decode=False))
            if message.get("event") != "data":
                continue
            rows.append(flat(orjson.loads(message["data"])))
            count += 1
            now = time.perf_counter()
            if now >= rebuild:
                if len(rows) > 2 * MAX_ROWS:
                    del rows[:-MAX_ROWS]
                pd.DataFrame(rows[-MAX_ROWS:])  # the table the notebook shows
                rebuild = time.perf_counter() + REBUILD
            if now >= end:
                if measuring:
                    return count, now - start, time.process_time() - cpu0
                measuring, count, start, cpu0 = True, 0, now, time.process_time()
                end = start + seconds


async def aiohttp_rows(info: dict[str, Any], seconds: float, take: Callable[[bytes], None]) -> Result:
    """An aiohttp receive loop handing each data frame to ``take``; returns what was measured after the warmup."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.ws_connect(info["url"], max_msg_size=0) as ws:
        await ws.send_str(json.dumps({"subscribe": info["channel"]}))
        await ws.receive()  # the acknowledgement
        count = 0
        start = time.perf_counter()
        measuring, end = False, start + WARMUP
        cpu0 = time.process_time()
        while True:
            take((await ws.receive()).data)
            count += 1
            if count & 63 == 0 and (now := time.perf_counter()) >= end:
                if measuring:
                    return count, now - start, time.process_time() - cpu0
                measuring, count, start, cpu0 = True, 0, now, time.process_time()
                end = start + seconds


def with_streamz(info: dict[str, Any], seconds: float) -> Result:
    from streamz import Stream

    rows: deque[dict[str, Any]] = deque(maxlen=MAX_ROWS)
    source = Stream()
    source.map(lambda frame: orjson.loads(orjson.loads(frame)["data"])).map(flat).sink(rows.append)
    return asyncio.run(aiohttp_rows(info, seconds, source.emit))


def with_perspective(info: dict[str, Any], seconds: float) -> Result:
    import perspective

    kinds = {bool: "boolean", int: "integer", float: "float", str: "string"}
    table: Any = None
    batch: list[dict[str, Any]] = []
    schema: dict[str, str] = {}
    state = {"next": time.perf_counter() + REBUILD}

    def scalar(row: dict[str, Any]) -> dict[str, Any]:
        return {k: orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v for k, v in row.items()}

    def take(frame: bytes) -> None:
        nonlocal table
        row = scalar(flat(orjson.loads(orjson.loads(frame)["data"])))
        if table is None:  # the schema from the first second of rows (the sender repeats its frames)
            for k, v in row.items():
                kind = kinds.get(type(v), "string") if v is not None else schema.get(k, "string")
                old = schema.get(k)
                if old is not None and old != kind and v is not None:
                    kind = "float" if {old, kind} <= {"integer", "float"} else "string"
                schema[k] = kind if v is not None or old is None else old
        batch.append(row)
        if time.perf_counter() >= state["next"]:
            if table is None:
                table = perspective.Server().new_local_client().table(schema, limit=MAX_ROWS)
            table.update([{k: v for k, v in r.items() if k in schema} for r in batch])
            batch.clear()
            state["next"] = time.perf_counter() + REBUILD

    return asyncio.run(aiohttp_rows(info, seconds, take))


def contender(name: str) -> Callable[[dict[str, Any], float], Result]:
    runs: dict[str, Callable[[dict[str, Any], float], Result]] = {
        "sk-append": lambda info, s: streamkit_frame(info, s),
        "sk-keyed": lambda info, s: streamkit_frame(info, s, key="mac"),
        "sk-grid": lambda info, s: streamkit_frame(info, s, grid=True),
        "aiohttp-decode": lambda info, s: asyncio.run(aiohttp_decode(info, s)),
        "picows-decode": lambda info, s: asyncio.run(picows_decode(info, s)),
        "notebook": lambda info, s: asyncio.run(notebook(info, s)),
        "streamz": with_streamz,
        "perspective": with_perspective,
    }
    return runs[name]


def available() -> list[str]:
    names = ["sk-append", "sk-keyed", "sk-grid", "aiohttp-decode"]
    for module, name, pip in [
        ("picows", "picows-decode", "picows"),
        (None, "notebook", None),
        ("streamz", "streamz", "streamz"),
        ("perspective", "perspective", "perspective-python"),
    ]:
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"{module} is not installed: no {name} contender (pip install {pip}, or the bench extra)")
                continue
        names.append(name)
    return names


def run_one(name: str, seconds: float) -> tuple[float, float] | None:
    """One contender in its own process against a fresh sender: (msg/s, us CPU per message), None if it failed."""
    with flat_out_sender() as info:
        proc = subprocess.run(
            [sys.executable, __file__, "_one", "--name", name, "--info", json.dumps(info), "--seconds", str(seconds)],
            capture_output=True,
            text=True,
            timeout=seconds * 10 + 120,
        )
    if proc.returncode != 0:
        print(f"  {name} failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
        return None
    count, elapsed, cpu = json.loads(proc.stdout.strip().splitlines()[-1])
    return count / elapsed, cpu / max(count, 1) * 1e6


def part_rate(seconds: float, rounds: int) -> None:
    names = available()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for n in range(1, rounds + 1):
        for name in names:
            got = run_one(name, seconds)
            if got is not None:
                results[name].append(got)
                print(f"round {n} {name:15}: {got[0]:9,.0f} msg/s   CPU {got[1]:6.1f} us/msg", flush=True)
    rate = {name: statistics.median(r for r, _ in rows) for name, rows in results.items() if rows}
    cpu = {name: statistics.median(c for _, c in rows) for name, rows in results.items() if rows}
    print(f"\nmedians over {rounds} interleaved rounds of {seconds:g} s:")
    for name in rate:
        print(f"  {name:15} {rate[name]:9,.0f} msg/s   {cpu[name]:6.1f} us CPU/msg")
    fastest = max((name for name in rate if name.endswith("-decode")), key=rate.__getitem__, default=None)
    for sk_name in ("sk-append", "sk-keyed", "sk-grid"):
        if sk_name not in rate:
            continue
        line = f"{sk_name}:"
        if fastest is not None:
            ratio = rate[sk_name] / rate[fastest]
            line += f" {ratio:.2f}x {fastest} (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})"
        if "notebook" in rate:
            ratio = rate[sk_name] / rate["notebook"]
            line += f", {ratio:.1f}x the notebook pipeline (target >= 2: {'met' if ratio >= 2 else 'NOT met'})"
        for other in ("streamz", "perspective"):
            if other in rate:
                line += f", {rate[sk_name] / rate[other]:.1f}x {other}"
        print(line)


# -- held rows ----------------------------------------------------------------------------------------------------


def part_rows() -> None:
    import tracemalloc

    from flat_sender import capture

    from streamkit.core import Message
    from streamkit.ops import flatten_record
    from streamkit.sinks import TableState

    _, frames = capture()

    def records() -> Any:
        for i in range(MAX_ROWS):
            payload = orjson.loads(orjson.loads(frames[i % len(frames)])["data"])
            yield flatten_record(Message(payload, "/sites/s/stats/devices", time.time()))

    def measure(build: Callable[[], Any]) -> tuple[float, float]:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        held = build()
        gc.collect()
        size = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        start = time.perf_counter()
        gc.collect()
        full = time.perf_counter() - start
        del held
        return size / MAX_ROWS, full

    def table(key: str | None) -> Callable[[], TableState]:
        def build() -> TableState:
            state = TableState(key=key, max_rows=MAX_ROWS)
            items: list[Any] = []
            take = state.taker(items.append)
            for record in records():
                take(record)
                if len(items) >= 10_000:
                    state.add_items(items)
                    items = []
                    take = state.taker(items.append)
            state.add_items(items)
            return state

        return build

    dicts, dicts_gc = measure(lambda: deque(records(), maxlen=MAX_ROWS))
    rows, rows_gc = measure(table(None))
    print(
        f"100k held Mist device-stats rows: {rows:,.0f} bytes per row as TableState holds them, {dicts:,.0f} as "
        f"dicts (the flattened Messages); a full garbage collection with them held: {rows_gc * 1000:.0f} ms "
        f"against {dicts_gc * 1000:.0f} ms"
    )


# -- memory and the kernel ----------------------------------------------------------------------------------------


def part_memory(messages: int) -> None:
    import streamkit as sk
    from streamkit import ops

    with flat_out_sender() as info:
        client = sk.mist(url=info["url"], token=info["token"])
        frame = sk.LiveFrame(client.subscribe(info["channel"]).pipe(ops.flatten()), max_rows=MAX_ROWS, fps=4)
        baseline: tuple[int, float] | None = None
        samples = []
        start = time.perf_counter()
        while frame._arrivals < messages:
            time.sleep(1.0)
            frame._flush()
            if baseline is None and frame._arrivals >= 2 * MAX_ROWS:
                baseline = frame._arrivals, rss_mb()  # the 100k rows are in: from here on RSS should stay flat
            samples.append((frame._arrivals, rss_mb()))
        elapsed = time.perf_counter() - start
        frame.close()
        client.close()
    assert baseline is not None
    done, end = samples[-1]
    peak = max(r for _, r in samples)
    growth = end - baseline[1]
    per_million = growth / max(done - baseline[0], 1) * 1e6
    print(
        f"{done:,} messages in {elapsed:.0f} s ({done / elapsed:,.0f} msg/s) into a 100k-row LiveFrame: RSS after "
        f"{baseline[0]:,} {baseline[1]:.0f} MB, at the end {end:.0f} MB, peak {peak:.0f} MB: growth {growth:+.1f} MB "
        f"({per_million:+.2f} MB per million messages; {per_million * 9.8:+.0f} MB over 10M at that pace: target "
        f"< 50 MB {'met' if per_million * 9.8 < 50 else 'NOT met'})"
    )


def part_kernel(seconds: float) -> None:
    import nbformat
    from nbclient import NotebookClient

    with flat_out_sender() as info:
        setup = (
            "import streamkit as sk\nfrom streamkit import ops\n"
            f"mist = sk.mist(url={info['url']!r}, token={info['token']!r})\n"
            f"frame = sk.LiveFrame(mist.subscribe({info['channel']!r}).pipe(ops.flatten()), "
            "max_rows=100_000, fps=4)\ndisplay(frame)"
        )
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(setup),
            nbformat.v4.new_code_cell("1 + 1"),
            nbformat.v4.new_code_cell("print(frame.state.received, round(frame.rate))"),
        ]
        client = NotebookClient(nb, kernel_name="python3", timeout=60)
        latencies = []
        with client.setup_kernel():
            client.execute_cell(nb.cells[0], 0)
            time.sleep(2.0)
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                start = time.perf_counter()
                client.execute_cell(nb.cells[1], 1)
                latencies.append(time.perf_counter() - start)
                time.sleep(0.2)
            client.execute_cell(nb.cells[2], 2)
    received, rate = nb.cells[2].outputs[0]["text"].split()
    worst = max(latencies)
    print(
        f"kernel ingesting {int(rate):,} msg/s ({int(received):,} so far): a new cell answered in median "
        f"{statistics.median(latencies) * 1000:.0f} ms, worst {worst * 1000:.0f} ms over {len(latencies)} cells "
        f"(target < 500 ms: {'met' if worst < 0.5 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", default=["rate", "rows", "memory", "kernel"])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parts == ["_one"]:  # one contender, in this process (see run_one)
        print(json.dumps(contender(args.name)(json.loads(args.info), args.seconds)))
        return
    print("(CPU is this client process's user + system time per message; the sender runs in its own process)")
    for part in args.parts:
        if part == "rate":
            part_rate(args.seconds, args.rounds)
        elif part == "rows":
            part_rows()
        elif part == "memory":
            part_memory(args.messages)
        elif part == "kernel":
            part_kernel(args.seconds)
        else:
            parser.error(f"unknown part {part!r}")


if __name__ == "__main__":
    main()
