"""Recording a client's raw frames: gzip JSON Lines, one header line, then one line per frame.

Header: ``{"streamkit": version, "format": 1, "kind": "Mist", "url": ..., "subscriptions": [...], "started": ...}``
(the URL without user info or query: credentials travel in headers, which are never recorded).
Frame lines: ``[time, "in" | "out", frame, topic]`` with the receive time in epoch seconds and, for data, the
subscription it was delivered to.
"""

from __future__ import annotations

import gzip
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .._json import dumps
from .._version import __version__
from ..protocols.base import Topic

if TYPE_CHECKING:
    from ..connection.client import Client

__all__ = ["FORMAT", "Recorder", "record", "safe_url"]

FORMAT = 1


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (where credentials could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _topic(topic: Topic | None) -> Any:
    return list(topic) if isinstance(topic, tuple) else topic


class Recorder:
    """Writes what a client sends and receives to ``path`` (``.jsonl.gz``), rotating by size and/or time.

    Rotated files are ``name-0001.jsonl.gz``, ``name-0002.jsonl.gz`` ...; each starts with its own header.
    Stop with :meth:`close` (the client's ``close()`` does it too when recording was set up with ``record=``).
    """

    def __init__(
        self, client: Client, path: str | Path, *, max_bytes: int | None = None, max_seconds: float | None = None
    ) -> None:
        self.client = client
        self.path = Path(path)
        if not self.path.name.endswith(".jsonl.gz"):
            raise ValueError(f"a recording is a .jsonl.gz file, not {self.path.name!r}")
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.files: list[Path] = []
        self.frames = 0
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._opened = 0.0
        self._written = 0
        self._open()
        client.tap = self.write

    def __repr__(self) -> str:
        return f"<Recorder {self.path} frames={self.frames} files={len(self.files)}>"

    def _open(self) -> None:
        n = len(self.files)
        name = self.path if n == 0 else self.path.with_name(self.path.name.replace(".jsonl.gz", f"-{n:04d}.jsonl.gz"))
        self._file = gzip.open(name, "wt", encoding="utf-8", compresslevel=5)  # noqa: SIM115 - open until close()
        self.files.append(name)
        self._opened = time.monotonic()
        header = {
            "streamkit": __version__,
            "format": FORMAT,
            "kind": self.client.name,
            "url": safe_url(self.client.url),
            "subscriptions": [_topic(t) for t in self.client.topics],
            "started": datetime.now(timezone.utc).isoformat(),
        }
        self._written = self._file.write(dumps(header) + "\n")

    def write(self, at: float, direction: str, frame: str | bytes, topic: Topic | None) -> None:
        """One frame (the client's tap calls this)."""
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        line = dumps([round(at, 6), direction, text, _topic(topic)]) + "\n"
        with self._lock:
            if self._file is None:
                return
            if (self.max_bytes and self._written >= self.max_bytes) or (
                self.max_seconds and time.monotonic() - self._opened >= self.max_seconds
            ):
                self._file.close()
                self._open()
            self._written += self._file.write(line)
            self.frames += 1

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Stop recording and close the file (what was written stays readable)."""
        with self._lock:
            if self.client.tap == self.write:
                self.client.tap = None
            if self._file is not None:
                self._file.close()
                self._file = None


def record(client: Client, path: str | Path, **rotation: Any) -> Recorder:
    """Record ``client``'s raw frames (both ways, with receive times and subscriptions) to ``path``.

    Example::

        rec = sk.record(mist, "devices.jsonl.gz", max_bytes=100_000_000)
        ...
        rec.close()
    """
    return Recorder(client, path, **rotation)
