"""Fuzzing the adapters: random and mutated frames never raise, and only ever give typed events.

CI runs 2,000 cases of up to six frames per adapter; a longer run: ``STREAMKIT_FUZZ_EXAMPLES=200000 pytest -o timeout=0
tests/protocols/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamkit.protocols import FeedProtocol, MistProtocol, SmcProtocol
from streamkit.protocols.base import RAW_LIMIT, Data, Malformed, Subscribed, SubscribeFailed, Unknown, Unsubscribed

EXAMPLES = int(os.environ.get("STREAMKIT_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENTS = (Data, Malformed, Subscribed, SubscribeFailed, Unknown, Unsubscribed)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
MIST_KEYS = ["event", "channel", "data", "detail", "reason"]
SMC_KEYS = ["status", "subscription_id", "success", "failure", "context", "element"]


def frames(keys: list[str], words: list[Any]) -> st.SearchStrategy[str | bytes]:
    """Random bytes and text, and JSON objects built from the protocol's own keys and values, some mutated."""
    shaped = st.dictionaries(st.sampled_from(keys), st.one_of(json_values, st.sampled_from(words)), max_size=5)
    as_text = shaped.map(json.dumps)
    mutated = st.tuples(as_text, st.integers(0, 200), st.text(max_size=3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
    )
    return st.one_of(st.binary(max_size=300), st.text(max_size=300), as_text, mutated, json_values.map(json.dumps))


def check(adapter: Any, frame: str | bytes) -> None:
    event = adapter.parse(frame)
    assert isinstance(event, EVENTS), event
    if isinstance(event, (Malformed, Unknown)):
        assert len(event.raw) <= RAW_LIMIT
    adapter.data_to_send()


MIST_WORDS = ["data", "channel_subscribed", "channel_unsubscribed", "subscribe_failed", "/sites/s/stats/devices",
              '{"mac": "x"}', "{broken"]  # fmt: skip


@FUZZ
@given(st.lists(frames(MIST_KEYS, MIST_WORDS), max_size=5))
def test_mist_adapter(frame_list):
    adapter = MistProtocol()
    adapter.subscribe("/sites/s/stats/devices")
    adapter.data_to_send()
    for frame in frame_list:
        check(adapter, frame)


SMC_WORDS = [0, 1, 2, -1, "Subscribed for status", "Unsubscribed", {"status": {"name": "n"}}, "fw_single"]


@FUZZ
@given(st.lists(frames(SMC_KEYS, SMC_WORDS), max_size=6))
def test_smc_adapter(frame_list):
    adapter = SmcProtocol()
    adapter.subscribe(("context", "fw_single"))
    adapter.subscribe(("element", "/7.2/elements/single_fw/1"))
    adapter.data_to_send()
    for frame in frame_list:
        check(adapter, frame)
        assert isinstance(adapter.parse_for(frame, ("context", "x")), EVENTS)  # as replay parses


@FUZZ
@given(st.lists(frames(["topic", "ack", "data", "payload"], ["a", "b", 1]), max_size=5))
def test_generic_adapter_with_selectors_that_may_raise(frame_list):
    adapter = FeedProtocol(route=lambda m: m["topic"], payload=lambda m: m["data"], ack=lambda m: m.get("ack"))
    adapter.subscribe("a")
    adapter.data_to_send()
    for frame in frame_list:
        check(adapter, frame)
