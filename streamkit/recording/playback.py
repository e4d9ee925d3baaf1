"""Replaying a recording through the same protocol adapter a live client uses.

``sk.replay(path, speed=20)`` returns a client with the same ``subscribe(...)`` as the live one; the recording is
its transport, so recorded inbound frames go through the live client's receive loop and adapter, at the recorded
pace divided by ``speed`` (``None``: as fast as possible). Messages carry their recorded receive time, and the
replay's streams run on the recording's clock, so time windows give the results they gave live.
Damaged recordings replay what is intact: a corrupt line is skipped and counted, a truncated file ends the replay
where it breaks, and :attr:`ReplayClient.summary` says what happened.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._json import JSONDecodeError, loads
from .._time import ReplayClock
from ..connection.client import Client
from ..connection.transport import Incoming, TransportClosed, TransportEnded, TransportOptions
from ..core import Message, Stream, Topic
from ..protocols import FeedProtocol, MistProtocol, SmcProtocol
from ..protocols.base import Adapter
from ..protocols.feed import ALL
from ..protocols.smc import subscription_topic
from .recorder import Entry, decode_line

__all__ = ["RecordingReader", "ReplayClient", "ReplaySummary", "read_header", "read_recording", "replay"]

START_DELAY = 0.1
CHUNK = 256 * 1024
ADAPTERS: dict[str, type[Adapter]] = {"Mist": MistProtocol, "SMC": SmcProtocol, "Feed": FeedProtocol}
#: Kinds that older recordings name differently.
KINDS = {"WebSocket": "Feed"}


@dataclass
class ReplaySummary:
    """What a replay read: frames, skipped corrupt lines (with their line numbers), where a damaged file ended.

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         live = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> with sk.replay(folder / "devices.jsonl.gz", speed=None) as again:
    ...     rows = sk.collect(again.subscribe(channel), timeout=10)
    >>> again.summary.skipped, again.summary.stopped, str(again.summary).endswith("frames replayed")
    ([], None, True)
    >>> shutil.rmtree(folder)
    """

    frames: int = 0
    skipped: list[int] = field(default_factory=list)
    stopped: str | None = None

    def __str__(self) -> str:
        text = f"{self.frames:,} frames replayed"
        if self.skipped:
            text += f"; {len(self.skipped)} corrupt lines skipped (first at line {self.skipped[0]})"
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text


class RecordingReader:
    """A recording's header, then its frames in batches (one per compressed chunk).

    zlib directly rather than ``gzip.open``: a truncated file still gives every byte that made it to disk, and
    decompression releases the GIL, so a worker thread can read the next batch while the replay runs this one.

    Args:
        path: the recording.
        summary: where to count frames and skipped lines (a new :class:`ReplaySummary` when not given).

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         live = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> reader = sk.recording.RecordingReader(folder / "devices.jsonl.gz")
    >>> reader.header["kind"], [entry.direction for entry in reader][:1]
    ('Mist', ['out'])
    >>> reader.close()
    >>> shutil.rmtree(folder)
    """

    def __init__(self, path: str | Path, summary: ReplaySummary | None = None) -> None:
        self.path = Path(path)
        self.summary = summary if summary is not None else ReplaySummary()
        self._raw = open(self.path, "rb")  # noqa: SIM115 - closed at the end of the frames or by close()
        self._inflate = zlib.decompressobj(wbits=31)
        self._tail = b""
        self._number = 1  # the line number of the last line read
        self._topics: dict[bytes, Topic] = {}
        self._ahead: list[bytes] = []
        while not self._ahead:
            lines = self._read()
            if lines is None:
                self.close()
                reason = self.summary.stopped or "it is empty"
                raise ValueError(f"{self.path} is not a streamkit recording: {reason}")
            self._ahead = lines
        try:
            header = loads(self._ahead.pop(0))
        except JSONDecodeError:
            header = None
        if not isinstance(header, dict) or "streamkit" not in header:
            self.close()
            raise ValueError(f"{self.path} is not a streamkit recording: its first line is not a streamkit header")
        self.header: dict[str, Any] = header

    def _read(self) -> list[bytes] | None:
        """The complete lines of the next chunk (without their newlines); None at the end of the file."""
        if self._raw.closed:
            return None
        chunk = self._raw.read(CHUNK)
        if not chunk:
            return None
        try:
            data = self._inflate.decompress(chunk)
            while self._inflate.eof and self._inflate.unused_data:  # concatenated gzip members
                rest = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=31)
                data += self._inflate.decompress(rest)
        except zlib.error as exc:
            self.summary.stopped = f"the compressed data is damaged ({exc})"
            return None
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()
        return lines

    def batch(self) -> list[Entry] | None:
        """The next frames; None once the recording is exhausted (:attr:`summary` says how it ended)."""
        lines, self._ahead = self._ahead or self._read(), []
        if lines is None:
            self._finish()
            return None
        entries = []
        topics = self._topics
        for line in lines:
            self._number += 1
            try:
                entries.append(decode_line(line, topics))
            except (ValueError, KeyError, JSONDecodeError):
                self.summary.skipped.append(self._number)
        return entries

    def _finish(self) -> None:
        if self._raw.closed:
            return
        summary = self.summary
        if not self._inflate.eof and summary.stopped is None:
            summary.stopped = "the compressed file ends early (the recording was interrupted)"
        if self._tail:
            cut = "its last line is cut short"
            summary.stopped = f"{summary.stopped}; {cut}" if summary.stopped else cut
        if summary.stopped is not None:
            summary.stopped = f"the file breaks after line {self._number}: {summary.stopped}"
        self.close()

    def __iter__(self) -> Iterator[Entry]:
        for batch in iter(self.batch, None):
            yield from batch

    def close(self) -> None:
        self._raw.close()


def read_recording(path: str | Path, summary: ReplaySummary | None = None) -> tuple[dict[str, Any], Iterator[Entry]]:
    """The header of a recording and an iterator over its frames (:class:`~streamkit.recording.Entry`).

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         rows = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> header, entries = sk.recording.read_recording(folder / "devices.jsonl.gz")
    >>> header["kind"], header["url"] == sim.url
    ('Mist', True)
    >>> first, *rest = entries
    >>> first.direction, first.frame == f'{{"subscribe":"{channel}"}}'.encode()
    ('out', True)
    >>> sum(1 for e in rest if e.direction == "in" and e.topic == channel) >= 3
    True
    >>> shutil.rmtree(folder)
    """
    header = read_header(path)

    def entries() -> Iterator[Entry]:
        reader = RecordingReader(path, summary)
        try:
            yield from reader
        finally:
            reader.close()

    return header, entries()


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a recording (ValueError when ``path`` is not one).

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         live = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> header = sk.recording.read_header(folder / "devices.jsonl.gz")
    >>> header["kind"], header["format"], header["url"] == sim.url, sim.token in str(header)   # no credentials
    ('Mist', 2, True, False)
    >>> shutil.rmtree(folder)
    """
    reader = RecordingReader(path)
    reader.close()
    return reader.header


class ReplayTransport:
    """A recording as a transport: its inbound frames with their recorded times and subscriptions, in batches,
    paced by the recorded times divided by ``speed`` (``None``: as fast as the receive loop takes them).

    The next batch is decompressed on a worker thread while the loop delivers this one (zlib releases the GIL).
    """

    def __init__(self, path: Path, *, speed: float | None, summary: ReplaySummary) -> None:
        self._reader = RecordingReader(path, summary)
        self._summary = summary
        self._speed = speed
        self._loop = asyncio.get_running_loop()
        self._ahead = self._loop.run_in_executor(None, self._reader.batch)
        self._paced: deque[Incoming] = deque()
        self._origin: tuple[float, float] | None = None  # (recorded time, monotonic time) of the first frame
        self._closed = False

    async def send(self, frame: str) -> None:
        """Subscriptions are answered from the recording: nothing goes anywhere."""

    async def recv(self) -> Sequence[Incoming]:
        if self._closed:
            raise TransportClosed(1000, "", clean=True)
        if self._paced:
            return await self._next_paced()
        while True:
            batch = await self._ahead
            if batch is None:
                raise TransportEnded
            self._ahead = self._loop.run_in_executor(None, self._reader.batch)  # decompress the next meanwhile
            inbound = [(frame, at, topic) for at, direction, topic, frame in batch if direction == "in"]
            self._summary.frames += len(inbound)
            if not inbound:
                continue
            if self._speed is None:
                return inbound
            self._paced.extend(inbound)
            return await self._next_paced()

    async def _next_paced(self) -> Sequence[Incoming]:
        """The next frame once its recorded time (divided by the speed) has come."""
        assert self._speed is not None
        frame = self._paced.popleft()
        at = frame[1]
        if self._origin is None:
            self._origin = (at, time.monotonic())
        delay = self._origin[1] + (at - self._origin[0]) / self._speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return (frame,)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.wait([self._ahead])
            self._reader.close()


class ReplayClient(Client):
    """A recorded stream as a client: ``subscribe`` as on the live client; observers complete at the end.

    Its streams run on the recording's clock (:attr:`clock`, a :class:`~streamkit._time.ReplayClock` at the
    recorded time of the frame being delivered): time windows and other time operators close as they did live,
    with no ``scheduler=`` to pass. Create it with :func:`replay`.

    Args:
        path: the recording.
        speed: 1 real time, 20 twenty times as fast, None flat out.
        adapter: the protocol adapter (default: the one the header's ``kind`` names).

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         live = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> again = sk.replay(folder / "devices.jsonl.gz", speed=None)
    >>> rows = sk.collect(again.subscribe(channel), timeout=10)
    >>> rows[:3] == live, again.state, again.header["kind"]
    (True, <ConnectionState.COMPLETED: 'completed'>, 'Mist')
    >>> again.close()
    >>> shutil.rmtree(folder)
    """

    def __init__(self, path: str | Path, *, speed: float | None = 1.0, adapter: Adapter | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed is a positive factor (20: twenty times as fast) or None, not {speed}")
        self.path = Path(path)
        #: What the replay read: frames, skipped corrupt lines, where a damaged file ended.
        self.summary = ReplaySummary()
        self.header = read_header(self.path)
        kind = KINDS.get(str(self.header.get("kind")), str(self.header.get("kind")))
        if adapter is None:
            if kind not in ADAPTERS:
                raise ValueError(f"replaying {kind} recordings needs adapter=; streamkit replays {', '.join(ADAPTERS)}")
            adapter = ADAPTERS[kind]()
        self.speed = speed
        self._used = False
        super().__init__(
            adapter,
            url=f"replay:{self.path}",
            connector=self._replay,
            clock=ReplayClock(self.header["started"]),
            name=f"{kind} replay",
            subscribe_timeout=None,  # a recording answers what was asked live, not what the replay asks
        )

    def subscribe(
        self, topic: Topic = ALL, *, context: str | None = None, element: str | None = None
    ) -> Stream[Message]:
        """The recorded messages of one subscription, named as on the live client: a Mist channel, a feed's
        topic, or SMC's ``context=`` / ``element=``."""
        if context is not None or element is not None:
            topic = subscription_topic(context=context, element=element)
        return self._stream(topic)

    async def _replay(self, url: str, headers: Mapping[str, str], options: TransportOptions) -> ReplayTransport:
        if self._used:
            raise TransportEnded  # a recording plays once
        self._used = True
        await asyncio.sleep(START_DELAY)  # subscriptions made together (one cell, one script line) all attach first
        return ReplayTransport(self.path, speed=self.speed, summary=self.summary)


def replay(path: str | Path, *, speed: float | None = 1.0, adapter: Adapter | None = None) -> ReplayClient:
    """Replay a recording: ``speed=1`` real time, ``speed=20`` twenty times faster, ``speed=None`` flat out.

    Time operators on its streams run on the recording's clock, so windows close as they did live
    (``rec.subscribe(channel).pipe(sk.ops.tumbling(60))`` gives the minutes the live stream gave).

    >>> import shutil, tempfile, streamkit as sk
    >>> from pathlib import Path
    >>> from streamkit.sim import MistSimulator
    >>> folder = Path(tempfile.mkdtemp())
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     channel = sim.channel("device_stats")
    ...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
    ...         live = sk.collect(mist.subscribe(channel), count=3, timeout=10)
    >>> rec = sk.replay(folder / "devices.jsonl.gz", speed=None)     # flat out; speed=1 keeps the recorded pace
    >>> replayed = sk.collect(rec.subscribe(channel), timeout=10)   # observers complete at the end
    >>> replayed[:3] == live, replayed[0].origin == channel
    (True, True)
    >>> rec.summary.frames >= 3, rec.summary.skipped, rec.summary.stopped    # nothing damaged
    (True, [], None)
    >>> rec.close()
    >>> shutil.rmtree(folder)
    """
    return ReplayClient(path, speed=speed, adapter=adapter)
