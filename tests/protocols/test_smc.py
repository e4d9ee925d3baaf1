from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from streamkit.errors import AuthenticationError, ProtocolError
from streamkit.protocols import (
    Data,
    Malformed,
    SmcProtocol,
    Subscribed,
    SubscribeFailed,
    Unknown,
    Unsubscribed,
    smc,
)
from streamkit.protocols.base import SubscribeRequest, UnsubscribeRequest
from streamkit.protocols.smc import HttpRequest, HttpResponse, context, element

SEED = json.loads((Path(__file__).parents[1] / "data" / "smc_seed_frames.json").read_text())


def test_the_api_guide_examples_pass_through_the_adapter_unchanged():
    """The SMC API guide's example exchange, byte for byte: our requests say the same, the guide's replies give
    the guide's statuses, whatever subscription ids the server picked (0, then 5)."""
    endpoint_href = json.loads(SEED["endpoint_request"])["element"]
    node_href = json.loads(SEED["node_request"])["element"]
    p = SmcProtocol()
    p.subscribe(element(endpoint_href))
    p.subscribe(element(node_href))
    assert p.data_to_send() == [SEED["endpoint_request"].strip(), SEED["node_request"].strip()]
    assert p.parse(SEED["endpoint_subscribed"]) == Subscribed(element(endpoint_href), 0)
    assert p.parse(SEED["node_subscribed"]) == Subscribed(element(node_href), 5)
    for name, href in (("endpoint_status", endpoint_href), ("node_status", node_href)):
        event = p.parse(SEED[name])
        assert event == Data(element(href), json.loads(SEED[name])["status"]["status"])
    assert event.payload == {"monitoring_state": "READY", "monitoring_status": "OK", "name": "Plano node 1"}
    tunnel = p.parse(SEED["endpoint_status"]).payload
    assert tunnel["vpn_status_code"] == "Idle" and tunnel["traffic_in_bits_per_sec"] == 1881231412
    assert len(tunnel["result"]) == 12 and {c["type"] for c in tunnel["result"]} == {"gateway_tunnel"}
    # the same frames, recorded for these topics, replay to the same statuses
    assert p.parse_for(SEED["node_status"], element(node_href)).payload == event.payload


def test_statuses_parse_with_the_topic_they_were_subscribed_for(smc_frames):
    p = SmcProtocol()
    node = element(smc_frames["node_href"])
    endpoint = element(smc_frames["endpoint_href"])
    p.subscribe(node)
    p.subscribe(endpoint)
    assert p.data_to_send() == [
        f'{{"element":"{smc_frames["node_href"]}"}}',
        f'{{"element":"{smc_frames["endpoint_href"]}"}}',
    ]
    assert p.parse(smc_frames["success_0"]) == Subscribed(node, 0)
    assert p.parse(smc_frames["success_1"]) == Subscribed(endpoint, 1)
    # statuses may arrive in any order: they are matched by subscription id
    ep = p.parse(smc_frames["endpoint_status"])
    assert isinstance(ep, Data) and ep.topic == endpoint
    assert ep.payload["health_in_percent"] == 93
    assert ep.payload["latency_in_ms"] == 20
    assert {c["type"] for c in ep.payload["result"]} == {"gateway_tunnel"}
    assert {"vpn_status_code", "traffic_in_bits_per_sec", "packet_loss_in_permyriad", "jitter_in_ms"} <= set(ep.payload)
    status = p.parse(smc_frames["node_status"])
    assert isinstance(status, Data) and status.topic == node
    assert status.payload["engine_node_status"] == "Online"
    assert status.payload["monitoring_state"] == "READY"
    assert p.subscription_id(endpoint) == 1


def test_failure_is_matched_to_the_request_it_answers(smc_frames):
    p = SmcProtocol()
    good, bad = context("fw_single"), element("https://smc.example.com:8082/7.2/elements/single_fw/9999")
    p.subscribe(bad)
    p.subscribe(good)
    failed = p.parse(smc_frames["failure"])
    assert failed == SubscribeFailed(bad, "Element not found: https://smc.example.com:8082/7.2/elements/single_fw/9999")
    assert p.parse(smc_frames["success_0"]) == Subscribed(good, 0)
    assert p.active == (good,)


def test_unsubscribe_by_id_and_its_reply(smc_frames):
    p = SmcProtocol()
    topic = context("fw_cluster")
    p.subscribe(topic)
    p.data_to_send()
    p.parse(smc_frames["success_0"])
    p.unsubscribe(topic)
    assert p.data_to_send() == ['{"unsubscribe":0}']
    assert p.parse(smc_frames["unsubscribed"]) == Unsubscribed(topic)
    assert isinstance(p.parse(smc_frames["node_status"]), Unknown)  # a late status for id 0: kept, not routed


def test_unsubscribe_before_the_ack_unsubscribes_when_the_id_arrives(smc_frames):
    p = SmcProtocol()
    topic = context("fw_single")
    p.subscribe(topic)
    p.unsubscribe(topic)
    assert p.data_to_send() == ['{"context":"fw_single"}']
    assert p.parse(smc_frames["success_0"]) == Subscribed(topic, 0)
    assert p.data_to_send() == ['{"unsubscribe":0}']


def test_server_that_does_not_confirm_unsubscribes_is_tolerated():
    p = SmcProtocol()
    a, b = context("fw_single"), context("fw_cluster")
    p.subscribe(a)
    p.parse(smc.subscribed_frame(0))
    p.unsubscribe(a)
    p.subscribe(b)
    # no reply to the unsubscribe: the next success is the subscribe's
    assert p.parse(smc.subscribed_frame(1)) == Subscribed(b, 1)
    assert p.parse(smc.status_frame(1, {"name": "n"})) == Data(b, {"name": "n"})


def test_reconnect_forgets_ids_and_resubscribes_from_zero():
    p = SmcProtocol()
    a, b = context("fw_single"), element("https://h/7.2/elements/vpn/5")
    p.subscribe(a)
    p.subscribe(b)
    p.parse(smc.subscribed_frame(0))
    p.parse(smc.subscribed_frame(1))
    p.data_to_send()
    p.connection_made()
    assert p.data_to_send() == ['{"context":"fw_single"}', '{"element":"https://h/7.2/elements/vpn/5"}']
    assert p.subscription_id(a) is None
    assert p.parse(smc.subscribed_frame(0)) == Subscribed(a, 0)


@pytest.mark.parametrize("name", ["status_unknown_id", "unknown", "unsubscribed"])
def test_unmatched_messages_are_kept_as_unknown(smc_frames, name):
    event = SmcProtocol().parse(smc_frames[name])
    assert isinstance(event, Unknown)
    assert event.raw == smc_frames[name]


@pytest.mark.parametrize("name", ["malformed_invalid_json", "malformed_not_object"])
def test_malformed(smc_frames, name):
    assert isinstance(SmcProtocol().parse(smc_frames[name]), Malformed)


def test_success_without_numeric_id_is_malformed():
    p = SmcProtocol()
    p.subscribe(context("fw_single"))
    assert isinstance(p.parse('{"success": "Subscribed for status"}'), Malformed)
    assert p.active == ()


def test_topic_validation():
    with pytest.raises(ValueError, match="context"):
        SmcProtocol().subscribe("fw_single")


def test_parse_request():
    assert smc.parse_request('{"context": "fw_single"}') == SubscribeRequest(("context", "fw_single"))
    assert smc.parse_request('{"element": "https://h/x"}') == SubscribeRequest(("element", "https://h/x"))
    assert smc.parse_request('{"unsubscribe": 3}') == UnsubscribeRequest(3)
    assert isinstance(smc.parse_request('{"unsubscribe": "3"}'), Malformed)


# -- REST session flow, driven by hand with the answers an SMC gives ---------------------------------------


def drive(
    flow: Generator[HttpRequest, HttpResponse, Any], answers: list[HttpResponse]
) -> tuple[list[HttpRequest], Any]:
    requests = [next(flow)]
    try:
        for answer in answers:
            requests.append(flow.send(answer))
    except StopIteration as stop:
        return requests, stop.value
    raise AssertionError(f"flow wants more than {len(answers)} answers")


VERSIONS = HttpResponse(
    200, {"version": [{"rel": "6.10", "href": "x"}, {"rel": "7.2", "href": "y"}, {"rel": "7.1", "href": "z"}]}
)
ENTRY = HttpResponse(200, {"entry_point": [{"rel": "logout", "href": "https://smc:8082/7.2/logout", "method": "PUT"}]})


def test_login_flow_discovers_the_newest_version_and_keeps_the_cookie():
    requests, session = drive(
        smc.login_flow("https://smc:8082/", api_key="k3y"),
        [VERSIONS, HttpResponse(200, cookies={"JSESSIONID": "c00kie"}), ENTRY],
    )
    assert [(r.method, r.url) for r in requests] == [
        ("GET", "https://smc:8082/api"),
        ("POST", "https://smc:8082/7.2/login"),
        ("GET", "https://smc:8082/7.2/api"),
    ]
    assert requests[1].json == {"authenticationkey": "k3y", "domain": None}
    assert requests[2].headers == {"Cookie": "JSESSIONID=c00kie"}
    assert session.version == "7.2"
    assert session.entry_points["logout"] == "https://smc:8082/7.2/logout"
    assert session.socket_url() == "wss://smc:8082/7.2/status/socket"
    assert "c00kie" not in repr(session) and "k3y" not in repr(requests)


def test_login_flow_with_given_version_and_lms_login():
    requests, session = drive(
        smc.login_flow("http://smc:8082", login="admin", password="s3cret", api_version="7.1"),
        [HttpResponse(200, cookies={"JSESSIONID": "c"}), ENTRY],
    )
    assert requests[0].url == "http://smc:8082/7.1/lms_login"
    assert requests[0].params == {"login": "admin", "pwd": "s3cret"}
    assert session.socket_url() == "ws://smc:8082/7.1/status/socket"
    assert "s3cret" not in repr(requests)


def test_login_refused_is_an_authentication_error_that_says_what_to_check():
    with pytest.raises(AuthenticationError, match=r"HTTP 401.*API key"):
        drive(smc.login_flow("https://smc", api_key="bad"), [VERSIONS, HttpResponse(401)])


def test_login_without_cookie_or_versions_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="JSESSIONID"):
        drive(smc.login_flow("https://smc", api_key="k"), [VERSIONS, HttpResponse(200)])
    with pytest.raises(ProtocolError, match="api_version="):
        drive(smc.login_flow("https://smc", api_key="k"), [HttpResponse(200, {"version": []})])
    with pytest.raises(ProtocolError, match="SMC API base URL"):
        drive(smc.login_flow("https://smc", api_key="k"), [HttpResponse(404)])


def test_login_needs_one_kind_of_credentials():
    with pytest.raises(ValueError, match="api_key"):
        next(smc.login_flow("https://smc"))


def test_logout_flow():
    session = smc.SmcSession("https://smc:8082", "7.2", {"logout": "https://smc:8082/7.2/logout"}, "c")
    requests, _ = drive(smc.logout_flow(session), [HttpResponse(204)])
    assert (requests[0].method, requests[0].url, requests[0].headers) == (
        "PUT",
        "https://smc:8082/7.2/logout",
        {"Cookie": "JSESSIONID=c"},
    )
    drive(smc.logout_flow(session), [HttpResponse(401)])  # already expired: fine
    with pytest.raises(ProtocolError):
        drive(smc.logout_flow(session), [HttpResponse(500)])
