from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamkit.protocols import (
    Data,
    Malformed,
    MistProtocol,
    Subscribed,
    SubscribeFailed,
    Unknown,
    Unsubscribed,
    mist,
)
from streamkit.protocols.base import RAW_LIMIT, SubscribeRequest, UnsubscribeRequest

DOC_CHANNEL = "/sites/c1947558-268d-4d31- xxxx - xxxxxxxxxxxx /stats/devices"


def test_documented_frame_parses_to_the_documented_fields(mist_frames):
    event = MistProtocol().parse(mist_frames["doc_device_stats"])
    assert isinstance(event, Data)
    assert event.topic == DOC_CHANNEL
    rec = event.payload
    assert set(rec) == {
        "mac",
        "last_seen",
        "uptime",
        "version",
        "_partition",
        "_offset_apbasic",
        "ip_stat",
        "ip",
        "ble_stat",
        "_time",
    }
    assert rec["mac"] == "5c5b35f15ed8"
    assert rec["uptime"] == 6259614
    assert rec["_time"] == pytest.approx(1686592607.62131)
    assert set(rec["ip_stat"]) == {"dns", "ips", "gateway", "ip6", "netmask6", "ip", "netmask", "dhcp_server"}
    assert rec["ip_stat"]["dns"] == ["10.10.12.11", "10.10.12.12"]
    assert set(rec["ble_stat"]) == {"tx_pkts", "tx_bytes", "rx_pkts", "rx_bytes", "tx_resets"}
    assert rec["ble_stat"]["rx_bytes"] == 2772782221


def test_documented_ack(mist_frames):
    event = MistProtocol().parse(mist_frames["doc_channel_subscribed"])
    assert event == Subscribed("/sites/c1947558-268d-4d31-xxxx-xxxxxxxxxxxx/stats/devices")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("channel_unsubscribed", Unsubscribed),
        ("subscribe_failed", SubscribeFailed),
        ("test_data", Data),
        ("data_as_object", Data),
        ("device_event", Data),
        ("unknown_event", Unknown),
        ("no_event_field", Unknown),
        ("malformed_invalid_json", Malformed),
        ("malformed_data_not_json", Malformed),
        ("malformed_not_object", Malformed),
        ("malformed_no_channel", Malformed),
        ("malformed_binary_garbage", Malformed),
    ],
)
def test_recorded_frames_give_their_event_type(mist_frames, name, kind):
    assert type(MistProtocol().parse(mist_frames[name])) is kind


def test_data_string_and_object_decode_alike(mist_frames):
    p = MistProtocol()
    assert p.parse(mist_frames["test_data"]) == Data("/test", 1)
    obj = p.parse(mist_frames["data_as_object"])
    assert obj == Data("/sites/s1/stats/clients", {"mac": "a4c3f0e1b2c3", "rssi": -61, "ap_mac": "5c5b35f15ed8"})
    assert p.parse(mist.data_frame("/sites/s1/stats/clients", obj.payload)) == obj


def test_subscribe_failed_carries_detail_and_is_not_resubscribed(mist_frames):
    p = MistProtocol()
    channel = "/sites/00000000-0000-4000-8000-000000000000/stats/devices"
    p.subscribe(channel)
    p.subscribe("/test")
    event = p.parse(mist_frames["subscribe_failed"])
    assert event == SubscribeFailed(channel, "forbidden: site is not in this organisation")
    assert p.active == ("/test",)


def test_malformed_keeps_raw_text_and_says_why(mist_frames):
    raw = mist_frames["malformed_data_not_json"]
    event = MistProtocol().parse(raw)
    assert isinstance(event, Malformed)
    assert event.raw == raw
    assert "/sites/s1/stats/devices" in event.reason and "not valid JSON" in event.reason


def test_binary_frames_are_accepted_when_they_hold_json():
    assert MistProtocol().parse(b'{"event": "data", "channel": "/test", "data": "1"}') == Data("/test", 1)
    assert isinstance(MistProtocol().parse(b"\x00\xff\x10"), Malformed)


def test_oversized_bad_frame_is_clipped():
    raw = "{" + "x" * (3 * RAW_LIMIT)
    event = MistProtocol().parse(raw)
    assert isinstance(event, Malformed)
    assert len(event.raw) == RAW_LIMIT


def test_unknown_event_is_kept_with_its_message(mist_frames):
    event = MistProtocol().parse(mist_frames["unknown_event"])
    assert isinstance(event, Unknown)
    assert event.message["event"] == "maintenance_notice"
    assert event.raw == mist_frames["unknown_event"]


def test_subscribe_unsubscribe_frames_and_active_record():
    p = MistProtocol()
    p.subscribe("/a")
    p.subscribe("/b")
    p.subscribe("/a")  # already active: nothing more to send
    assert p.data_to_send() == ['{"subscribe":"/a"}', '{"subscribe":"/b"}']
    assert p.data_to_send() == []
    p.unsubscribe("/a")
    p.unsubscribe("/never")
    assert p.data_to_send() == ['{"unsubscribe":"/a"}']
    assert p.active == ("/b",)


def test_reconnect_resubscribes_every_active_channel_in_order():
    p = MistProtocol()
    for ch in ("/c", "/a", "/b"):
        p.subscribe(ch)
    p.unsubscribe("/a")
    p.data_to_send()
    p.connection_made()
    assert p.data_to_send() == ['{"subscribe":"/c"}', '{"subscribe":"/b"}']


@pytest.mark.parametrize(
    ("kwargs", "url"),
    [
        ({"region": "global01"}, "wss://api-ws.mist.com/api-ws/v1/stream"),
        ({"region": "EMEA01"}, "wss://api-ws.eu.mist.com/api-ws/v1/stream"),
        ({"region": "apac03"}, "wss://api-ws.gc7.mist.com/api-ws/v1/stream"),
        ({"host": "api.gc2.mist.com"}, "wss://api-ws.gc2.mist.com/api-ws/v1/stream"),
        ({"host": "https://api.ac6.mist.com/"}, "wss://api-ws.ac6.mist.com/api-ws/v1/stream"),
        ({"host": mist.GOVCLOUD_HOST}, "wss://api-ws.us.mist-federal.com/api-ws/v1/stream"),
    ],
)
def test_stream_url(kwargs, url):
    assert mist.stream_url(**kwargs) == url


def test_every_region_maps_to_its_ws_host():
    assert len(mist.REGIONS) == 12
    for host in mist.REGIONS.values():
        assert mist.ws_host(host) == "api-ws." + host[4:]


def test_stream_url_errors_say_what_to_do():
    with pytest.raises(ValueError, match="known regions: global01"):
        mist.stream_url(region="mars01")
    with pytest.raises(ValueError, match="exactly one"):
        mist.stream_url()
    with pytest.raises(ValueError, match="not a Mist REST host"):
        mist.stream_url(host="example.com")


def test_server_side_frames_round_trip_through_the_client():
    p = MistProtocol()
    assert p.parse(mist.subscribed_frame("/x")) == Subscribed("/x")
    assert p.parse(mist.unsubscribed_frame("/x")) == Unsubscribed("/x")
    assert p.parse(mist.subscribe_failed_frame("/x", "nope")) == SubscribeFailed("/x", "nope")
    assert p.parse(mist.data_frame("/x", {"a": [1, 2]})) == Data("/x", {"a": [1, 2]})


def test_parse_request():
    assert mist.parse_request('{"subscribe": "/x"}') == SubscribeRequest("/x")
    assert mist.parse_request('{"unsubscribe": "/x"}') == UnsubscribeRequest("/x")
    assert isinstance(mist.parse_request('{"subscribe": 5}'), Malformed)
    assert isinstance(mist.parse_request("nope"), Malformed)


def test_the_seed_documents_frame_verbatim_parses_to_its_fields():
    frame = json.loads((Path(__file__).parent.parent / "data" / "mist_seed_frames.json").read_text())["device_stats"]
    event = MistProtocol().parse(frame)
    assert isinstance(event, Data) and event.topic == "/sites/c1947558-268d-4d31-xxxx-xxxxxxxxxxxx/stats/devices"
    assert event.payload == json.loads(json.loads(frame)["data"])  # the data string decoded, nothing lost
    assert event.payload["mac"] == "5c5b35fxxxxx" and event.payload["ble_stat"]["rx_bytes"] == 2772782221
