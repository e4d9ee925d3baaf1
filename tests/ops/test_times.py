"""Time operators read times by the one rule (streamkit._time): any epoch unit, ISO text, datetimes, arrival."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
import reactivex
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit.core import Message, Window
from streamkit.ops import aggregate, event_windows, join, parse_time, session

from .test_shaping import apply

T0 = 1_686_592_560.0  # 2023-06-12T17:56:00Z, a whole minute
UTC = timezone.utc


def bounds(windows: list[Window]) -> list[tuple[float, float, int]]:
    return [(w.start, w.end, len(w)) for w in windows]


def test_event_windows_read_every_unit_iso_text_and_datetimes_alike():
    offsets = [1, 20, 61, 75, 130]
    expected = [(T0, T0 + 60, 2), (T0 + 60, T0 + 120, 2), (T0 + 120, T0 + 180, 1)]
    shapes = {
        "s": lambda t: t,
        "ms": lambda t: int(t * 1e3),
        "us": lambda t: int(t * 1e6),
        "ns": lambda t: int(t * 1e9),
        "iso": lambda t: datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z"),
        "datetime": lambda t: datetime.fromtimestamp(t, UTC),
        "naive": lambda t: datetime.fromtimestamp(t, UTC).replace(tzinfo=None),
        "pandas": lambda t: pd.Timestamp(t, unit="s"),
    }
    for name, shape in shapes.items():
        windows = event_windows("_time", size=60)
        got = apply(windows, [{"_time": shape(T0 + o)} for o in offsets])
        assert bounds(got) == expected, name
        assert windows.skipped == windows.late_count == 0


def test_an_explicit_unit_reads_small_numbers_in_it():
    got = apply(event_windows("t", size=1, unit="ms"), [{"t": 100}, {"t": 900}, {"t": 1500}])
    assert bounds(got) == [(0, 1, 2), (1, 2, 1)]
    got = apply(event_windows("t", size=1e12, unit="s"), [{"t": 1e12 + 1}, {"t": 1e12 + 2}])  # huge, yet seconds
    assert bounds(got) == [(1e12, 2e12, 2)]
    with pytest.raises(ValueError, match="unit"):
        event_windows("t", size=1, unit="minutes")


@given(st.lists(st.floats(0, 600, allow_nan=False), max_size=40), st.sampled_from([10, 60]))
@settings(max_examples=100, deadline=None)
def test_the_fast_path_and_the_converting_path_give_the_same_windows(offsets, size):
    """Seconds take the fast path; the same times in milliseconds are converted: the same windows come out."""
    times = sorted(T0 + round(o, 3) for o in offsets)
    in_seconds = apply(event_windows("t", size=size), [{"t": t, "i": i} for i, t in enumerate(times)])
    in_ms = apply(event_windows("t", size=size), [{"t": round(t * 1000), "i": i} for i, t in enumerate(times)])
    assert [(w.start, w.end, [r["i"] for r in w.items]) for w in in_seconds] == [
        (w.start, w.end, [r["i"] for r in w.items]) for w in in_ms
    ]


def test_received_is_the_arrival_time_in_event_windows():
    messages = [Message({"n": i}, "/t", T0 + t) for i, t in enumerate([1, 30, 65, 10])]
    windows = event_windows("received", size=60)
    got = apply(windows, messages)
    assert bounds(got) == [(T0, T0 + 60, 2), (T0 + 60, T0 + 120, 1)]
    assert windows.late_count == 1 and windows.skipped == 0  # t0+10 came after [t0, t0+60) closed
    own = Message({"received": T0 + 500}, "/t", T0)  # the payload's own field wins
    assert bounds(apply(event_windows("received", size=60), [own])) == [(T0 + 480, T0 + 540, 1)]
    plain = event_windows("received", size=60)
    assert apply(plain, [{"n": 1}]) == [] and plain.skipped == 1  # a plain dict has no arrival


def test_received_is_the_arrival_time_in_sessions():
    messages = [Message({"k": "a"}, "/t", T0 + t) for t in [0, 3, 20]]
    got = apply(session("k", gap=5, time_field="received"), messages)
    assert bounds(got) == [(T0, T0 + 8, 2), (T0 + 20, T0 + 25, 1)]
    in_ms = [{"k": "a", "t": int((T0 + t) * 1000)} for t in [0, 3, 20]]
    assert bounds(apply(session("k", gap=5, time_field="t"), in_ms)) == bounds(got)


def test_join_on_event_time_across_units_and_on_arrival():
    def joined(left: list, right: list, **kwargs) -> list:
        out: list = []
        reactivex.from_iterable(left).pipe(join(reactivex.from_iterable(right), on="k", **kwargs)).subscribe(out.append)
        return out

    left = [{"k": 1, "t": T0, "l": 1}]
    right = [
        {"k": 1, "t": int((T0 + 3) * 1000), "r": 1},  # milliseconds, 3 s later: joined
        {"k": 1, "t": datetime.fromtimestamp(T0 + 30, UTC).isoformat(), "r": 2},  # ISO text, 30 s later: not
    ]
    assert [m["r"] for m in joined(left, right, within=5, time="t")] == [1]
    arrivals = [Message({"k": 1, "l": 1}, "/l", T0)]
    others = [Message({"k": 1, "r": 1}, "/r", T0 + 2), Message({"k": 1, "r": 2}, "/r", T0 + 9)]
    assert [m["r"] for m in joined(arrivals, others, within=5, time="received")] == [1]
    with pytest.raises(ValueError, match="unit"):
        join(reactivex.empty(), on="k", within=1, time="t", unit="h")


def test_parse_time_reads_units_by_magnitude_and_rejects_what_is_not_a_time():
    when = datetime(2023, 6, 12, 17, 56, 47, tzinfo=UTC)
    values = [1_686_592_607, 1_686_592_607_000, "2023-06-12T17:56:47Z", when.replace(tzinfo=None)]
    assert [r["t"] for r in apply(parse_time("t"), [{"t": v} for v in values])] == [when] * 4
    (arrival,) = apply(parse_time("received", into="at"), [Message({"n": 1}, "/t", when.timestamp())])
    assert arrival["at"] == when and arrival.origin == "/t"
    errors: list = []
    reactivex.of({"t": True}).pipe(parse_time("t")).subscribe(on_error=errors.append)
    assert "not a time" in str(errors[0])


def test_aggregate_bounds_are_utc_timestamps_of_the_window_seconds():
    (frame,) = apply(aggregate(n=("v", "sum")), [Window(T0, T0 + 60, [{"v": 1}])])
    assert frame["window_start"].iloc[0] == pd.Timestamp("2023-06-12T17:56:00Z")
    assert frame["window_end"].iloc[0] == pd.Timestamp("2023-06-12T17:57:00Z")
