"""An append grid's Perspective table holds the rows its frame holds, with their arrival numbers: bounded by count
or by age, the rows the frame evicts go from the table too, whatever the mix of fields of the rows around them."""

from __future__ import annotations

from streamkit.sinks.grid import Grid
from streamkit.sinks.state import TableState


def grid_of(state: TableState) -> Grid:
    return Grid(state, columns=None, sort_by=[], title=None, tz=None, show=5)


def test_a_grid_bounded_by_count_holds_the_newest_rows_with_their_arrival_numbers():
    state = TableState(max_rows=5)
    grid = grid_of(state)
    for batch in (range(4), range(4, 7), range(7, 12)):  # the table wraps around; the last batch fills all of it
        state.add([{"n": n, "name": f"r{n}"} for n in batch])
        grid.sync()
        held = [(row["n"], row["name"]) for row in state.rows()]
        assert sorted((int(r["n"]), r["name"]) for r in grid.records()) == held
        assert grid.table.size() == len(held) and sorted(r["#"] for r in grid.records()) == list(
            range(state.received - len(held), state.received)
        )
    assert [r["n"] for r in state.rows()] == [7, 8, 9, 10, 11]
    state.add([{"n": 12}])  # a row without a field: that column is empty in its row, not the evicted row's value
    grid.sync()
    assert {int(r["n"]): r["name"] for r in grid.records()}[12] is None
    grid.release()


def test_a_grid_bounded_by_age_removes_what_the_frame_evicts():
    now = [1000.0]
    state = TableState(max_rows=None, max_age=60, clock=lambda: now[0])
    grid = grid_of(state)
    state.add([{"n": 1}, {"n": 2}])
    grid.sync()
    now[0] += 90
    state.add([{"n": 3}])
    grid.sync()
    assert [r["n"] for r in grid.records()] == [3.0] and grid.table.size() == 1
    grid.release()


def test_rows_of_different_fields_mixed_in_one_sync_are_evicted_in_arrival_order():
    """A sync sends a batch per shape of row; the table must still drop the rows the frame dropped."""
    state = TableState(max_rows=3)
    grid = grid_of(state)
    state.add([{"a": 1}, {"b": 2}, {"a": 3}])
    grid.sync()
    for n in (4, 5):
        state.add([{"a": n}])
        grid.sync()
    assert sorted(r["#"] for r in grid.records()) == [2, 3, 4]
    assert sorted(r["a"] for r in grid.records()) == [3, 4, 5]  # {"b": 2} went, {"a": 3} stayed
    grid.release()
