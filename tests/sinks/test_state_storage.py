"""TableState holds rows as tuples under shared schemas: the same rows and DataFrames as a table of dicts gives.

``DictTable`` is the table of dicts TableState used to be (its semantics, written plainly): every test feeds
both the same batches on the same clock and compares what they show.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from collections import OrderedDict, deque
from typing import Any

import pandas as pd
import pytest

from streamkit.core import Message
from streamkit.ops import flatten_record
from streamkit.sim.mist_world import MistWorld
from streamkit.sinks import TableState


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class DictTable:
    """Rows as dicts: the reference semantics."""

    def __init__(
        self,
        *,
        key: str | None = None,
        max_rows: int | None = 10_000,
        max_age: float | None = None,
        merge: bool = True,
        clock: Clock,
    ) -> None:
        self.key, self.max_rows, self.max_age, self.merge, self.clock = key, max_rows, max_age, merge, clock
        self.appended: deque[tuple[float, dict[str, Any]]] = deque()
        self.keyed: OrderedDict[Any, tuple[float, dict[str, Any]]] = OrderedDict()
        self.received = self.evicted = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        now = self.clock()
        for row in rows:
            self.received += 1
            if self.key is None:
                self.appended.append((now, row))
                continue
            k = row.get(self.key)
            old = self.keyed.get(k)
            self.keyed[k] = (now, {**old[1], **row} if self.merge and old is not None else row)
            self.keyed.move_to_end(k)
        store: Any = self.keyed if self.key is not None else self.appended
        pop = (lambda: store.popitem(last=False)) if self.key is not None else store.popleft
        first = (lambda: next(iter(store.values()))[0]) if self.key is not None else (lambda: store[0][0])
        while self.max_rows is not None and len(store) > self.max_rows:
            pop()
            self.evicted += 1
        while self.max_age is not None and store and first() < now - self.max_age:
            pop()
            self.evicted += 1

    def rows(self, newest: int | None = None) -> list[dict[str, Any]]:
        rows = [row for _, row in (self.keyed.values() if self.key is not None else self.appended)]
        return rows if newest is None else rows[-newest:]

    def frame(self, newest: int | None = None) -> pd.DataFrame:
        return pd.DataFrame(self.rows(newest))


def both(**options: Any) -> tuple[TableState, DictTable, Clock]:
    clock = Clock()
    return TableState(clock=clock, **options), DictTable(clock=clock, **options), clock


def same(state: TableState, reference: DictTable, newest: int | None = None) -> None:
    assert state.rows(newest) == reference.rows(newest)
    assert [list(r) for r in state.rows(newest)] == [list(r) for r in reference.rows(newest)]  # field order
    expected = reference.frame(newest)
    got = state.frame(newest)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.columns) == list(expected.columns)
    assert (state.received, state.evicted, len(state)) == (reference.received, reference.evicted, len(reference.rows()))


def mist_rows(n: int) -> list[Message]:
    """``n`` flattened Mist device-stats records (APs' basic and full messages, a switch, a gateway)."""
    world = MistWorld(seed=3, sites=1, aps=4, clients=4)
    site = world.sites[0]
    channel = world.channels(site)["device_stats"]
    rows: list[Message] = []
    step = 0
    while len(rows) < n:
        for topic, payload in world.tick(1_700_000_000.0 + step, {channel}):
            rows.append(flatten_record(Message(payload, topic, 0.0)))
        step += 1
    return rows[:n]


MIXED = [
    {"a": 1, "b": "x", "tags": ["p", "q"]},
    {"a": 2.5, "c": None, "b": "y"},
    {"b": "z", "a": None, "d": True, "tags": []},
    {"e": {}, "a": 3, "nested": [[1, 2], {"k": [3]}], "when": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)},
    {"a": "text", "tags": ("a", "tuple")},
    {},
    {"a": 4, "b": "w", "tags": ["r"]},
]


@pytest.mark.parametrize("max_rows", [None, 3, 100])
def test_append_mode_gives_the_same_rows_and_frame_as_dicts(max_rows):
    state, reference, clock = both(max_rows=max_rows, max_age=None if max_rows else 60.0)
    for start in range(0, len(MIXED), 2):
        batch = MIXED[start : start + 2]
        state.add(batch)
        reference.add(batch)
        clock.t += 1
        same(state, reference)
        same(state, reference, newest=2)


def test_values_come_back_as_they_went_in():
    state, _, _ = both(max_rows=10)
    state.add(MIXED)
    (row,) = [r for r in state.rows() if "nested" in r]
    assert type(row["nested"]) is list and row["nested"] == [[1, 2], {"k": [3]}]
    assert [type(r["tags"]) for r in state.rows() if "tags" in r] == [list, list, tuple, list]
    frame = state.frame()
    assert type(frame.loc[0, "tags"]) is list and frame.loc[4, "tags"] == ("a", "tuple")
    assert math.isnan(frame.loc[5, "a"]) if frame["a"].dtype != object else frame.loc[5, "a"] is not None


def test_mist_device_stats_append_with_eviction():
    rows = mist_rows(300)
    state, reference, clock = both(max_rows=100)
    for start in range(0, 300, 37):
        state.add(rows[start : start + 37])
        reference.add(rows[start : start + 37])
        clock.t += 0.25
    same(state, reference)
    same(state, reference, newest=15)
    assert state.evicted == 200


@pytest.mark.parametrize("merge", [True, False])
def test_mist_device_stats_keyed_merge_basic_and_full(merge):
    rows = mist_rows(400)
    state, reference, clock = both(key="mac", merge=merge, max_rows=10_000)
    for start in range(0, 400, 29):
        state.add(rows[start : start + 29])
        reference.add(rows[start : start + 29])
        clock.t += 0.25
        same(state, reference)
    aps = state.frame()
    assert aps["mac"].is_unique
    if merge:  # an AP's row has the fields of its basic and of its full message
        full = aps[aps["type"] == "ap"]
        assert full["ip_stat.gateway"].notna().all() and full["radio_stat.band_5.channel"].notna().all()


def test_keyed_merge_of_partial_records_with_lists_and_eviction():
    state, reference, clock = both(key="id", max_rows=2, max_age=30.0)
    batches = [
        [{"id": 1, "a": 1}, {"id": 2, "b": ["x"]}],
        [{"id": 1, "b": ["y", "z"], "a": 5}, {"id": 3, "c": 1.5}],
        [{"id": 3, "a": 2}, {"id": 3, "b": ["w"]}],
        [{"id": 2, "a": None, "b": "no list"}],
    ]
    for batch in batches:
        state.add(batch)
        reference.add(batch)
        clock.t += 12
        same(state, reference)
    clock.t += 100
    assert state.evict() == 2
    reference.add([])
    same(state, reference)


def test_keyed_mode_with_a_key_function():
    keyed = TableState(key=lambda row: (row["site"], row["mac"]), max_rows=5)
    keyed.add([{"site": "s", "mac": "a", "n": 1}, {"site": "t", "mac": "a", "n": 2}, {"site": "s", "mac": "a", "m": 3}])
    assert keyed.rows() == [{"site": "t", "mac": "a", "n": 2}, {"site": "s", "mac": "a", "n": 1, "m": 3}]
    assert keyed.changed_keys == {("s", "a"), ("t", "a")}


def test_held_rows_of_json_values_are_not_tracked_by_the_garbage_collector():
    state = TableState(max_rows=1000)
    state.add(mist_rows(200))
    keyed = TableState(key="mac", max_rows=1000)
    keyed.add(mist_rows(200))
    for _ in range(4):  # a tuple is let go at a collection that finds its items let go: the shapes, then the rows
        gc.collect()
    held = state.entries() + keyed.entries()
    assert held and not any(gc.is_tracked(entry) for entry in held)
    assert any("ip_stat.dns" in row for row in state.rows())  # rows that held lists are among them
    state.add(mist_rows(50))  # rows of shapes already let go are let go at their first collection
    gc.collect(0)
    assert not any(gc.is_tracked(entry) for entry in state.entries(newest=50))


def test_many_shapes_do_not_pile_up():
    state = TableState(max_rows=10)
    for i in range(5000):
        state.add([{f"client_{i}": i}])  # a new field name, so a new schema, each time
    assert len(state._shapes) <= 4096
    assert state.rows() == [{f"client_{i}": i} for i in range(4990, 5000)]
