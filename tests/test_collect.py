"""sk.collect stopped by Ctrl-C: the records collected so far survive, and the traceback is the user's own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = """
import asyncio
import streamkit as sk
from streamkit.sim import MistSimulator

sim = MistSimulator(seed=1, interval=0.02, sites=1, aps=2).start()
mist = sk.mist(url=sim.url, token=sim.token)
devices = mist.subscribe(sim.channel("device_stats"))
told = []
devices.subscribe(lambda record: len(told) < 20 and (told.append(1) or print("record", flush=True)))

def main():
    try:
        sk.collect(devices, count=1_000_000, timeout=600)
    except sk.CollectInterrupted as stop:
        print("kept", len(stop.records), isinstance(stop, KeyboardInterrupt), flush=True)
        if {reraise}:
            raise
    finally:
        mist.close()
        sim.stop()

{run}
"""

RUNS = {
    "script": "main()",  # streamkit's loop thread does the work; the main thread waits
    "kernel": "async def cell():\n    main()\nasyncio.new_event_loop().run_until_complete(cell())",  # as in Jupyter
}


@pytest.mark.parametrize("where", sorted(RUNS))
@pytest.mark.parametrize("reraise", [False, True])
def test_ctrl_c_keeps_what_was_collected_without_the_loops_traceback(where, reraise):
    code = textwrap.dedent(SCRIPT).format(reraise=reraise, run=RUNS[where])
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for _ in range(20):  # records are flowing into collect
            assert proc.stdout.readline() == "record\n", proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    kept = [line.split() for line in out.splitlines() if line.startswith("kept")]
    assert kept and int(kept[0][1]) >= 10 and kept[0][2] == "True", (out, err)
    if reraise:
        assert proc.returncode != 0
        assert "streamkit.errors.CollectInterrupted: interrupted after collecting" in err
        ours = err.split("in cell\n", 1)[-1]  # the kernel's own frames come before the cell's (as in Jupyter)
        assert "asyncio" not in ours, err  # no event loop or nest_asyncio internals after the user's frames
        assert ours.count('File "') <= 3 and ours.count("streamkit") == 2, err  # main(), collect's own raise
    else:
        assert proc.returncode == 0 and "Traceback" not in err, err
