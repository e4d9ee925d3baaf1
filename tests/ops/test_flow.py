from __future__ import annotations

import pytest

from streamkit.ops import backpressure, changes, rate, sample, throttle

from .vt import on_completed, on_next, run, values


def test_throttle_and_sample_in_virtual_time():
    timed = [(201, 1), (202, 2), (206, 3), (211, 4), (213, 5)]
    assert values(run(timed, lambda s: throttle(5, scheduler=s), complete_at=220)) == [1, 3, 4]
    assert run(timed, lambda s: sample(5, scheduler=s), complete_at=220)[:3] == [
        on_next(205, 2),
        on_next(210, 3),
        on_next(215, 5),
    ]


@pytest.mark.parametrize(
    ("policy", "size", "delivered", "dropped"),
    [
        ("latest", 1, [9, 19], 18),  # a burst queues before the observer runs: only its newest goes out
        ("drop_oldest", 3, [7, 8, 9, 17, 18, 19], 14),
        ("buffer", 3, [0, 1, 2, 10, 11, 12], 14),
    ],
)
def test_backpressure_policies_drop_exactly_what_they_say(policy, size, delivered, dropped):
    bp = None

    def make(scheduler):
        nonlocal bp
        bp = backpressure(policy, size=size, scheduler=scheduler)
        return bp

    # two bursts of 10 records, each burst at one virtual instant: the observer can only catch up between them
    timed = [(210, i) for i in range(10)] + [(220, i) for i in range(10, 20)]
    got = run(timed, make, complete_at=230)
    assert values(got) == delivered
    assert bp.dropped == dropped and bp.delivered == len(delivered) and bp.pending == 0
    assert got[-1] == on_completed(230)


def test_backpressure_holds_completion_until_drained():
    bp = backpressure("buffer", size=5)
    got = run([(210, 1), (210, 2)], lambda s: backpressure("buffer", size=5, scheduler=s), complete_at=210)
    assert got == [on_next(210, 1), on_next(210, 2), on_completed(210)]
    with pytest.raises(ValueError):
        backpressure("panic")
    assert "buffer" in repr(bp)


def test_rate_in_virtual_time():
    timed = [(201 + i * 0.5, i) for i in range(8)] + [(212, 99)]
    got = values(run(timed, lambda s: rate(5, scheduler=s), complete_at=216))
    assert got == [
        {"time": 205, "count": 8, "rate": 1.6},
        {"time": 210, "count": 0, "rate": 0.0},
        {"time": 215, "count": 1, "rate": 0.2},
    ]


def test_changes_emits_transitions_per_key():
    states = ["Online", "Online", "Offline", "Offline", "Online"]
    recs = [{"name": "n1", "s": s} for s in states] + [{"name": "n2", "s": "Standby"}]
    got = values(run([(201 + i, r) for i, r in enumerate(recs)], lambda s: changes("name", "s"), complete_at=300))
    assert [r["s"] for r in got] == ["Offline", "Online"]
    first = values(
        run([(201, recs[0]), (202, recs[-1])], lambda s: changes("name", ["s"], include_first=True), complete_at=300)
    )
    assert len(first) == 2
