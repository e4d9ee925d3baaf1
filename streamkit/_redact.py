"""Keep credentials out of URLs and log records: websockets logs upgrade headers at DEBUG, httpx logs request URLs
(SMC's lms_login carries the password there), httpcore traces raw header tuples."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["REDACTED", "install", "install_http", "redact", "safe_url", "websockets_logger"]

REDACTED = "<redacted>"
_HEADERS = r"(?:authorization|proxy-authorization|cookie|set-cookie)"
_PATTERNS = [
    # header lines as websockets logs them: "> Authorization: Token ..."
    (re.compile(rf"(?im)^([<>] {_HEADERS}: ).*$"), rf"\g<1>{REDACTED}"),
    # header tuples as httpcore traces them: (b'Set-Cookie', b'JSESSIONID=...')
    (re.compile(rf"(?i)(b?['\"]{_HEADERS}['\"],\s*b?['\"])[^'\"]*"), rf"\g<1>{REDACTED}"),
    # name=value secrets in URLs, cookies and bodies
    (
        re.compile(
            r"(?i)\b((?:jsessionid|sessionid[\w.]*|csrftoken[\w.]*|pwd|password|authenticationkey|token|api_key)=)"
            r"[^&;\s\"',)]*"
        ),
        rf"\g<1>{REDACTED}",
    ),
]


def redact(text: str) -> str:
    """``text`` with header values and secret parameters replaced by ``<redacted>``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact` (formatting it first when it has arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactFilter()


def install(logger: logging.Logger) -> logging.Logger:
    """Attach the redacting filter to ``logger`` once (filters apply to the records a logger itself emits)."""
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def install_http() -> None:
    """Redact the loggers of the HTTP stack under httpx."""
    for name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
        install(logging.getLogger(name))


def websockets_logger(name: str = "streamkit.websockets") -> logging.Logger:
    """A logger to hand websockets' connections and servers, credentials redacted."""
    return install(logging.getLogger(name))


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (where credentials could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
