"""The aggregate fast path gives what pandas' groupby().agg() gives."""

from __future__ import annotations

import math
from unittest.mock import patch

import pandas as pd
import reactivex
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit.ops import Window, event_windows
from streamkit.ops import windows as windows_module
from streamkit.ops.aggregate import FAST, aggregate

from .test_shaping import apply

records = st.lists(
    st.fixed_dictionaries(
        {"g": st.sampled_from(["a", "b", "c"]), "v": st.one_of(st.none(), st.integers(-50, 50), st.floats(-1e3, 1e3))}
    ),
    min_size=1,
    max_size=40,
)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@given(records, st.sampled_from(sorted(FAST)))
@settings(max_examples=300, deadline=None)
def test_fast_reductions_match_pandas(items, how):
    (fast,) = apply(aggregate(by="g", x=("v", how)), [Window(0, 1, items, by_count=True)])
    frame = pd.DataFrame(items, columns=["g", "v"]).astype({"v": "float64"})
    expected = frame.groupby("g", sort=True).agg(x=("v", how)).reset_index()
    assert fast["g"].tolist() == expected["g"].tolist()
    for got, want in zip(fast["x"].tolist(), expected["x"].tolist(), strict=True):
        assert same(got, want), (how, got, want)


def test_other_reductions_go_through_pandas():
    window = Window(0, 1, [{"g": "a", "v": 1}, {"g": "a", "v": 3}, {"g": "b", "v": 5}], by_count=True)
    (frame,) = apply(aggregate(by="g", med=("v", "median"), spread=("v", lambda s: s.max() - s.min())), [window])
    assert frame[["g", "med", "spread"]].to_dict("records") == [
        {"g": "a", "med": 2.0, "spread": 2},
        {"g": "b", "med": 5.0, "spread": 0},
    ]


timed_records = st.lists(
    st.fixed_dictionaries(
        {
            "t": st.floats(0, 100, allow_nan=False),
            "g": st.sampled_from(["a", "b", None]),
            "v": st.one_of(st.none(), st.just(math.nan), st.integers(-50, 50), st.floats(-1e3, 1e3)),
        }
    ),
    max_size=60,
)


@given(timed_records, st.sampled_from([(10, None), (20, 5)]), st.sampled_from([None, "g"]), st.sampled_from([2, 4096]))
@settings(max_examples=150, deadline=None)
def test_windows_folded_as_records_arrive_match_pandas_per_window(items, shape, key, batch):
    """event_windows then aggregate reduces each window's records a batch at a time as they arrive (batches of 2:
    every state merged many times); every window's frame is pandas' groupby of that window's records, and the same
    as aggregating the Windows themselves."""
    with patch.object(windows_module, "BATCH", batch):
        check_folded_windows(items, shape, key)


def check_folded_windows(items, shape, key):
    size, slide = shape
    items = sorted(items, key=lambda r: r["t"])
    named = {how: ("v", how) for how in sorted(FAST)}

    def windows() -> event_windows:
        return event_windows("t", size=size, slide=slide, allowed_lateness=1000, key=key)

    folded: list = []
    reactivex.from_iterable(items).pipe(windows(), aggregate(by="g", **named)).subscribe(folded.append)
    listed: list = []
    reactivex.from_iterable(items).pipe(windows()).subscribe(listed.append)
    assert len(folded) == len(listed)
    for frame, window in zip(folded, listed, strict=True):
        (whole,) = apply(aggregate(by="g", **named), [window])
        pd.testing.assert_frame_equal(frame, whole)
        records = pd.DataFrame(window.items, columns=["g", "v"]).astype({"v": "float64"})
        expected = records.groupby("g", sort=True, dropna=False).agg(**named).reset_index()
        assert frame["g"].isna().tolist() == expected["g"].isna().tolist()  # the None group: NaN in both frames
        assert frame["g"].dropna().tolist() == expected["g"].dropna().tolist()
        for how in named:
            for got, want in zip(frame[how].tolist(), expected[how].tolist(), strict=True):
                assert same(got, want), (how, got, want)


def test_folded_windows_say_which_columns_no_record_had():
    errors: list = []
    records = [{"t": 1.0, "cpu": 1}, {"t": 2.0, "cpu": 2}, {"t": 15.0, "cpu": 3}]
    reactivex.from_iterable(records).pipe(event_windows("t", size=10), aggregate(x=("cpu_util", "mean"))).subscribe(
        on_error=errors.append
    )
    assert isinstance(errors[0], KeyError) and "cpu_util" in str(errors[0]) and "'cpu'" in str(errors[0])
