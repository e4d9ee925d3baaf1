"""Lifecycle of what streamkit runs: listed by sk.views(), stopped by sk.close_all(), replaced when the cell that
made it runs again (JupyterLab sends each cell's id with its execute request), closed at kernel shutdown; and the
pause/resume and stop controls above every view."""

from __future__ import annotations

import gc
import json
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel
from reactivex.subject import Subject

import streamkit as sk
from streamkit.notebook import framed
from streamkit.sim import MistSimulator


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s: {condition}")


def mine(objects: tuple[Any, ...], *, closed: bool = False) -> list[tuple[str, str]]:
    """(kind, state) of the entries of sk.views() that are among ``objects`` (other tests may leave things)."""
    return [(e.kind, e.state) for e in sk.views(closed=closed) if any(e.object is o for o in objects)]


# -- in this process, on loopback ---------------------------------------------------------------------------


def test_views_lists_a_simulator_a_client_and_a_frame_and_close_all_stops_them():
    sim = MistSimulator(seed=1, interval=0.05, sites=1, aps=2).start()
    mist = sk.mist(url=sim.url, token=sim.token)
    frame = sk.LiveFrame(mist.subscribe(sim.channel("device_stats")), key="mac")
    ours = (sim, mist, frame)
    wait_for(lambda: len(frame) >= 2)
    assert mine(ours) == [("LiveFrame", "live"), ("MistClient", "connected"), ("MistSimulator", "running")]
    listing = sk.views()
    entry = next(e for e in listing if e.object is frame)
    assert entry.role == "view" and "latest per mac" in entry.description and "received" in entry.description
    assert next(e for e in listing if e.object is mist).description.startswith(sim.url)
    text, page = repr(listing), listing._repr_html_()
    assert "LiveFrame" in text and "MistSimulator" in text and "sk.close_all()" in text
    assert "<table" in page and "MistClient" in page
    assert sim.token not in text + page  # no credential in the listing
    assert list(listing.df.columns) == ["kind", "role", "state", "description", "cell"]

    closed = sk.close_all()
    assert [(e.kind, e.state) for e in closed if any(e.object is o for o in ours)] == [
        ("LiveFrame", "closed"),
        ("MistClient", "closed"),
        ("MistSimulator", "stopped"),
    ]
    assert repr(closed).startswith("stopped ")
    assert not sim.running and mist.state == "closed" and frame.status == "closed"
    assert len(frame.df) >= 2  # what was collected stays readable
    assert mine(ours) == []  # nothing of it is running
    assert len(mine(ours, closed=True)) == 3  # but it is still there while referenced
    assert not [e for e in sk.close_all() if any(e.object is o for o in ours)]  # closing again: nothing to do


def test_registration_is_weak_a_dropped_view_leaves_the_list():
    source: Subject[Any] = Subject()
    frame = sk.LiveFrame(source)
    plot = sk.LivePlot(source, x="t", y="v")
    shown = framed(plot, ipywidgets.HTML())  # controls hold the view weakly too
    refs = [weakref.ref(frame), weakref.ref(plot)]
    assert len(mine((frame, plot))) == 2
    del frame, plot
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    assert not [e for e in sk.views(closed=True) if e.object is None]
    assert not source.observers  # the collected views unsubscribed
    shown.close()


# -- the controls -------------------------------------------------------------------------------------------


def controls_of(view: Any) -> tuple[Any, ipywidgets.ToggleButton, ipywidgets.Button, ipywidgets.HTML]:
    body = ipywidgets.HTML("body")
    box = framed(view, body, every=0.02)
    bar, shown = box.children
    assert shown is body
    toggle, stop, status = bar.children
    return box, toggle, stop, status


def test_the_toggle_pauses_and_resumes_and_stop_closes_the_view():
    source: Subject[Any] = Subject()
    frame = sk.LiveFrame(source)
    box, toggle, stop, status = controls_of(frame)
    assert framed(frame, box.children[1]) is box  # the same controls for the same view and body
    assert (toggle.value, toggle.description, toggle.disabled, stop.disabled) == (False, "Pause", False, False)
    assert "live" in status.value
    toggle.value = True
    assert frame.paused and frame.status == "paused"
    assert toggle.description == "Resume" and "paused" in status.value
    toggle.value = False
    assert not frame.paused and frame.status == "live" and toggle.description == "Pause"
    stop.click()
    assert frame.closed and not source.observers  # stop disposes the subscription
    assert toggle.disabled and stop.disabled and "closed" in status.value


def test_the_controls_follow_changes_made_in_code_and_by_the_stream():
    source: Subject[Any] = Subject()
    plot = sk.LivePlot(source, x="t", y="v")
    _, toggle, stop, status = controls_of(plot)
    plot.pause()  # e.g. in another cell
    wait_for(lambda: toggle.value and toggle.description == "Resume" and "paused" in status.value)
    plot.resume()
    wait_for(lambda: not toggle.value and "live" in status.value)
    source.on_error(ValueError("the <feed> broke"))
    wait_for(lambda: "error" in status.value)
    assert "ValueError: the &lt;feed&gt; broke" in status.value  # escaped
    assert toggle.disabled and not stop.disabled  # nothing to pause; stop still ends its timer
    plot.close()
    wait_for(lambda: stop.disabled and "error · closed" in status.value)

    ended: Subject[Any] = Subject()
    frame = sk.LiveFrame(ended)
    _, toggle, stop, status = controls_of(frame)
    ended.on_completed()
    wait_for(lambda: "completed" in status.value and toggle.disabled)
    frame.close()


def test_the_health_view_has_the_same_controls():
    with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim, sk.mist(url=sim.url, token=sim.token) as mist:
        view = sk.health(mist)
        assert mine((view,)) == [("Health", "live")]
        _, toggle, stop, _status = controls_of(view)
        toggle.value = True
        assert view.paused and view.status == "paused"
        toggle.value = False
        stop.click()
        assert view.closed and view.status == "closed" and stop.disabled
        assert mist.state != "closed"  # stopping the view leaves its client alone


# -- in a real kernel ---------------------------------------------------------------------------------------


class Kernel:
    """A real IPython kernel driven the way JupyterLab drives it: each execute request carries the cell's id in
    its metadata (``cellId``)."""

    def __init__(self) -> None:
        self.km: KernelManager
        self.kc: BlockingKernelClient
        self.km, self.kc = start_new_kernel(kernel_name="python3")

    def run(self, code: str, cell_id: str | None = None, timeout: float = 60) -> str:
        """Run ``code`` as cell ``cell_id``; its printed output. Raises on an error in the cell."""
        return self.wait(self.send(code, cell_id), timeout)

    def send(self, code: str, cell_id: str | None = None) -> str:
        """Ask the kernel to run ``code`` as cell ``cell_id`` without waiting (as Run All queues cells); the
        request's id, for :meth:`wait`."""
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        metadata = {"cellId": cell_id, "deletedCells": [], "recordTiming": False} if cell_id else {}
        msg = self.kc.session.msg("execute_request", content, metadata=metadata)
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def wait(self, msg_id: str, timeout: float = 60) -> str:
        """The printed output of the request ``msg_id`` once it has run (other requests' outputs are skipped).
        Raises on an error in the cell."""
        printed, errors = [], []
        while True:
            out = self.kc.get_iopub_msg(timeout=timeout)
            if out["parent_header"].get("msg_id") != msg_id:
                continue
            kind, body = out["msg_type"], out["content"]
            if kind == "status" and body["execution_state"] == "idle":
                break
            if kind == "stream":
                printed.append(body["text"])
            elif kind == "error":
                errors.append("\n".join(body["traceback"]))
        assert not errors, errors[0]
        return "".join(printed)

    def json(self, code: str) -> Any:
        return json.loads(self.run(f"print(json.dumps({code}))"))

    def shutdown(self) -> None:
        """Shut the kernel down as JupyterLab does (a shutdown request; the process exits by itself)."""
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    kernel = Kernel()
    try:
        yield kernel
    finally:
        if kernel.km.is_alive():
            kernel.shutdown()


SETUP = """
import json, streamkit as sk
from streamkit.notebook.controls import _framed
sim = sk.MistSimulator(seed=4, interval=0.02, sites=1, aps=4).start()
mist = sk.mist(url=sim.url, token=sim.token)
rows = mist.subscribe(sim.channel('device_stats')).pipe(sk.ops.flatten())
"""
RUNNING = "[(e.kind, e.state) for e in sk.views()]"
FRAMES_IN_OUT = "[str(o.status) for o in Out.values() if isinstance(o, sk.LiveFrame)]"


@pytest.mark.timeout(180)
def test_running_a_cell_again_stops_what_its_previous_run_made(kernel: Kernel):
    kernel.run(SETUP, "setup-cell")
    for _ in range(3):  # the output history (Out, _) holds on to every frame shown
        count = kernel.run(
            "frame = sk.LiveFrame(rows, key='mac')\nprint(get_ipython().execution_count)\nframe", "frame-cell"
        )
        wait_for(lambda: kernel.json("frame.grid.table is not None"), timeout=10)  # its grid shows rows
    time.sleep(0.5)
    assert kernel.json(FRAMES_IN_OUT) == ["closed", "closed", "live"]
    assert kernel.json(RUNNING) == [["LiveFrame", "live"], ["MistClient", "connected"], ["MistSimulator", "running"]]
    assert kernel.json("[e.cell for e in sk.views()]")[0] == f"[{int(count)}]"  # the run that made the frame: In[n]
    first = kernel.json("frame.state.received")
    time.sleep(0.5)
    assert kernel.json("frame.state.received") > first  # the frame that stays keeps updating
    # the replaced frames' grids gave back their tables (the rows stay in their state); the live one has its own
    tables = "[name for name in __import__('perspective').GLOBAL_CLIENT.get_hosted_table_names()]"
    assert kernel.json(tables) == [kernel.json("frame.grid.table.get_name()")]
    assert kernel.json("[f.grid.released and len(f) > 0 for f in Out.values() if isinstance(f, sk.LiveFrame)]") == [
        True,
        True,
        False,
    ]

    # the widget of a replaced frame says so: its controls show it closed
    kernel.run("plot = sk.LivePlot(rows, x='_time', y='cpu_util')\nplot", "plot-cell")
    kernel.run("old_plot = plot", "keep-cell")
    kernel.run("plot = sk.LivePlot(rows, x='_time', y='cpu_util')\nplot", "plot-cell")
    time.sleep(0.5)
    status = "_framed[old_plot][1].children[0].children[2].value"
    assert "closed" in kernel.json(status) and "live" in kernel.json(status.replace("old_plot", "plot"))
    assert kernel.json("type(_framed[plot][1].children[1]).__name__") == "FigureWidget"

    # running the setup cell again stops its old simulator and client; views fed by that client complete
    kernel.run("old_sim, old_mist = sim, mist", "keep-cell")
    kernel.run(SETUP, "setup-cell")
    time.sleep(0.5)
    assert kernel.json("[old_sim.running, str(old_mist.state), str(frame.status), sim.running]") == [
        False,
        "closed",
        "completed",
        True,
    ]
    assert kernel.json(RUNNING) == [
        ["LiveFrame", "completed"],
        ["LivePlot", "completed"],
        ["MistClient", "idle"],  # the new one: nothing subscribed yet
        ["MistSimulator", "running"],
    ]

    # a simulator is stopped at once: the cell that starts it again (or another on its port) runs as it did
    kernel.run("fixed = sk.MistSimulator(seed=1, port=0).start()", "fixed-cell")
    port = kernel.json("fixed.port")
    kernel.run(f"fixed = sk.MistSimulator(seed=1, port={port}).start()", "fixed-cell")
    kernel.run("fixed.stop()", "stop-cell")
    for _ in range(2):
        kernel.run("fixed.start()", "start-cell")
    assert kernel.json("[fixed.running, fixed.port]") == [True, port]
    kernel.run("fixed.stop()")

    # without a cell id (a classic front end, nbclient) nothing is replaced
    kernel.run("frame = sk.LiveFrame(rows)\nframe")
    kernel.run("frame = sk.LiveFrame(rows)\nframe")
    time.sleep(0.3)
    assert kernel.json(RUNNING).count(["LiveFrame", "live"]) == 2

    # sk.close_all() stops the lot; the clients and simulators finish closing as soon as the cell returns
    printed = kernel.run("print(sk.close_all())")
    assert printed.startswith("stopped 4 views, 1 client, 1 simulator"), printed
    wait_for(lambda: kernel.json(RUNNING) == [], timeout=10)
    assert kernel.json("[str(mist.state), sim.running, str(frame.status)]") == ["closed", False, "closed"]


@pytest.mark.timeout(120)
def test_run_all_runs_every_queued_cell_after_one_that_waits_on_the_stream(kernel: Kernel):
    """Run All queues every cell at once. A cell that waits for the stream (``mist.sites()``, ``sk.collect``)
    runs the kernel's loop inside itself; that loop must leave the queued cells to the kernel, not start and
    drop them (ipykernel 7 runs every cell in one shared context)."""
    kernel.run(SETUP, "setup-cell")
    first = kernel.send("sites = mist.sites()\nrecords = sk.collect(rows, count=5, timeout=10)", "wait-cell")
    rest = [kernel.send(f"print('cell', {n}, len(sites), len(records))", f"cell-{n}") for n in range(3)]
    kernel.wait(first, timeout=30)
    assert [kernel.wait(msg_id, timeout=30) for msg_id in rest] == [f"cell {n} 1 5\n" for n in range(3)]


@pytest.mark.timeout(120)
def test_shutting_the_kernel_down_closes_its_clients(kernel: Kernel, tmp_path: Path):
    ended = tmp_path / "ended.txt"
    with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:  # outside the kernel: it sees the close
        kernel.run(
            "import streamkit as sk\n"
            f"mist = sk.mist(url={sim.url!r}, token={sim.token!r})\n"
            f"rows = mist.subscribe({sim.channel('device_stats')!r})\n"
            f"rows.subscribe(on_completed=lambda: open({str(ended)!r}, 'w').write('completed'))\n"
            "frame = sk.LiveFrame(rows)\nframe",
            "cell-1",
        )
        wait_for(lambda: sim.open_connections == 1 and sim.counts["frames"] > 10)
        kernel.shutdown()
        assert not kernel.km.is_alive()
        # the client was closed (its streams completed) before the process went away
        assert ended.read_text() == "completed"
        wait_for(lambda: sim.open_connections == 0)
