"""Forcepoint SMC: the REST session flow and the status socket (sans-I/O).

Status socket, client side: :class:`SmcProtocol`. Topics are ``("context", "fw_single")`` or
``("element", href)`` (see :func:`context` and :func:`element`). The server numbers subscriptions from 0
per connection and answers requests in order, so replies are matched to requests first-in first-out,
and every status event carries the topic it was subscribed for.

REST session: :func:`login_flow` and :func:`logout_flow` are generators that yield :class:`HttpRequest`
and are sent :class:`HttpResponse`; an I/O layer drives them (see ``streamkit.connection``).

>>> p = SmcProtocol()
>>> p.subscribe(context("fw_single")); p.data_to_send()
['{"context":"fw_single"}']
>>> p.parse('{"success": "Subscribed for status", "subscription_id": 0}')
Subscribed(topic=('context', 'fw_single'), subscription_id=0)
>>> p.parse('{"status": {"status": {"name": "fw1 node 1"}}, "subscription_id": 0}')
Data(topic=('context', 'fw_single'), payload={'name': 'fw1 node 1'})
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .._json import JSONDecodeError, dumps, loads
from ..errors import AuthenticationError, ProtocolError
from .base import (
    Adapter,
    Data,
    Event,
    Malformed,
    Subscribed,
    SubscribeFailed,
    SubscribeRequest,
    Topic,
    Unknown,
    Unsubscribed,
    UnsubscribeRequest,
    clip,
)

__all__ = [
    "SESSION_COOKIE",
    "HttpRequest",
    "HttpResponse",
    "SmcProtocol",
    "SmcSession",
    "context",
    "element",
    "failure_frame",
    "login_flow",
    "logout_flow",
    "parse_request",
    "status_frame",
    "subscribed_frame",
    "subscription_topic",
    "unsubscribed_frame",
]

SESSION_COOKIE = "JSESSIONID"
TopicKind = Literal["context", "element"]


def context(name: str) -> tuple[str, str]:
    """The topic of a family subscription, e.g. ``context("fw_single")``."""
    return ("context", name)


def element(href: str) -> tuple[str, str]:
    """The topic of one element's status, by its href."""
    return ("element", href)


def subscription_topic(*, context: str | None = None, element: str | None = None) -> tuple[str, str]:
    """The topic of ``context=`` or ``element=`` (exactly one), as the clients' ``subscribe`` takes them."""
    if (context is None) == (element is None):
        raise ValueError("give exactly one of context= (e.g. 'fw_single') or element= (an element href)")
    return ("context", context) if context is not None else ("element", str(element))


def _check_topic(topic: Topic) -> tuple[str, str]:
    if (
        isinstance(topic, tuple)
        and len(topic) == 2
        and topic[0] in ("context", "element")
        and isinstance(topic[1], str)
        and topic[1]
    ):
        return topic
    raise ValueError(f"an SMC topic is ('context', name) or ('element', href), not {topic!r}")


class SmcProtocol(Adapter):
    """Client side of the SMC status socket: ``{"context": ...}`` or ``{"element": href}`` out, numbered
    subscriptions and their status in.

    >>> p = SmcProtocol()
    >>> p.subscribe(("context", "fw_single")); p.data_to_send()
    ['{"context":"fw_single"}']
    >>> p.parse('{"success": "ok", "subscription_id": 0}')
    Subscribed(topic=('context', 'fw_single'), subscription_id=0)
    >>> p.parse('{"subscription_id": 0, "fetch": 1, "status": {"name": "fw-berlin node 1"}}')
    Data(topic=('context', 'fw_single'), payload={'name': 'fw-berlin node 1'})
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: deque[tuple[str, Any]] = deque()  # ("subscribe", topic) | ("unsubscribe", id)
        self._topic_of: dict[int, Topic] = {}
        self._id_of: dict[Topic, int] = {}

    def subscription_id(self, topic: Topic) -> int | None:
        """The server's number for an acknowledged subscription on this connection."""
        return self._id_of.get(topic)

    def _reset(self) -> None:
        self._pending.clear()
        self._topic_of.clear()
        self._id_of.clear()

    def _subscribe_frames(self, topic: Topic) -> list[str]:
        kind, value = _check_topic(topic)
        self._pending.append(("subscribe", topic))
        return [dumps({kind: value})]

    def _unsubscribe_frames(self, topic: Topic) -> list[str]:
        sid = self._id_of.pop(topic, None)
        if sid is None:  # not acknowledged yet: unsubscribed as soon as its id arrives
            return []
        self._pending.append(("unsubscribe", sid))
        return [dumps({"unsubscribe": sid})]

    def parse(self, frame: str | bytes) -> Event:
        try:
            msg = loads(frame)
        except JSONDecodeError as exc:
            return Malformed(clip(frame), f"frame is not valid JSON ({exc})")
        if not isinstance(msg, dict):
            return Malformed(clip(frame), f"expected a JSON object, got {type(msg).__name__}")
        sid = msg.get("subscription_id")
        if "status" in msg:
            topic = self._topic_of.get(sid) if isinstance(sid, int) else None
            if topic is None:
                return Unknown(msg, clip(frame))
            return Data(topic, _status_of(msg))
        if "success" in msg:
            return self._on_success(msg, sid, frame)
        if "failure" in msg:
            return self._on_failure(msg, frame)
        return Unknown(msg, clip(frame))

    def parse_for(self, frame: str | bytes, topic: Topic) -> Event:
        """A recorded status goes to its recorded topic whatever its (per-connection) subscription id."""
        event = super().parse_for(frame, topic)
        if isinstance(event, Unknown) and isinstance(event.message, dict) and "status" in event.message:
            return Data(topic, _status_of(event.message))
        return event

    def _on_success(self, msg: dict[str, Any], sid: Any, frame: str | bytes) -> Event:
        # A server that does not confirm unsubscribes leaves them at the head of the queue: skip them.
        while (
            self._pending
            and self._pending[0] != ("unsubscribe", sid)
            and self._pending[0][0] == "unsubscribe"
            and any(kind == "subscribe" for kind, _ in self._pending)
        ):
            self._topic_of.pop(self._pending.popleft()[1], None)
        if not self._pending:
            return Unknown(msg, clip(frame))
        kind, what = self._pending.popleft()
        if kind == "unsubscribe":
            return Unsubscribed(self._topic_of.pop(what, None) or ("subscription", what))
        if not isinstance(sid, int):
            self._drop(what)
            return Malformed(clip(frame), "subscription confirmed without a numeric subscription_id")
        self._topic_of[sid] = what
        self._id_of[what] = sid
        if what not in self._active:  # unsubscribed while the request was in flight
            self._outbox.extend(self._unsubscribe_frames(what))
        return Subscribed(what, sid)

    def _on_failure(self, msg: dict[str, Any], frame: str | bytes) -> Event:
        if not self._pending:
            return Unknown(msg, clip(frame))
        kind, what = self._pending.popleft()
        if kind == "unsubscribe":
            self._topic_of.pop(what, None)
            return Unknown(msg, clip(frame))
        self._drop(what)
        return SubscribeFailed(what, str(msg["failure"]))


def _status_of(msg: dict[str, Any]) -> Any:
    """The status of a status message (some versions wrap it once more in ``{"status": {...}}``)."""
    status = msg["status"]
    if isinstance(status, dict) and isinstance(status.get("status"), dict) and len(status) == 1:
        return status["status"]
    return status


# -- server side -------------------------------------------------------------------------------------------


def subscribed_frame(subscription_id: int) -> str:
    return dumps({"success": "Subscribed for status", "subscription_id": subscription_id})


def unsubscribed_frame(subscription_id: int) -> str:
    return dumps({"success": "Unsubscribed", "subscription_id": subscription_id})


def status_frame(subscription_id: int, status: Mapping[str, Any]) -> str:
    return dumps({"status": {"status": status}, "subscription_id": subscription_id})


def failure_frame(reason: str) -> str:
    return dumps({"failure": reason})


def parse_request(frame: str | bytes) -> SubscribeRequest | UnsubscribeRequest | Malformed:
    """What a client asked for: ``SubscribeRequest(("context"|"element", value))`` or
    ``UnsubscribeRequest(subscription_id)``."""
    try:
        msg = loads(frame)
    except JSONDecodeError as exc:
        return Malformed(clip(frame), f"frame is not valid JSON ({exc})")
    if isinstance(msg, dict):
        for kind in ("context", "element"):
            if isinstance(msg.get(kind), str):
                return SubscribeRequest((kind, msg[kind]))
        if isinstance(msg.get("unsubscribe"), int):
            return UnsubscribeRequest(msg["unsubscribe"])
    return Malformed(clip(frame), 'expected {"context": ...}, {"element": href} or {"unsubscribe": id}')


# -- REST session ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request the session flow needs; the driver performs it and sends back the response."""

    method: str
    url: str
    params: Mapping[str, str] | None = field(default=None, repr=False)  # lms_login carries the password
    json: Any = field(default=None, repr=False)  # login carries the API key
    headers: Mapping[str, str] | None = field(default=None, repr=False)  # the session cookie


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: Any = None
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # lower-case names (Retry-After ...)


@dataclass(frozen=True, slots=True)
class SmcSession:
    """A logged-in SMC session: API version, entry points and the session cookie (never shown)."""

    base_url: str
    version: str
    entry_points: Mapping[str, str] = field(repr=False)
    cookie: str = field(repr=False)

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}

    def socket_url(self, name: str = "status") -> str:
        """``ws[s]://host:port/{version}/{name}/socket``: wss when the REST base is https."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = f"{parts.path.rstrip('/')}/{self.version}/{name}/socket"
        return urlunsplit((scheme, parts.netloc, path, "", ""))


def _version_key(rel: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in rel.split("."))
    except ValueError:
        return ()


def _expect_json(resp: HttpResponse, what: str, url: str) -> Any:
    if resp.status != 200:
        raise ProtocolError(f"{what}: GET {url} answered HTTP {resp.status}; is this an SMC API base URL?")
    if resp.body is None:
        raise ProtocolError(f"{what}: GET {url} did not answer JSON; is this an SMC API base URL?")
    return resp.body


def login_flow(
    base_url: str,
    *,
    api_key: str | None = None,
    login: str | None = None,
    password: str | None = None,
    api_version: str | None = None,
    domain: str | None = None,
) -> Generator[HttpRequest, HttpResponse, SmcSession]:
    """Discover the API version (unless given), log in, and read the entry points.

    Log in with ``api_key`` (``POST {ver}/login``) or with ``login`` and ``password`` (``lms_login``).
    Raises :class:`~streamkit.errors.AuthenticationError` when the SMC refuses the credentials.
    """
    if (api_key is None) == (login is None or password is None):
        raise ValueError("give either api_key=, or login= and password=")
    base = base_url.rstrip("/")
    if api_version is None:
        url = f"{base}/api"
        body = _expect_json((yield HttpRequest("GET", url)), "SMC version discovery", url)
        listed = body.get("version", []) if isinstance(body, dict) else []
        rels: list[str] = [
            v["rel"] for v in listed if isinstance(v, dict) and isinstance(v.get("rel"), str) and _version_key(v["rel"])
        ]
        if not rels:
            raise ProtocolError(f"SMC version discovery: {url} lists no API versions; pass api_version=")
        api_version = max(rels, key=_version_key)
    version: str = api_version
    if api_key is not None:
        resp = yield HttpRequest(
            "POST", f"{base}/{version}/login", json={"authenticationkey": api_key, "domain": domain}
        )
        how = "the API key (is the API client enabled, and allowed in this domain?)"
    else:
        resp = yield HttpRequest(
            "POST", f"{base}/{version}/lms_login", params={"login": login or "", "pwd": password or ""}
        )
        how = "the login name and password"
    if resp.status in (401, 403):
        raise AuthenticationError(f"SMC login failed (HTTP {resp.status}): check {how}")
    if resp.status == 404:
        raise ProtocolError(f"SMC login failed (HTTP 404): this SMC has no API version {version!r}")
    if not 200 <= resp.status < 300:
        raise AuthenticationError(f"SMC login failed (HTTP {resp.status}): check {how} and the SMC's API service")
    cookie = resp.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise ProtocolError(f"SMC login answered HTTP {resp.status} but set no {SESSION_COOKIE} cookie")
    url = f"{base}/{version}/api"
    body = _expect_json(
        (yield HttpRequest("GET", url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})),
        "SMC entry points",
        url,
    )
    points = body.get("entry_point", []) if isinstance(body, dict) else []
    entry_points = {p["rel"]: p["href"] for p in points if isinstance(p, dict) and "rel" in p and "href" in p}
    return SmcSession(base, version, entry_points, cookie)


def logout_flow(session: SmcSession) -> Generator[HttpRequest, HttpResponse, None]:
    """End the session (``PUT`` to the ``logout`` entry point); an already expired session is fine."""
    url = session.entry_points.get("logout", f"{session.base_url}/{session.version}/logout")
    resp = yield HttpRequest("PUT", url, headers=session.cookie_header)
    if resp.status not in (200, 204, 401):
        raise ProtocolError(f"SMC logout answered HTTP {resp.status}")
