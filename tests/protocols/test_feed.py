from __future__ import annotations

from streamkit.protocols import Data, FeedProtocol, Malformed, Subscribed, Unknown
from streamkit.protocols.feed import ALL


def test_defaults_route_by_channel():
    p = FeedProtocol()
    p.subscribe("prices")
    assert p.data_to_send() == ['{"subscribe":"prices"}']
    assert not p.acks
    assert p.parse('{"channel": "prices", "px": 1}') == Data("prices", {"channel": "prices", "px": 1})
    assert isinstance(p.parse('{"channel": "other", "px": 1}'), Unknown)
    p.unsubscribe("prices")
    assert p.data_to_send() == ['{"unsubscribe":"prices"}']


def test_custom_messages_route_payload_and_ack():
    p = FeedProtocol(
        subscribe=lambda t: {"op": "sub", "args": [t]},
        unsubscribe=None,
        route=lambda m: m.get("arg", {}).get("channel"),
        payload="data",
        ack=lambda m: m["arg"]["channel"] if m.get("event") == "subscribe" else None,
    )
    p.subscribe("tickers")
    assert p.data_to_send() == ['{"op":"sub","args":["tickers"]}']
    assert p.acks
    assert p.parse('{"event": "subscribe", "arg": {"channel": "tickers"}}') == Subscribed("tickers")
    assert p.parse('{"arg": {"channel": "tickers"}, "data": [1, 2]}') == Data("tickers", [1, 2])
    p.unsubscribe("tickers")
    assert p.data_to_send() == []


def test_feed_without_subscriptions_delivers_everything_to_all():
    p = FeedProtocol(subscribe=None)
    p.subscribe(ALL)
    assert p.data_to_send() == []
    assert p.parse('{"temp": 21.5}') == Data(ALL, {"temp": 21.5})
    assert p.parse("[1, 2]") == Data(ALL, [1, 2])


def test_selector_errors_and_bad_json_do_not_raise():
    p = FeedProtocol(route=lambda m: m["missing"])
    p.subscribe("x")
    event = p.parse('{"a": 1}')
    assert isinstance(event, Malformed) and "KeyError" in event.reason
    assert isinstance(p.parse("{"), Malformed)
