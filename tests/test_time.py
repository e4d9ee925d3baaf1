"""The one time rule (streamkit._time): epoch units, ISO 8601, datetimes, and a record's time by field name."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from streamkit._time import (
    UNITS,
    check_unit,
    clock_texts,
    epoch_seconds,
    span_text,
    time_of,
    time_value,
    unit_of,
    utc_datetime,
    utc_timestamp,
)
from streamkit.core import Message, Window

T = 1_686_592_607.5  # 2023-06-12T17:56:47.5Z
UTC = timezone.utc
WHEN = datetime(2023, 6, 12, 17, 56, 47, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "unit"),
    [
        (T, "s"),
        (T * 1e3, "ms"),
        (T * 1e6, "us"),
        (T * 1e9, "ns"),
        (int(T * 1e9), "ns"),
        (0, "s"),
        (60.0, "s"),
        (-T, "s"),
        (-T * 1e3, "ms"),
        (99_999_999_999, "s"),  # just below 1e11: the year 5138 in seconds
        (100_000_000_000, "ms"),  # 1e11: March 1973 in milliseconds
    ],
)
def test_epoch_units_by_magnitude(number, unit):
    assert unit_of(number) == unit
    assert epoch_seconds(number) == pytest.approx(number / UNITS[unit], abs=1e-6)


def test_the_usual_epochs_in_every_unit_are_the_same_time():
    for per_second in UNITS.values():
        assert epoch_seconds(T * per_second) == pytest.approx(T, abs=1e-6)
        assert utc_datetime(T * per_second) == pytest.approx(WHEN, abs=timedelta(microseconds=1))


def test_an_explicit_unit_wins_over_the_magnitude():
    assert epoch_seconds(1_500, "ms") == 1.5
    assert epoch_seconds(T * 1e3, "s") == T * 1e3
    assert epoch_seconds(2_000_000, "us") == 2.0
    assert epoch_seconds(3_000_000_000, "ns") == 3.0
    assert utc_datetime(1_000, "ms") == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert check_unit(None) is None and check_unit("ms") == "ms"
    with pytest.raises(ValueError, match="unit is one of"):
        check_unit("h")


@pytest.mark.parametrize(
    "text",
    [
        "2023-06-12T17:56:47.5Z",
        "2023-06-12T17:56:47.500000+00:00",
        "2023-06-12T19:56:47.5+02:00",
        "2023-06-12T17:56:47.5",  # no offset: UTC
        " 2023-06-12T17:56:47.5Z ",
    ],
)
def test_iso_8601_text(text):
    assert epoch_seconds(text) == T
    assert utc_datetime(text) == WHEN
    assert utc_datetime(text).tzinfo == UTC


def test_datetimes_naive_ones_are_utc():
    assert epoch_seconds(WHEN) == T
    assert epoch_seconds(WHEN.replace(tzinfo=None)) == T
    berlin = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert epoch_seconds(berlin) == T
    assert utc_datetime(berlin) == WHEN and utc_datetime(berlin).tzinfo == UTC
    assert utc_datetime(WHEN.replace(tzinfo=None)) == WHEN
    assert epoch_seconds(date(2023, 6, 12)) == 1_686_528_000.0


def test_pandas_and_numpy_times():
    assert epoch_seconds(pd.Timestamp("2023-06-12 17:56:47.5")) == T  # naive: UTC
    assert epoch_seconds(pd.Timestamp("2023-06-12 19:56:47.5", tz="Europe/Berlin")) == T
    assert epoch_seconds(np.datetime64("2023-06-12T17:56:47.500")) == T
    assert epoch_seconds(np.int64(int(T * 1000))) == T
    assert epoch_seconds(np.float64(T)) == T
    assert utc_timestamp(T) == pd.Timestamp(WHEN)
    assert utc_timestamp(60, "s") == pd.Timestamp(60, unit="s", tz="UTC")
    assert epoch_seconds(pd.NaT) is None and utc_datetime(pd.NaT) is None and utc_timestamp(pd.NaT) is None
    assert epoch_seconds(np.datetime64("NaT")) is None


@pytest.mark.parametrize(
    "value",
    [None, True, False, math.nan, math.inf, -math.inf, "", "yesterday", "1686592607", b"2023-06-12", [T], {"t": T}],
)
def test_bools_and_garbage_are_not_times(value):
    assert epoch_seconds(value) is None
    assert utc_datetime(value) is None


def test_times_beyond_what_datetime_holds_are_not_times():
    assert epoch_seconds(1e30) == pytest.approx(1e21)  # a number, in nanoseconds
    assert utc_datetime(1e30) is None


def test_received_is_the_arrival_unless_the_payload_has_one():
    message = Message({"cpu": 7, "_time": T * 1e3}, "/sites/s1/stats/devices", 1_700_000_000.25)
    assert time_of(message, "received") == 1_700_000_000.25
    assert time_value(message, "received") == 1_700_000_000.25
    assert time_of(message, "received", "ms") == 1_700_000_000.25  # the arrival is seconds, whatever the field's unit
    assert time_of(message, "_time") == T
    assert time_of(message, "_time", "ms") == T
    assert time_of(message, "missing") is None

    own = Message({"received": "2023-06-12T17:56:47.5Z"}, "/t", 1_700_000_000.0)
    assert time_of(own, "received") == T  # the payload's own field wins
    garbage = Message({"received": "soon"}, "/t", 1_700_000_000.0)
    assert time_of(garbage, "received") is None
    assert time_of({"cpu": 7}, "received") is None  # a plain dict has no arrival
    assert time_of({"received": T}, "received") == T


def test_times_read_by_a_person_are_utc_and_as_short_as_they_stay_clear():
    texts, day = clock_texts([T, T * 1e3, WHEN, "2023-06-12T19:56:47+02:00", None, "soon", True])
    assert texts == ["17:56:47.500", "17:56:47.500", "17:56:47.500", "17:56:47.000", None, None, None]
    assert day == date(2023, 6, 12)
    assert clock_texts([1_686_592_607, 1_686_592_667]) == (["17:56:47", "17:57:47"], date(2023, 6, 12))
    assert clock_texts([1_686_592_607, 1_686_692_607]) == (["2023-06-12 17:56:47", "2023-06-13 21:43:27"], None)
    assert clock_texts([]) == ([], None) and clock_texts(["soon"]) == ([None], None)
    assert clock_texts([60_000], "ms") == (["00:01:00"], date(1970, 1, 1))  # a stated unit wins
    assert clock_texts([T], dated=True)[0] == ["2023-06-12 17:56:47.500"]  # as other columns that span days
    assert clock_texts([T, T + 86_400], dated=False)[0] == ["17:56:47.500", "17:56:47.500"]
    assert span_text(T, T + 0.25) == "17:56:47.500\N{EN DASH}17:56:47.750 UTC"
    assert span_text(T, "soon") is None


def test_window_labels_say_when_or_which_records():
    minute = Window(1_795_463_640.0, 1_795_463_700.0, [{"n": 1}] * 1_042)
    assert repr(minute) == "<Window 19:54:00\N{EN DASH}19:55:00 UTC, 1,042 records>"
    assert repr(Window(60.0, 120.0, [], key=("ap", 1))) == (
        "<Window 00:01:00\N{EN DASH}00:02:00 UTC key=('ap', 1), 0 records>"
    )  # virtual time: seconds from the epoch
    assert repr(Window(0, 10, [{}] * 10, by_count=True)) == "<Window positions 0\N{EN DASH}9, 10 records>"
    assert repr(Window(1e30, 2e30, [])) == "<Window [1e+30, 2e+30), 0 records>"  # beyond datetime: numbers


def test_the_replay_clock_fires_what_reactivex_historical_scheduler_fires():
    """Same schedules, same advances: the same actions at the same clock readings, re-scheduling included."""
    import random
    from datetime import timedelta

    from reactivex.scheduler import HistoricalScheduler

    from streamkit._time import ReplayClock, utc_datetime

    start = 1_767_225_600.0
    rng = random.Random(7)
    plan = [(rng.uniform(0, 100), rng.random() < 0.3) for _ in range(40)]
    steps = sorted(rng.uniform(0, 150) for _ in range(60))

    def run(clock: Any, seconds: Callable[[], float]) -> list[tuple[int, float]]:
        fired: list[tuple[int, float]] = []

        def action(number: int, again: bool) -> Callable[..., None]:
            def act(scheduler: Any, state: Any) -> None:
                fired.append((number, round(seconds(), 6)))
                if again:  # an action that schedules another, as a window closing opens the next one
                    clock.schedule_relative(timedelta(seconds=5), action(number + 1000, False))

            return act

        for number, (delay, again) in enumerate(plan):
            clock.schedule_relative(timedelta(seconds=delay), action(number, again))
        for step in steps:
            clock.advance_to(start + step)
        return fired

    historical = HistoricalScheduler(utc_datetime(start))
    replay = ReplayClock(start)
    expected = run(historical, lambda: historical.to_seconds(historical.now))
    assert run(replay, lambda: replay.seconds) == expected and len(expected) > 40
    assert replay.now == historical.now
