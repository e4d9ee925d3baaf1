"""The pure state behind LiveFrame: bounds, keyed upserts, schema growth, mixed types (no kernel)."""

from __future__ import annotations

import pytest

from streamkit.sinks import TableState, parse_age


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_append_mode_keeps_the_newest_rows():
    state = TableState(max_rows=3)
    state.add({"n": i} for i in range(5))
    assert [r["n"] for r in state.rows()] == [2, 3, 4]
    assert state.received == 5 and state.evicted == 2
    assert [r["n"] for r in state.rows(newest=2)] == [3, 4]


def test_age_bound_drops_old_rows_as_the_clock_moves():
    clock = Clock()
    state = TableState(max_rows=None, max_age="1min", clock=clock)
    state.add([{"n": 1}])
    clock.t += 30
    state.add([{"n": 2}])
    clock.t += 45
    assert state.evict() == 1
    assert [r["n"] for r in state.rows()] == [2]


def test_keyed_mode_upserts_merges_and_evicts_least_recently_updated():
    state = TableState(key="mac", max_rows=2)
    state.add([{"mac": "a", "cpu": 1}, {"mac": "b", "cpu": 2}, {"mac": "a", "name": "ap-a"}])
    assert state.rows() == [{"mac": "b", "cpu": 2}, {"mac": "a", "cpu": 1, "name": "ap-a"}]
    state.add([{"mac": "c", "cpu": 3}])
    assert [r["mac"] for r in state.rows()] == ["a", "c"]  # b was the least recently updated
    replace = TableState(key="mac", merge=False)
    replace.add([{"mac": "a", "cpu": 1}, {"mac": "a", "name": "x"}])
    assert replace.rows() == [{"mac": "a", "name": "x"}]


def test_schema_grows_and_mixed_types_do_not_crash():
    state = TableState(max_rows=10)
    state.add([{"a": 1}, {"a": "text", "b": [1, 2]}, {"c": None, "a": 2.5}])
    frame = state.frame()
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["a"].tolist() == [1, "text", 2.5]
    assert len(state.frame(newest=1)) == 1


def test_version_moves_only_on_change():
    state = TableState(max_rows=10)
    v0 = state.version
    state.add([])
    assert state.version == v0
    state.add([{"a": 1}])
    assert state.version == v0 + 1


def test_bounds_are_required_and_ages_parse():
    with pytest.raises(ValueError, match="bounded"):
        TableState(max_rows=None)
    assert parse_age("90s") == 90 and parse_age("15min") == 900 and parse_age("2h") == 7200 and parse_age(5) == 5
    with pytest.raises(ValueError):
        parse_age("soon")
