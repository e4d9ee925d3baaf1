"""Recording a client's raw frames: gzip, one JSON header line, then one tab-separated line per frame.

Header: ``{"streamkit": version, "format": 2, "kind": "Mist", "url": ..., "subscriptions": [...], "started": ...}``
(the URL without user info or query: credentials travel in headers, which are never recorded).

Frame lines: ``time <TAB> direction <TAB> encoding <TAB> topic <TAB> frame``: the receive time in epoch seconds,
``in`` or ``out``, ``-`` when the frame follows as it came off the wire or ``j`` when it contained a line break
and follows as a JSON string, the subscription it was delivered to as JSON (empty for control frames), and the
frame. Frames stay unescaped so that replay decodes each one once, in the protocol adapter.

The file is flushed at most every :data:`FLUSH_SECONDS`, so a killed process loses at most that much of the end.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Hashable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .._json import dumps, loads
from .._redact import safe_url
from .._version import __version__
from ..core import Topic

if TYPE_CHECKING:
    from ..connection.client import Client

__all__ = ["FLUSH_SECONDS", "FORMAT", "Entry", "Recorder", "decode_line", "encode_line", "record"]

#: The version of the recording format, in each file's header (``"format"``); replay reads older ones too.
FORMAT = 2
FLUSH_SECONDS = 1.0


class Entry(NamedTuple):
    """One recorded frame: when (epoch seconds), which way (``"in"``/``"out"``), its subscription, the frame.

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         rows = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> header, entries = sk.recording.read_recording(folder / "devices.jsonl.gz")
    >>> first = next(entries)                          # what the client sent first: the subscription
    >>> first.direction, first.frame.decode() == f'{{"subscribe":"{channel}"}}', first.at > 0
    ('out', True, True)
    >>> shutil.rmtree(folder)
    """

    at: float
    direction: str  # "in" or "out"
    topic: Topic | None
    frame: str | bytes


def _as_json(topic: Topic | None) -> Any:
    return list(topic) if isinstance(topic, tuple) else topic


def _from_json(value: Any) -> Topic:
    topic: Hashable = tuple(value) if isinstance(value, list) else value
    return topic


def encode_line(
    at: float, direction: str, frame: str | bytes, topic: Topic | None, topics: dict[Topic, bytes]
) -> bytes:
    """One frame line of a recording (``topics`` caches encoded topics)."""
    data = frame.encode() if isinstance(frame, str) else frame
    encoding = b"-"
    if b"\n" in data or b"\r" in data:
        data = dumps(data.decode("utf-8", "replace")).encode()
        encoding = b"j"
    where = b""
    if topic is not None:
        where = topics.get(topic, b"")
        if not where:
            where = topics[topic] = dumps(_as_json(topic)).encode()
    return b"%.6f\t%s\t%s\t%s\t%s\n" % (at, direction.encode(), encoding, where, data)


_DIRECTIONS = {b"in": "in", b"out": "out"}


def decode_line(line: bytes, topics: dict[bytes, Topic]) -> Entry:
    """A frame line (without its newline) back as an :class:`Entry` (``topics`` caches decoded topics).

    Raises ValueError (or a JSON decode error) when the line is not a frame line.
    """
    at, direction, encoding, where, frame = line.split(b"\t", 4)
    topic = None
    if where:
        topic = topics.get(where)
        if topic is None:
            topic = topics[where] = _from_json(loads(where))
    if encoding == b"-":
        return tuple.__new__(Entry, (float(at), _DIRECTIONS[direction], topic, frame))  # the replay's hot path
    if encoding != b"j":
        raise ValueError(f"unknown frame encoding {encoding!r}")
    return Entry(float(at), _DIRECTIONS[direction], topic, str(loads(frame)))


class Recorder:
    """Writes what a client sends and receives to ``path`` (``.jsonl.gz``), rotating by size and/or time.

    Rotated files are ``name-0001.jsonl.gz``, ``name-0002.jsonl.gz`` ...; each starts with its own header.
    Stop with :meth:`close`; closing the client stops it too. Create it with :func:`record`.

    Args:
        client: the client whose frames to record.
        path: the first file, ``*.jsonl.gz``.
        max_bytes / max_seconds: start a new file past this many (compressed) bytes / seconds.

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         rec = sk.record(mist, folder / "devices.jsonl.gz", max_bytes=3000)    # tiny files, to rotate
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=12, timeout=10)
    >>> len(rec.files) > 1, rec.files[1].name, rec.frames > 12
    (True, 'devices-0001.jsonl.gz', True)
    >>> shutil.rmtree(folder)
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
        self._file: gzip.GzipFile | None = None
        self._opened = 0.0
        self._flushed = 0.0
        self._written = 0
        self._topics: dict[Topic, bytes] = {}
        self._open()
        self._tap = client.tap(self.write)
        client.events.subscribe(on_completed=self.close)  # closing the client ends the recording

    def __repr__(self) -> str:
        return f"<Recorder {self.path} frames={self.frames} files={len(self.files)}>"

    def _open(self) -> None:
        n = len(self.files)
        name = self.path if n == 0 else self.path.with_name(self.path.name.replace(".jsonl.gz", f"-{n:04d}.jsonl.gz"))
        self._file = gzip.GzipFile(name, "wb", compresslevel=5)
        self.files.append(name)
        self._opened = self._flushed = time.monotonic()
        header = {
            "streamkit": __version__,
            "format": FORMAT,
            "kind": self.client.name,
            "url": safe_url(self.client.url),
            "subscriptions": [_as_json(t) for t in self.client.topics],
            "started": datetime.now(timezone.utc).isoformat(),
        }
        self._written = self._file.write((dumps(header) + "\n").encode())

    def write(self, at: float, direction: str, frame: str | bytes, topic: Topic | None) -> None:
        """One frame (the client's tap calls this)."""
        line = encode_line(at, direction, frame, topic, self._topics)
        with self._lock:
            if self._file is None:
                return
            clock = time.monotonic()
            if (self.max_bytes and self._written >= self.max_bytes) or (
                self.max_seconds and clock - self._opened >= self.max_seconds
            ):
                self._file.close()
                self._open()
            self._written += self._file.write(line)
            self.frames += 1
            if clock - self._flushed >= FLUSH_SECONDS:
                self._file.flush()  # what is flushed survives a killed process
                self._flushed = clock

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Stop recording and close the file (what was written stays readable)."""
        self._tap.dispose()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def record(client: Client, path: str | Path, **rotation: Any) -> Recorder:
    """Record ``client``'s raw frames (both ways, with receive times and subscriptions) to ``path``.

    Recording stops with ``rec.close()`` or when the client closes (``sk.mist(..., record=path)`` does the same):

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         rec = sk.record(mist, folder / "devices.jsonl.gz", max_bytes=100_000_000)
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")), count=3, timeout=10)
    >>> rec.files == [folder / "devices.jsonl.gz"], rec.frames >= 3
    (True, True)
    >>> sk.recording.read_header(folder / "devices.jsonl.gz")["kind"]
    'Mist'
    >>> shutil.rmtree(folder)
    """
    return Recorder(client, path, **rotation)
