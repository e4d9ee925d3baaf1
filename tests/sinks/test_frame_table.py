"""The HTML table of a LiveFrame: chosen columns, sort over every row held, readable values, changed cells,
and what it says when there is nothing to show."""

from __future__ import annotations

import re

import reactivex
from reactivex.subject import Subject

import streamkit as sk


def cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]


def test_sort_by_takes_the_top_rows_of_everything_held_and_columns_hide_the_rest():
    source: Subject = Subject()
    frame = sk.LiveFrame(source, key="ap", sort_by="-cpu", columns=["ap", "cpu"], show=2)
    for i, cpu in enumerate([5, 90, 12, 70, 3]):
        source.on_next({"ap": f"ap-{i}", "cpu": cpu, "_partition": 7})
    shown = cells(frame._repr_html_())
    assert shown == [["ap-1", "90"], ["ap-3", "70"]]  # the two highest of all five, not of the newest two
    assert "_partition" not in frame._repr_html_()
    frame.close()


def test_values_read_well_and_internal_fields_are_hidden_by_default():
    source: Subject = Subject()
    frame = sk.LiveFrame(source, show=5)
    source.on_next({"ap": "a", "n": 5.0, "ratio": 0.123456, "seen": 1_795_455_844, "_offset": 42, "note": None})
    html = frame._repr_html_()
    assert cells(html) == [["a", "5", "0.123", "17:44:04", "-"]]
    assert "_offset" not in html and "<th class='sk-num'>n</th>" in html
    frame.close()


def test_a_keyed_table_marks_the_cells_that_changed_not_the_whole_row():
    source: Subject = Subject()
    frame = sk.LiveFrame(source, key="ap", show=5)
    source.on_next({"ap": "a", "cpu": 1, "mem": 10})
    frame._repr_html_()
    source.on_next({"ap": "a", "cpu": 2, "mem": 10})
    html = frame._repr_html_()
    assert html.split("<tbody>")[1].count("sk-new") == 1 and re.search(r"<td class='sk-num sk-new'>2</td>", html)
    frame.close()


def test_an_empty_table_says_why():
    failed = sk.LiveFrame(reactivex.throw(RuntimeError("token refused")))
    assert "the stream failed" in failed._repr_html_() and "token refused" in failed._repr_html_()
    done = sk.LiveFrame(reactivex.empty())
    assert "completed empty" in done._repr_html_()
    waiting = sk.LiveFrame(reactivex.never())
    assert "waiting for records" in waiting._repr_html_()
    for frame in (failed, done, waiting):
        frame.close()


def test_a_chosen_column_no_row_has_is_named_with_the_closest_fields():
    source: Subject = Subject()
    frame = sk.LiveFrame(source, columns=["mac", "nmae"])
    source.on_next({"mac": "a", "name": "ap-1"})
    assert "no field &#x27;nmae&#x27; in the rows so far; fields: name" in frame._repr_html_()
    frame.close()


def test_the_table_reads_as_a_report_does_window_bounds_as_one_label_flags_and_gaps_as_they_are():
    """The live table is drawn from the rows without a DataFrame; it must read as reports.readable reads the same
    rows as a DataFrame."""
    import pandas as pd

    from streamkit.sinks.reports import readable

    source: Subject = Subject()
    frame = sk.LiveFrame(source, show=5)
    start = pd.Timestamp(1_795_455_840, unit="s", tz="UTC")
    rows = [
        {"window_start": start, "window_end": start + pd.Timedelta(seconds=10), "ap": "a", "n": 3, "time": True},
        {"window_start": start, "window_end": start + pd.Timedelta(seconds=10), "ap": "b", "n": None, "time": False},
    ]
    source.on_next(pd.DataFrame(rows))
    html = frame._repr_html_()
    assert re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html) == ["window", "ap", "n", "time"]
    shown = cells(html)
    assert shown == [
        ["17:44:00\N{EN DASH}17:44:10", "b", "-", "False"],
        ["17:44:00\N{EN DASH}17:44:10", "a", "3", "True"],
    ]
    report = readable(pd.DataFrame(rows[::-1]))[0]  # newest first, as the table shows them
    assert report.columns.tolist() == ["window", "ap", "n", "time"] and report["window"].tolist() == [
        r[0] for r in shown
    ]
    frame.close()


def test_a_gap_in_a_time_column_and_numpy_numbers_read_as_in_any_other_row():
    """Rows sorted through a DataFrame (sort_by) carry pandas' NaT for a missing time; records may carry numpy
    numbers: the time column stays times, the numbers stay numbers."""
    from datetime import datetime, timezone

    import numpy as np

    source: Subject = Subject()
    frame = sk.LiveFrame(source, sort_by="n", show=5)
    source.on_next({"n": 1, "seen": datetime(2026, 11, 23, 17, 44, 4, tzinfo=timezone.utc)})
    source.on_next({"n": 2})
    assert cells(frame._repr_html_()) == [["1", "17:44:04"], ["2", ""]]
    frame.close()
    source = Subject()
    frame = sk.LiveFrame(source, show=5)
    source.on_next({"n": 1, "bytes": np.int64(1234567), "load": np.float32(0.5)})
    html = frame._repr_html_()
    assert cells(html) == [["1", "1,234,567", "0.5"]] and html.count("<th class='sk-num'>") == 3
    frame.close()
