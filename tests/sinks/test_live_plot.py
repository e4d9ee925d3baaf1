"""LivePlot: pure per-trace state and the figure it draws (no kernel)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import reactivex

import streamkit as sk
from streamkit.sinks import PlotState


def test_one_trace_per_color_key_with_a_point_cap():
    state = PlotState(x="t", y="cpu", color="mac", kind="line", max_points=3, x_time=False)
    state.add([{"t": i, "cpu": i * 10, "mac": "a" if i % 2 else "b"} for i in range(10)])
    assert list(state.traces) == ["b", "a"]  # traces appear as keys do
    assert list(state.traces["a"][0]) == [5, 7, 9] and list(state.traces["a"][1]) == [50, 70, 90]
    assert state.take_changes() == {"a", "b"} and state.take_changes() == set()


def test_bar_keeps_the_latest_value_per_key_and_records_without_y_are_skipped():
    state = PlotState(x=None, y="clients", color="ap", kind="bar", max_points=10, x_time=False)
    state.add([{"ap": "x", "clients": 3}, {"ap": "y", "clients": 1}, {"ap": "x", "clients": 5}, {"ap": "z"}])
    assert dict(state.latest) == {"x": 5, "y": 1}
    assert state.skipped == 1


def test_time_axis_and_argument_errors():
    state = PlotState(x="_time", y="v", color=None, kind="scatter", max_points=5, x_time=True)
    state.add([{"_time": 0.0, "v": 1}])
    assert state.traces["v"][0][0] == datetime(1970, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="kind"):
        PlotState(x="t", y="v", color=None, kind="pie", max_points=5, x_time=False)
    with pytest.raises(ValueError, match="needs x"):
        PlotState(x=None, y="v", color=None, kind="line", max_points=5, x_time=False)


@pytest.mark.parametrize("kind", ["line", "scatter", "bar", "histogram"])
def test_the_figure_holds_the_state(kind, tmp_path):
    records = [{"t": i, "v": i % 4, "k": "ab"[i % 2]} for i in range(8)]
    plot = sk.LivePlot(reactivex.from_iterable(records), x="t", y="v", color="k", kind=kind, max_points=3)
    fig = plot.figure
    if kind == "bar":
        assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == [2, 3]  # latest of i=6 and i=7
    else:
        assert [t.name for t in fig.data] == ["a", "b"]
        values = fig.data[0].x if kind == "histogram" else fig.data[0].y
        assert list(values) == [2, 0, 2]  # the 3 newest of trace "a" (i = 2, 4, 6)
    page = plot.to_html(tmp_path / "plot.html")
    assert page.stat().st_size > 1_000_000  # plotly.js inlined: opens offline
