"""LiveFrame and LivePlot in a real kernel: they keep updating while the kernel is idle, within their fps."""

from __future__ import annotations

import itertools
import json
import time

import nbformat
from nbclient import NotebookClient

from .kernel import text

SETUP = """
import json, streamkit as sk
from streamkit import ops
sim = sk.MistSimulator(seed=4, interval=0.02, sites=1, aps=4).start()
mist = sk.mist(url=sim.url, token=sim.token)
rows = mist.subscribe(sim.channel('device_stats')).pipe(ops.flatten())
frame = sk.LiveFrame(rows, max_rows=100_000, fps=4)
plot = sk.LivePlot(rows, x='_time', y='cpu_util', color='mac', fps=4)
table = sk.LiveFrame(rows, key='mac', sort_by='-cpu_util', columns=['mac', 'cpu_util', 'uptime'], fps=4)
display(frame, plot, table)
"""
PROBE = """
print(json.dumps({"rows": len(frame.df), "points": sum(len(t.y or ()) for t in plot.figure.data),
                  "frame_renders": frame.renders, "plot_renders": plot.renders,
                  "frame_rows": frame._widget.value.count('<tr'), "html": table._widget.value}))
"""


def test_frame_and_figure_grow_while_the_kernel_is_idle_and_respect_fps():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, PROBE, PROBE, "mist.close(); sim.stop()")]
    client = NotebookClient(nb, kernel_name="python3", timeout=60)
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        time.sleep(1.5)  # the kernel is idle: only its event loop runs
        client.execute_cell(nb.cells[1], 1)
        time.sleep(1.5)
        client.execute_cell(nb.cells[2], 2)
        client.execute_cell(nb.cells[3], 3)
    outputs = nb.cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["display_data"] * 3
    assert all("application/vnd.jupyter.widget-view+json" in o["data"] for o in outputs)  # live widgets
    first, second = (json.loads(text(nb.cells[i].outputs)) for i in (1, 2))
    assert 0 < first["rows"] < second["rows"]  # grew between cells, with no cell running
    assert 0 < first["points"] < second["points"]
    assert second["frame_rows"] > 1  # the table widget shows rows
    html = second["html"]  # the keyed table: the chosen columns only, highest CPU first
    assert "<th>mac</th>" in html and "cpu_util" in html and "_partition" not in html and "last_seen" not in html
    for key in ("frame_renders", "plot_renders"):
        renders = second[key]
        assert len(renders) >= 4
        gaps = [b - a for a, b in itertools.pairwise(renders)]
        assert min(gaps) >= 1 / 4 * 0.9, gaps  # never more often than fps=4
