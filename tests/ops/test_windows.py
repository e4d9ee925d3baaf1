from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit.ops import Window, count_window, event_windows, session, sliding, tumbling

from .vt import on_completed, on_next, run, values


def test_count_tumbling_flushes_the_partial_last_window():
    got = run([(210 + i, i) for i in range(7)], lambda s: count_window(3), complete_at=220)
    assert got == [
        on_next(212, Window(0, 3, [0, 1, 2], by_count=True)),
        on_next(215, Window(3, 6, [3, 4, 5], by_count=True)),
        on_next(220, Window(6, 7, [6], by_count=True)),
        on_completed(220),
    ]


def brute_count(items: list[int], size: int, step: int) -> list[list[int]]:
    return [items[s : s + size] for s in range(0, len(items), step)]


@given(st.lists(st.integers(), max_size=60), st.integers(1, 8), st.integers(1, 8))
@settings(max_examples=200, deadline=None)
def test_count_windows_match_a_brute_force_reference(items, size, step):
    got = values(run([(201 + i, x) for i, x in enumerate(items)], lambda s: count_window(size, step), complete_at=500))
    assert [w.items for w in got] == brute_count(items, size, step)
    assert [(w.start, w.end) for w in got] == [
        (s, s + len(w.items)) for s, w in zip(range(0, len(items), step), got, strict=True)
    ]


def test_tumbling_processing_time_windows_with_exact_boundaries():
    got = run(
        [(205, "a"), (212, "b"), (219, "c"), (221, "d"), (235, "e")],
        lambda s: tumbling(10, scheduler=s),
        complete_at=237,
    )
    assert got == [
        on_next(210, Window(200, 210, ["a"])),
        on_next(220, Window(210, 220, ["b", "c"])),
        on_next(230, Window(220, 230, ["d"])),
        on_next(237, Window(230, 240, ["e"])),
        on_completed(237),
    ]


def test_tumbling_boundary_record_belongs_to_the_next_window_and_empty_windows_on_request():
    got = run([(210, "edge"), (241, "late")], lambda s: tumbling(10, scheduler=s, emit_empty=True), complete_at=245)
    assert values(got) == [
        Window(200, 210, []),
        Window(210, 220, ["edge"]),
        Window(220, 230, []),
        Window(230, 240, []),
        Window(240, 250, ["late"]),
    ]
    quiet = values(run([(210, "edge"), (241, "late")], lambda s: tumbling(10, scheduler=s), complete_at=245))
    assert [w.items for w in quiet] == [["edge"], ["late"]]


def test_sliding_processing_time_windows():
    got = run([(205, 1), (212, 2), (227, 3)], lambda s: sliding(20, every=10, scheduler=s), complete_at=241)
    assert got[:4] == [
        on_next(210, Window(190, 210, [1])),
        on_next(220, Window(200, 220, [1, 2])),
        on_next(230, Window(210, 230, [2, 3])),
        on_next(240, Window(220, 240, [3])),
    ]


@given(st.lists(st.floats(201, 400, allow_nan=False), max_size=40), st.sampled_from([(10, 10), (20, 5), (15, 10)]))
@settings(max_examples=150, deadline=None)
def test_time_windows_match_a_brute_force_reference(times, shape):
    seconds, every = shape
    timed = sorted((round(t, 3), i) for i, t in enumerate(times))
    got = values(run(timed, lambda s: sliding(seconds, every, scheduler=s, emit_empty=True), complete_at=401))
    for w in got[:-1]:  # the last is the flush at completion
        assert w.items == [x for t, x in timed if w.start <= t < w.end]
    if every == seconds:  # tumbling: every record in exactly one window
        placed = [x for w in got for x in w.items]
        assert sorted(placed) == sorted(x for _, x in timed)


def test_event_time_windows_watermark_and_late_side_output():
    windows = event_windows("_time", size=10)
    late: list[dict] = []
    windows.late.subscribe(late.append)
    records = [{"_time": t, "n": i} for i, t in enumerate([1, 5, 12, 3, 25])]
    got = run([(201 + i, r) for i, r in enumerate(records)], lambda s: windows, complete_at=300)
    assert got == [
        on_next(203, Window(0, 10, [records[0], records[1]])),  # closed by the record at t=12
        on_next(205, Window(10, 20, [records[2]])),  # closed by t=25
        on_next(300, Window(20, 30, [records[4]])),  # flushed at completion
        on_completed(300),
    ]
    assert late == [records[3]] and windows.late_count == 1  # t=3 came after [0, 10) closed


def test_allowed_lateness_keeps_windows_open_longer():
    windows = event_windows("_time", size=10, allowed_lateness=5)
    records = [{"_time": t} for t in [1, 12, 3, 16]]
    got = values(run([(201 + i, r) for i, r in enumerate(records)], lambda s: windows, complete_at=300))
    assert got[0] == Window(0, 10, [records[0], records[2]])  # t=3 was not late: the watermark was 7
    assert windows.late_count == 0


def test_sliding_and_keyed_event_windows():
    windows = event_windows("t", size=10, slide=5, key="ap")
    records = [{"t": 7, "ap": "x"}, {"t": 8, "ap": "y"}, {"t": 30, "ap": "x"}]
    got = values(run([(201 + i, r) for i, r in enumerate(records)], lambda s: windows, complete_at=300))
    assert [(w.start, w.end, w.key, len(w)) for w in got[:4]] == [
        (0, 10, "x", 1),
        (0, 10, "y", 1),
        (5, 15, "x", 1),
        (5, 15, "y", 1),
    ]


def test_records_without_event_time_are_counted_not_lost():
    windows = event_windows("_time", size=10)
    late: list[dict] = []
    windows.late.subscribe(late.append)
    run([(201, {"x": 1}), (202, {"_time": "nope"})], lambda s: windows, complete_at=300)
    assert windows.skipped == 2 and len(late) == 2


def test_processing_time_sessions_per_key():
    recs = {"a1": {"mac": "a"}, "a2": {"mac": "a"}, "b1": {"mac": "b"}, "a3": {"mac": "a"}}
    timed = [(205, recs["a1"]), (210, recs["a2"]), (212, recs["b1"]), (230, recs["a3"])]
    got = run(timed, lambda s: session("mac", gap=10, scheduler=s), complete_at=235)
    assert got == [
        on_next(220, Window(205, 220, [recs["a1"], recs["a2"]], "a")),
        on_next(222, Window(212, 222, [recs["b1"]], "b")),
        on_next(235, Window(230, 240, [recs["a3"]], "a")),
        on_completed(235),
    ]


def test_event_time_sessions():
    recs = [{"k": "a", "t": 0}, {"k": "a", "t": 4}, {"k": "b", "t": 5}, {"k": "a", "t": 20}]
    got = values(
        run([(201 + i, r) for i, r in enumerate(recs)], lambda s: session("k", gap=5, time_field="t"), complete_at=300)
    )
    assert [(w.key, w.start, w.end, len(w)) for w in got] == [("a", 0, 9, 2), ("b", 5, 10, 1), ("a", 20, 25, 1)]


def test_argument_errors():
    with pytest.raises(ValueError):
        count_window(0)
    with pytest.raises(ValueError):
        sliding(10, 0)
    with pytest.raises(ValueError):
        event_windows(size=-1)
    with pytest.raises(ValueError):
        session("k", gap=0)
