"""The simulators inside a Jupyter kernel: start() returns at once and the server runs on the kernel loop."""

from __future__ import annotations

from .kernel import run_cells, text


def test_simulator_starts_in_a_cell_without_blocking_and_serves_between_cells():
    outputs = run_cells(
        "import time, threading\n"
        "from streamkit.sim import MistSimulator\n"
        "t = time.perf_counter()\n"
        "sim = MistSimulator(seed=1, interval=0.05).start()\n"
        "print(f'start took {time.perf_counter() - t:.3f}s', sim.running, threading.active_count())",
        # top-level await runs on the kernel's loop, which also runs the server
        "import json\n"
        "from websockets.asyncio.client import connect\n"
        "async with connect(sim.url, additional_headers=sim.headers) as ws:\n"
        "    await ws.send(json.dumps({'subscribe': sim.channel('device_stats')}))\n"
        "    ack = json.loads(await ws.recv())\n"
        "    rec = json.loads(json.loads(await ws.recv())['data'])\n"
        "print(ack['event'], rec['mac'][:6])",
        "sim.stop()\nprint('stopped')",
    )
    first = text(outputs[0]).split()
    assert float(first[2].rstrip("s")) < 0.5
    assert first[3] == "True"
    assert text(outputs[1]).split() == ["channel_subscribed", "5c5b35"]
    assert text(outputs[2]).strip() == "stopped"
