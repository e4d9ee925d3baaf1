"""Views say what went wrong in their own area: a failed stream, a field that never comes, the end of a stream."""

from __future__ import annotations

import html
from types import SimpleNamespace

import reactivex
from reactivex.subject import Subject

import streamkit as sk
from streamkit.errors import ConnectionLost
from streamkit.sim import MistSimulator

from ..connection.test_mist_client import wait_for


def notes(plot: sk.LivePlot) -> list[str]:
    """The messages across the plot area, as text (plotly gets them escaped, in lines of at most 90 characters)."""
    texts = [note.text for note in plot.figure.layout.annotations]
    assert all(len(line) <= 90 for text in texts for line in html.unescape(text).split("<br>")), texts
    return [html.unescape(text.replace("<br>", " ")) for text in texts]


def test_a_plot_of_a_field_no_record_has_names_the_fields_closest_first():
    records = [{"mac": f"m{i}", "rssi": -60 - i, "snr": 20, "_time": 1_795_455_844 + i} for i in range(6)]
    plot = sk.LivePlot(reactivex.from_iterable(records), x="_time", y="rssii", color="mac")
    [text] = notes(plot)
    assert text.startswith("no field 'rssii' in the 6 record(s) so far; fields: rssi, ")
    assert {"mac", "snr", "_time"} <= set(text.split("fields: ")[1].split(", "))
    assert plot.message == text and not plot.figure.data
    assert plot.figure.layout.title.text.endswith("· completed")


def test_a_plot_with_refused_credentials_says_so_on_the_chart():
    with MistSimulator(seed=3, interval=0.05, sites=1, aps=1) as sim:
        mist = sk.mist(url=sim.url, token="not-the-token")
        plot = sk.LivePlot(mist.subscribe(sim.channel("device_stats")), x="_time", y="cpu_util", fps=20)
        wait_for(lambda: plot.status == "error")
        wait_for(lambda: "the stream failed: AuthenticationError" in "".join(notes(plot)))
        mist.close()
    assert "MIST_API_TOKEN" in notes(plot)[0] and "not-the-token" not in notes(plot)[0]
    assert plot.figure.layout.title.text == "cpu_util · error"


def test_a_view_that_fails_after_its_first_draw_redraws_at_once():
    subject: Subject[dict] = Subject()
    plot = sk.LivePlot(subject, x="t", y="v", fps=0.1)  # its own timer would take 10 s
    frame = sk.LiveFrame(subject, fps=0.1)
    frame._widget = SimpleNamespace(value="")  # what a notebook cell would show
    _ = plot.figure
    subject.on_next({"t": 1_795_455_844, "v": 1})
    subject.on_next({"t": 1_795_455_845, "v": 2})
    subject.on_error(ConnectionLost("gave up on ws://x after 5 attempts: refused"))
    wait_for(lambda: "error" in frame._widget.value and notes(plot) != ["waiting for records…"], timeout=3)
    assert "✖ error" in frame._widget.value and "gave up on ws://x after 5 attempts" in frame._widget.value
    assert len(frame._widget.value.split("<tr")) == 4  # the header row and both records: the last data shown too
    assert notes(plot) == ["the stream failed: ConnectionLost: gave up on ws://x after 5 attempts: refused"]
    assert list(plot.figure.data[0].y) == [1, 2]
    assert plot.figure.layout.xaxis.type == "date"  # epoch seconds in "t": a date axis, by value


def test_a_view_redraws_when_its_stream_completes():
    subject: Subject[dict] = Subject()
    plot = sk.LivePlot(subject, x="n", y="v", fps=0.1)
    _ = plot.figure
    subject.on_next({"n": 1, "v": 5})
    subject.on_completed()
    wait_for(lambda: plot.figure.layout.title.text == "v · completed", timeout=3)
    assert notes(plot) == ["the stream ended"] and list(plot.figure.data[0].x) == [1]
    assert plot.figure.layout.xaxis.type != "date"  # small numbers are not times
