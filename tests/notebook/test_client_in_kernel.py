"""Live subscriptions inside a Jupyter kernel: everything on the kernel's loop thread, cells never block."""

from __future__ import annotations

from .kernel import run_cells, text


def test_subscribe_await_and_collect_in_a_notebook():
    outputs = run_cells(
        "import asyncio, threading, time\n"
        "import streamkit as sk\n"
        "sim = sk.MistSimulator(seed=1, interval=0.05).start()\n"
        "mist = sk.mist(url=sim.url, token=sim.token)\n"
        "rows, threads = [], set()\n"
        "def on_row(r):\n"
        "    rows.append(r); threads.add(threading.current_thread().name)\n"
        "t = time.perf_counter()\n"
        "sub = mist.subscribe(sim.channel('device_stats')).subscribe(on_row)\n"
        "print(f'{time.perf_counter() - t:.3f}', len(rows))",
        "await asyncio.sleep(1.0)\nprint(len(rows) > 5, sorted(threads))",
        "more = sk.collect(mist.subscribe(sim.channel('client_stats')), count=3, timeout=10)\n"
        "print(len(more), more[0].origin == sim.channel('client_stats'))",
        "names = sorted(t.name for t in threading.enumerate())\nprint('streamkit-loop' in names)",
        "sub.dispose(); mist.close(); sim.stop()\nawait asyncio.sleep(0.2)\nprint(mist.state, sim.running)",
    )
    seconds, count = text(outputs[0]).split()
    assert float(seconds) < 0.2 and count == "0"  # subscribing returned at once; nothing arrives inside the cell
    assert text(outputs[1]).strip() == "True ['MainThread']"  # observers ran on the kernel's thread
    assert text(outputs[2]).split() == ["3", "True"]
    assert text(outputs[3]).strip() == "False"  # no thread of ours in a kernel
    assert text(outputs[4]).strip() == "closed False"
