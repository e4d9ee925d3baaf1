"""The aggregate fast path gives what pandas' groupby().agg() gives."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit.ops import Window
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
