"""Soak: a busy stream through windows, a join and a LiveFrame, watched for memory growth and leaks.

CI runs a bounded version (20 s); the long run is ``STREAMKIT_SOAK_SECONDS=3600 pytest -m slow tests/faults``.
The simulator runs in its own process (``streamkit sim``) so that it does not share this process's GIL.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

import streamkit as sk
from streamkit import ops, runtime

SECONDS = float(os.environ.get("STREAMKIT_SOAK_SECONDS", "20"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tasks() -> int:
    loop = runtime.get_loop()
    return runtime.run(asyncio.sleep(0, result=len(asyncio.all_tasks(loop)))) if loop.is_running() else 0


@pytest.mark.slow
@pytest.mark.timeout(SECONDS * 3 + 120)
def test_soak_pipeline_with_windows_join_and_live_frame():
    command = [sys.executable, "-m", "streamkit", "sim", "mist", "--json", "--interval", "0.02",
               "--sites", "1", "--aps", "60", "--clients", "120"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as sim:
        try:
            rate, growth = soak(sim)
        finally:
            sim.terminate()
    time.sleep(0.5)
    print(f"soak: {SECONDS:.0f} s at {rate:,.0f} msg/s, RSS growth {growth:+.1f} MB")
    assert rate > 2_000  # a busy stream (bench/ figures say how busy this machine allows)
    assert growth < 50


def soak(sim: subprocess.Popen[str]) -> tuple[float, float]:
    assert sim.stdout is not None
    info = json.loads(sim.stdout.readline())
    tasks_before = tasks()  # (starts streamkit's loop thread, whose own descriptors stay)
    fds_before = len(os.listdir("/proc/self/fd"))
    mist = sk.mist(url=info["url"], token=info["token"])
    devices = mist.subscribe(info["channels"]["device_stats"]).pipe(ops.flatten())
    clients = mist.subscribe(info["channels"]["client_stats"])
    per_ap = clients.pipe(ops.tumbling(1.0), ops.aggregate(by="ap_mac", clients=("mac", "nunique")))
    joined = clients.pipe(ops.with_latest(devices, on=("ap_mac", "mac"), suffix="_ap"))
    frame = sk.LiveFrame(joined, key="mac", max_rows=10_000)
    windows = sk.LiveFrame(per_ap, max_rows=5_000)
    time.sleep(min(5.0, SECONDS / 4))  # warm up: buffers reach their bounds
    gc.collect()
    start_rss, start_count, started = rss_mb(), mist.stats.messages, time.monotonic()
    time.sleep(SECONDS)
    gc.collect()
    growth = rss_mb() - start_rss
    rate = (mist.stats.messages - start_count) / (time.monotonic() - started)
    held, window_rows = len(frame), len(windows)
    mist.close()
    frame.close()
    windows.close()
    time.sleep(0.5)
    assert held >= 100 and window_rows > 0, (held, window_rows)
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2  # no socket or file left open
    assert tasks() <= tasks_before  # no task left running
    return rate, growth
