"""Flattening a decoded payload as its Message is built (what ``ops.flatten()`` does on a client's subscription)
gives exactly the flattened Message; on any other Observable flatten maps each record."""

from __future__ import annotations

from typing import Any

import reactivex

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
