"""LiveFrame and LivePlot in a real kernel: they keep updating while the kernel is idle, within their fps; the
grid's table follows the frame's rows."""

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
table = sk.LiveFrame(rows, key='mac', sort_by='-cpu_util', columns=['mac', 'cpu_util', 'uptime'], grid=False, fps=4)
top = sk.LiveFrame(rows, key='mac', sort_by='-cpu_util', columns=['mac', 'cpu_util', 'uptime'], fps=4)
display(frame, plot, table, top)
"""
PROBE = """
held = top.df[["mac", "cpu_util"]].to_dict("records")  # what the frame holds; then the grid is brought up to it
top.grid.sync()
print(json.dumps({"rows": len(frame.df), "points": sum(len(t.y or ()) for t in plot.figure.data),
                  "frame_renders": frame.renders, "plot_renders": plot.renders,
                  "grid_rows": frame.grid.table.size(), "held": len(frame), "html": table._widget.value,
                  "top": top.grid.records(), "top_df": held,
                  "top_view": [top.grid.widget.columns, top.grid.widget.sort]}))
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
    assert [o["output_type"] for o in outputs] == ["display_data"] * 4
    assert all("application/vnd.jupyter.widget-view+json" in o["data"] for o in outputs)  # live widgets
    first, second = (json.loads(text(nb.cells[i].outputs)) for i in (1, 2))
    assert 0 < first["rows"] < second["rows"]  # grew between cells, with no cell running
    assert 0 < first["points"] < second["points"]
    assert 0 < first["grid_rows"] < second["grid_rows"] <= second["held"]  # the grid's table follows the frame
    assert second["top_view"] == [["mac", "cpu_util", "uptime"], [["cpu_util", "desc"]]]
    in_grid = {row["mac"]: row["cpu_util"] for row in second["top"]}  # the keyed grid: one row per AP, in step
    assert len(in_grid) == len(second["top_df"]) >= 4
    assert all(in_grid[row["mac"]] == row["cpu_util"] for row in second["top_df"])
    html = second["html"]  # the keyed table: the chosen columns only, highest CPU first
    assert "<th>mac</th>" in html and "cpu_util" in html and "_partition" not in html and "last_seen" not in html
    for key in ("frame_renders", "plot_renders"):
        renders = second[key]
        assert len(renders) >= 4
        gaps = [b - a for a, b in itertools.pairwise(renders)]
        assert min(gaps) >= 1 / 4 * 0.9, gaps  # never more often than fps=4
