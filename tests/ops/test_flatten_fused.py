"""Flattening a decoded payload as its Message is built (what ``ops.flatten()`` does on a client's subscription)
gives exactly the flattened Message; on any other Observable flatten maps each record."""

from __future__ import annotations

from typing import Any

import reactivex
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit import ops
from streamkit.core import Message
from streamkit.ops.flatten import flattened_message
from streamkit.sim.mist_world import MistWorld


def device_stats(n: int) -> list[dict[str, Any]]:
    """``n`` Mist device-stats payloads (APs' basic and full messages, a switch, a gateway)."""
    world = MistWorld(seed=5, sites=1, aps=3, clients=3)
    channel = world.channels(world.sites[0])["device_stats"]
    payloads: list[dict[str, Any]] = []
    step = 0
    while len(payloads) < n:
        payloads.extend(payload for _, payload in world.tick(1_700_000_000.0 + step, {channel}))
        step += 1
    return payloads[:n]


def test_a_flattened_message_is_the_flattened_message():
    payloads = [*device_stats(40), {"a": {}, "b": {"c": {"d": {"e": 1}}, "f": [1]}}, 7, None, ["x"]]
    for payload in payloads:
        made = flattened_message(payload, "/t", 12.5)
        expected = ops.flatten_record(Message(payload, "/t", 12.5))
        assert made == expected and list(made) == list(expected)  # same fields in the same order
        assert type(made) is Message and (made.origin, made.received) == ("/t", 12.5)
    assert flattened_message({"a": {"b": 1}}, "/t", 0.0, sep="/") == {"a/b": 1}


def test_flatten_on_other_observables_maps_each_record():
    records = device_stats(10)
    seen: list[Any] = []
    reactivex.from_iterable(records).pipe(ops.flatten()).subscribe(seen.append)
    assert seen == [ops.flatten_record(r) for r in records]
    assert repr(ops.flatten(sep="/")) == "flatten(sep='/')"


def walk(record: dict[str, Any], prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """Each field in turn, nested dicts to their dotted names (as the first flatten did it)."""
    for k, v in record.items():
        if type(v) is dict and v:
            walk(v, f"{prefix}{k}.", out)
        else:
            out[prefix + k] = v
    return out


def reference(record: dict[str, Any]) -> dict[str, Any]:
    """The record's plain top-level fields, then each nested dict's fields flattened (flatten's documented order)."""
    out = {k: v for k, v in record.items() if not (type(v) is dict and v)}
    for k, v in record.items():
        if type(v) is dict and v:
            walk(v, k + ".", out)
    return out


nested = st.recursive(
    st.one_of(st.integers(0, 3), st.none(), st.lists(st.integers(0, 3), max_size=2), st.just({})),
    lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c.d", "e"]), nested, max_size=5), max_size=20))
@settings(max_examples=200, deadline=None)
def test_flattening_gives_each_field_once_in_its_documented_place(records):
    """The same keys nested at different places and depths, a key a dict in one record and a value in the next,
    empty dicts kept as values, and a dotted name met both flattened and as it is: fields and their order."""
    for record in records:
        made = flattened_message(record, "/t", 0.0)
        assert list(made.items()) == list(reference(record).items())
