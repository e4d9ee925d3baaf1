"""A small synchronous REST helper for discovery (listing orgs, sites, devices before subscribing), on httpx.

It GETs JSON, follows Mist's paging (``limit`` and ``page`` query parameters; ``X-Page-Total``, ``X-Page-Limit``
and ``X-Page-Page`` headers), waits out HTTP 429 as ``Retry-After`` says, and turns refusals into streamkit's
errors, which name the URL (never the credentials) and what to check:

>>> from streamkit.connection.rest import RestClient
>>> from streamkit.sim import MistSimulator
>>> with MistSimulator(seed=1, sites=3, page_limit=2) as sim, RestClient(sim.rest_url, headers=sim.headers) as rest:
...     me = rest.get("/api/v1/self")
...     sites = rest.get_all(f"/api/v1/orgs/{sim.org_id}/sites")      # two pages of at most two
>>> me["privileges"][0]["org_id"] == sim.org_id, [site["name"] for site in sites], rest.requests
(True, ['site-01', 'site-02', 'site-03'], 3)
"""

from __future__ import annotations

import email.utils
import ssl as ssl_module
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

from .._redact import install_http, safe_url
from ..errors import AuthenticationError, ConnectionLost, ProtocolError, RateLimited

__all__ = ["MIN_WAIT", "RATE_LIMIT_TRIES", "RATE_LIMIT_WAIT", "RestClient", "retry_after"]

#: HTTP 429: tries in all before giving up, and the longest single wait (seconds, whatever Retry-After says).
RATE_LIMIT_TRIES = 4
RATE_LIMIT_WAIT = 60.0
#: The shortest wait after a 429, whatever Retry-After says.
MIN_WAIT = 1.0
#: The page size asked for (Mist's largest is 1,000; the server may return fewer and says so in X-Page-Limit).
PAGE_LIMIT = 1000
#: Pages read at most for one list (a guard against a server whose paging never ends).
MAX_PAGES = 10_000


def retry_after(headers: Mapping[str, str], attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th HTTP 429 (from 0): ``Retry-After`` (seconds or an HTTP date),
    else 1, 2, 4 ... seconds; at least :data:`MIN_WAIT`, at most :data:`RATE_LIMIT_WAIT`.

    >>> retry_after({"Retry-After": "3"}, 0), retry_after({"Retry-After": "0.2"}, 0), retry_after({}, 2)
    (3.0, 1.0, 4.0)
    """
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            seconds = 2.0**attempt
    return min(max(seconds, MIN_WAIT), RATE_LIMIT_WAIT)


class RestClient:
    """GET JSON from one REST base URL with fixed credentials, synchronously (a notebook cell waits for its table).

    Args:
        base_url: e.g. ``https://api.mist.com`` or a simulator's ``rest_url``.
        headers: the credentials (``Authorization`` or ``Cookie``); never shown in reprs or errors.
        verify: an ``SSLContext`` for custom CAs, or ``False`` for a lab server (certificates checked by default).
        timeout: seconds per request.
        auth_hint: what to check when the server refuses the credentials (ends the AuthenticationError message).
        sleep: how to wait after a 429 (tests may pass their own).
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        verify: ssl_module.SSLContext | bool = True,
        timeout: float = 30.0,
        auth_hint: str = "check the credentials",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_hint = auth_hint
        #: Requests sent (429s and their retries included).
        self.requests = 0
        #: Seconds spent waiting out HTTP 429.
        self.waited = 0.0
        self._sleep = sleep
        install_http()  # httpcore traces raw headers at DEBUG
        self._http = httpx.Client(base_url=self.base_url, headers=dict(headers), verify=verify, timeout=timeout)

    def __repr__(self) -> str:
        return f"<RestClient {safe_url(self.base_url)} requests={self.requests}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _response(self, path: str, params: Mapping[str, str | int] | None) -> httpx.Response:
        url = safe_url(self.base_url + path)
        for attempt in range(RATE_LIMIT_TRIES):
            self.requests += 1
            try:
                response = self._http.get(path, params=dict(params or {}))
            except httpx.TransportError as exc:
                raise ConnectionLost(
                    f"GET {url} failed: {type(exc).__name__}: {exc}; check the host (or region) and the network"
                ) from None
            if response.status_code != 429:
                break
            wait = retry_after(response.headers, attempt)
            if attempt == RATE_LIMIT_TRIES - 1:
                raise RateLimited(
                    f"GET {url} is still rate limited (HTTP 429) after {RATE_LIMIT_TRIES} tries: the API allows "
                    "a limited number of calls per hour per token; wait a while, then ask again",
                    retry_after=wait,
                )
            self.waited += wait
            self._sleep(wait)
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"GET {url} was refused with HTTP {response.status_code}{_detail(response)}: {self.auth_hint}"
            )
        if response.status_code != 200:
            raise ProtocolError(f"GET {url} answered HTTP {response.status_code}{_detail(response)}")
        return response

    def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON of ``GET base_url + path``.

        >>> from streamkit.sim import MistSimulator
        >>> with MistSimulator(seed=1) as sim, RestClient(sim.rest_url, headers=sim.headers) as rest:
        ...     rest.get(f"/api/v1/orgs/{sim.org_id}")["id"] == sim.org_id
        True
        """
        response = self._response(path, params)
        try:
            return response.json()
        except ValueError:
            raise ProtocolError(f"GET {safe_url(self.base_url + path)} answered HTTP 200 without JSON") from None

    def get_all(self, path: str, *, params: Mapping[str, str | int] | None = None) -> list[Any]:
        """Every item of a paged list: pages are read until ``X-Page-Total`` items have come (or a page is empty).

        A list without paging headers is one page.

        >>> from streamkit.sim import MistSimulator
        >>> with MistSimulator(seed=1, aps=5, page_limit=2) as sim, RestClient(sim.rest_url, headers=sim.headers) as r:
        ...     aps = r.get_all(f"/api/v1/sites/{sim.site_ids[0]}/devices", params={"type": "ap"})
        >>> len(aps), r.requests
        (5, 3)
        """
        query: dict[str, str | int] = {"limit": PAGE_LIMIT, **(params or {})}
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            query["page"] = page
            response = self._response(path, query)
            try:
                chunk = response.json()
            except ValueError:
                raise ProtocolError(f"GET {safe_url(self.base_url + path)} answered HTTP 200 without JSON") from None
            if not isinstance(chunk, list):
                raise ProtocolError(
                    f"GET {safe_url(self.base_url + path)} answered a {type(chunk).__name__}, not a list"
                )
            items.extend(chunk)
            total = response.headers.get("X-Page-Total")
            if total is None or not total.isdigit() or not chunk or len(items) >= int(total):
                return items
        raise ProtocolError(f"GET {safe_url(self.base_url + path)} kept paging past {MAX_PAGES} pages")


def _detail(response: httpx.Response) -> str:
    """The server's own words (Mist: ``{"detail": ...}``), short."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return f" ({text[:200]})" if text else ""
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return f" ({body['detail'][:200]})"
    return ""
