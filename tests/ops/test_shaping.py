from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
import reactivex

from streamkit.core import Message
from streamkit.ops import Window, aggregate, enrich, flatten, parse_time, window_frame, with_latest

from .vt import run, values


def apply(operator, items):
    out: list = []
    reactivex.from_iterable(items).pipe(operator).subscribe(out.append)
    return out


AP = {
    "mac": "m1",
    "cpu_util": 12,
    "ip_stat": {"gateway": "10.0.0.1", "dns": ["a", "b"]},
    "radio_stat": {"band_24": {"channel": 6, "num_clients": 2}, "band_5": {"channel": 36, "num_clients": 5}},
}


def test_flatten_nested_dicts_keeps_lists_and_origin():
    rec = Message(AP, "/sites/s/stats/devices", 1.0)
    (row,) = apply(flatten(), [rec])
    assert row == {
        "mac": "m1",
        "cpu_util": 12,
        "ip_stat.gateway": "10.0.0.1",
        "ip_stat.dns": ["a", "b"],
        "radio_stat.band_24.channel": 6,
        "radio_stat.band_24.num_clients": 2,
        "radio_stat.band_5.channel": 36,
        "radio_stat.band_5.num_clients": 5,
    }
    assert row.origin == "/sites/s/stats/devices"
    assert apply(flatten(sep="/"), [{"a": {"b": 1}, "c": {}}]) == [{"a/b": 1, "c": {}}]


def test_explode_a_dict_field_gives_one_row_per_key():
    rows = apply(flatten(explode="radio_stat"), [AP])
    assert [(r["radio_stat.key"], r["radio_stat.channel"], r["mac"], r["ip_stat.gateway"]) for r in rows] == [
        ("band_24", 6, "m1", "10.0.0.1"),
        ("band_5", 36, "m1", "10.0.0.1"),
    ]


def test_explode_a_list_field_and_records_without_it():
    gw = {"mac": "g", "spu_stat": [{"spu_cpu": 5}, {"spu_cpu": 7}], "tags": ["x"]}
    rows = apply(flatten(explode="spu_stat"), [gw, {"mac": "other"}])
    assert rows == [
        {"mac": "g", "tags": ["x"], "spu_stat.spu_cpu": 5},
        {"mac": "g", "tags": ["x"], "spu_stat.spu_cpu": 7},
        {"mac": "other"},
    ]
    assert apply(flatten(explode="tags"), [gw])[0]["tags"] == "x"


def test_parse_time_units_and_iso_strings():
    utc = timezone.utc
    (a, b, c, d) = apply(parse_time("t"), [{"t": 1686592607.5}, {"t": "2023-06-12T17:56:47Z"}, {"x": 1}, {"t": None}])
    assert a["t"] == datetime(2023, 6, 12, 17, 56, 47, 500000, tzinfo=utc)
    assert b["t"] == datetime(2023, 6, 12, 17, 56, 47, tzinfo=utc)
    assert c == {"x": 1} and d == {"t": None}
    (ms,) = apply(parse_time("t", unit="ms", into="when"), [{"t": 1686592607000}])
    assert ms["when"] == datetime(2023, 6, 12, 17, 56, 47, tzinfo=utc) and ms["t"] == 1686592607000
    errors: list = []
    reactivex.of({"t": "yesterday"}).pipe(parse_time("t")).subscribe(on_error=errors.append)
    assert "not a time" in str(errors[0])
    with pytest.raises(ValueError):
        parse_time("t", unit="h")


def test_aggregate_named_aggregation_per_window():
    window = Window(
        60.0,
        120.0,
        [
            {"ap": "x", "rssi": -60, "mac": "c1"},
            {"ap": "x", "rssi": -70, "mac": "c2"},
            {"ap": "y", "rssi": -50, "mac": "c1"},
        ],
    )
    (frame,) = apply(aggregate(by="ap", clients=("mac", "nunique"), rssi=("rssi", "mean")), [window])
    assert list(frame.columns) == ["window_start", "window_end", "ap", "clients", "rssi"]
    assert frame["window_start"].iloc[0] == pd.Timestamp(60, unit="s", tz="UTC")
    assert frame[["ap", "clients", "rssi"]].to_dict("records") == [
        {"ap": "x", "clients": 2, "rssi": -65.0},
        {"ap": "y", "clients": 1, "rssi": -50.0},
    ]
    (total,) = apply(aggregate(n=("mac", "count")), [window])
    assert total["n"].tolist() == [3]


def test_aggregate_keyed_count_and_empty_windows():
    (keyed,) = apply(aggregate(n=("v", "sum")), [Window(0, 3, [{"v": 1}, {"v": 2}], key="k", by_count=True)])
    assert keyed.to_dict("records") == [{"window_start": 0, "window_end": 3, "key": "k", "n": 3}]
    (empty,) = apply(aggregate(by="ap", n=("v", "sum")), [Window(0, 10, [])])
    assert empty.empty and list(empty.columns) == ["window_start", "window_end", "ap", "n"]
    assert window_frame([{"a": 1}, {"a": 2, "b": 3}]).shape == (2, 2)


def test_aggregate_missing_field_says_what_is_there():
    errors: list = []
    reactivex.of(Window(0, 1, [{"cpu": 1}])).pipe(aggregate(x=("cpu_util", "mean"))).subscribe(on_error=errors.append)
    assert "cpu_util" in str(errors[0]) and "'cpu'" in str(errors[0])
    with pytest.raises(ValueError):
        aggregate(by="x")


def test_with_latest_uses_the_newest_record_of_the_key():
    rec = {"c1": {"mac": "c1", "ap_mac": "a"}, "c2": {"mac": "c2", "ap_mac": "b"}}
    timed = [
        (210, ("dev", {"mac": "a", "cpu": 1})),
        (220, ("cli", rec["c1"])),
        (230, ("dev", {"mac": "a", "cpu": 9})),
        (240, ("cli", rec["c1"])),
        (250, ("cli", rec["c2"])),
    ]

    def operator(scheduler):
        def op(source):
            devices = source.pipe(
                reactivex.operators.filter(lambda x: x[0] == "dev"), reactivex.operators.map(lambda x: x[1])
            )
            clients = source.pipe(
                reactivex.operators.filter(lambda x: x[0] == "cli"), reactivex.operators.map(lambda x: x[1])
            )
            return clients.pipe(with_latest(devices, on=("ap_mac", "mac")))

        return op

    got = values(run(timed, operator, complete_at=300))
    # the right side's key ("mac" of the AP) repeats the left's "ap_mac", so it is not copied
    assert got == [
        {"mac": "c1", "ap_mac": "a", "cpu": 1},
        {"mac": "c1", "ap_mac": "a", "cpu": 9},
        {"mac": "c2", "ap_mac": "b"},
    ]


def test_enrich_from_a_dataframe_or_a_dict():
    inventory = pd.DataFrame([{"mac": "m1", "site": "berlin", "model": "AP43"}])
    assert apply(enrich(inventory, on="mac"), [{"mac": "m1", "cpu": 1}, {"mac": "m9"}]) == [
        {"mac": "m1", "cpu": 1, "site": "berlin", "model": "AP43"},
        {"mac": "m9"},
    ]
    assert apply(enrich({"m1": {"site": "oslo"}}, on="mac"), [{"mac": "m1"}]) == [{"mac": "m1", "site": "oslo"}]
    with pytest.raises(KeyError, match="no column 'serial'"):
        enrich(inventory, on=("mac", "serial"))
