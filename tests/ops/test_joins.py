from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import operators as rx

from streamkit.ops import join

from .vt import on_completed, on_next, run, values


def split_join(**kwargs):
    """Operator factory: a tagged source split into left ("L") and right ("R") streams, joined."""

    def operator(scheduler):
        def op(source):
            left = source.pipe(rx.filter(lambda x: x[0] == "L"), rx.map(lambda x: x[1]))
            right = source.pipe(rx.filter(lambda x: x[0] == "R"), rx.map(lambda x: x[1]))
            return left.pipe(join(right, scheduler=scheduler, **kwargs))

        return op

    return operator


def test_processing_time_join_emits_each_pair_once_when_its_later_record_arrives():
    c1 = {"mac": "c1", "ap_mac": "a", "rssi": -60}
    d1 = {"mac": "a", "cpu": 10}
    d2 = {"mac": "a", "cpu": 20}
    timed = [(205, ("R", d1)), (210, ("L", c1)), (250, ("R", d2))]
    got = run(timed, split_join(on=("ap_mac", "mac"), within=10), complete_at=300)
    assert got == [
        on_next(210, {"mac": "c1", "ap_mac": "a", "rssi": -60, "cpu": 10}),
        on_completed(300),
    ]  # d2 came 40 s later: outside the bound


def test_left_join_emits_unmatched_records_once_their_bound_passed():
    lone = {"k": 1, "t": 0}
    timed = [(201, ("L", lone)), (202, ("R", {"k": 2, "t": 1})), (203, ("R", {"k": 2, "t": 30}))]
    got = run(timed, split_join(on="k", within=5, time="t", how="left"), complete_at=300)
    assert got == [on_next(203, {"k": 1, "t": 0}), on_completed(300)]


events = st.lists(st.tuples(st.sampled_from("LR"), st.integers(0, 3), st.integers(0, 50)), max_size=40)


@given(events, st.integers(0, 10), st.sampled_from(["inner", "left"]))
@settings(max_examples=200, deadline=None)
def test_event_time_join_matches_a_pandas_merge_within_the_bound(evts, within, how):
    evts = sorted(evts, key=lambda e: e[2])  # each stream in time order
    rows = [(side, {"key": k, "t": t, f"{side}_id": i}) for i, (side, k, t) in enumerate(evts)]
    timed = [(201 + i, row) for i, row in enumerate(rows)]
    got = values(run(timed, split_join(on="key", within=within, time="t", how=how), complete_at=500, until=2000))

    left = pd.DataFrame([r for s, r in rows if s == "L"], columns=["key", "t", "L_id"])
    right = pd.DataFrame([r for s, r in rows if s == "R"], columns=["key", "t", "R_id"])
    merged = left.merge(right, on="key", how="inner", suffixes=("", "_right"))
    merged = merged[(merged["t"] - merged["t_right"]).abs() <= within]
    expected = {(int(r.L_id), int(r.R_id)) for r in merged.itertuples()}
    if how == "left":
        matched = {lid for lid, _ in expected}
        expected |= {(int(lid), None) for lid in left["L_id"] if lid not in matched}
    pairs = [(g["L_id"], g.get("R_id")) for g in got]
    assert len(pairs) == len(set(pairs))  # each pair once
    assert set(pairs) == expected
