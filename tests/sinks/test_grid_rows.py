"""An append grid's Perspective table holds the rows its frame holds: bounded by count it overwrites its oldest
rows (nothing to remove), bounded by age it removes the rows the frame evicts."""

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
