"""Replaying a recording through the same protocol adapter a live client uses.

``sk.replay(path, speed=20)`` returns a client with the same ``subscribe(...)`` as the live one; recorded
inbound frames are fed to the adapter at the recorded pace divided by ``speed`` (``None``: as fast as possible).
Records carry their recorded receive time, and with ``virtual_clock=True`` the replay drives a clock
(:attr:`ReplayClient.clock`) that time windows can run on, so they give the results they gave live.
Damaged recordings replay what is intact: a corrupt line is skipped and counted, a truncated file ends the replay
where it breaks, and :attr:`ReplayClient.report` says what happened.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reactivex import Observable
from reactivex.scheduler import HistoricalScheduler

from .._json import JSONDecodeError, loads
from ..connection.client import Client, Record
from ..connection.transport import TransportEnded
from ..protocols import JsonWsProtocol, MistProtocol, SmcProtocol
from ..protocols.base import Adapter, Data, Topic
from ..protocols.jsonws import ALL
from ..protocols.smc import subscription_topic
from .recorder import Entry, decode_line

__all__ = ["RecordingReader", "ReplayClient", "ReplayReport", "read_header", "read_recording", "replay"]

START_DELAY = 0.1
CHUNK = 256 * 1024
ADAPTERS: dict[str, type[Adapter]] = {"Mist": MistProtocol, "SMC": SmcProtocol, "WebSocket": JsonWsProtocol}


@dataclass
class ReplayReport:
    """What a replay read: frames, skipped corrupt lines (with their line numbers), where a damaged file ended."""

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
    """

    def __init__(self, path: str | Path, report: ReplayReport | None = None) -> None:
        self.path = Path(path)
        self.report = report if report is not None else ReplayReport()
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
                reason = self.report.stopped or "it is empty"
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
            self.report.stopped = f"the compressed data is damaged ({exc})"
            return None
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()
        return lines

    def batch(self) -> list[Entry] | None:
        """The next frames; None once the recording is exhausted (:attr:`report` says how it ended)."""
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
                self.report.skipped.append(self._number)
        return entries

    def _finish(self) -> None:
        if self._raw.closed:
            return
        report = self.report
        if not self._inflate.eof and report.stopped is None:
            report.stopped = "the compressed file ends early (the recording was interrupted)"
        if self._tail:
            cut = "its last line is cut short"
            report.stopped = f"{report.stopped}; {cut}" if report.stopped else cut
        if report.stopped is not None:
            report.stopped = f"the file breaks after line {self._number}: {report.stopped}"
        self.close()

    def __iter__(self) -> Iterator[Entry]:
        for batch in iter(self.batch, None):
            yield from batch

    def close(self) -> None:
        self._raw.close()


def read_recording(path: str | Path, report: ReplayReport | None = None) -> tuple[dict[str, Any], Iterator[Entry]]:
    """The header of a recording and an iterator over its frames (:class:`~streamkit.recording.Entry`).

    Example::

        header, entries = sk.recording.read_recording("devices.jsonl.gz")
        inbound = [e for e in entries if e.direction == "in"]
    """
    header = read_header(path)

    def entries() -> Iterator[Entry]:
        reader = RecordingReader(path, report)
        try:
            yield from reader
        finally:
            reader.close()

    return header, entries()


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a recording (ValueError when ``path`` is not one)."""
    reader = RecordingReader(path)
    reader.close()
    return reader.header


class _NoWire:
    """The replay's transport: subscriptions are answered from the recording, so nothing goes anywhere."""

    async def connect(self) -> None:
        return None

    async def send(self, frame: str) -> None:
        return None

    async def recv(self) -> str:
        raise TransportEnded

    async def close(self) -> None:
        return None


class ReplayClient(Client):
    """A recorded stream as a client: ``subscribe`` as on the live client; observers complete at the end."""

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float | None = 1.0,
        virtual_clock: bool = False,
        adapter: Adapter | None = None,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed is a positive factor (20: twenty times as fast) or None, not {speed}")
        self.path = Path(path)
        self.report = ReplayReport()
        self.header = read_header(self.path)
        kind = str(self.header.get("kind", "WebSocket"))
        if adapter is None:
            if kind not in ADAPTERS:
                raise ValueError(f"replaying {kind} recordings needs adapter=; streamkit replays {', '.join(ADAPTERS)}")
            adapter = ADAPTERS[kind]()
        super().__init__(adapter, url=f"replay:{self.path}", name=f"{kind} replay")
        self.speed = speed
        #: The recording's clock (a reactivex HistoricalScheduler at the recorded time of the frame being replayed)
        #: when ``virtual_clock=True``: pass it as ``scheduler=`` to time windows.
        self.clock: HistoricalScheduler | None = None
        if virtual_clock:
            self.clock = HistoricalScheduler(datetime.fromisoformat(self.header["started"]))
        self._used = False

    def subscribe(
        self, topic: Topic = ALL, *, context: str | None = None, element: str | None = None
    ) -> Observable[Record]:
        """The recorded records of one subscription, named as on the live client: a Mist channel, a feed's topic,
        or SMC's ``context=`` / ``element=``."""
        if context is not None or element is not None:
            topic = subscription_topic(context=context, element=element)
        return self._observable(topic)

    async def _open(self) -> _NoWire:
        if self._used:
            raise TransportEnded  # a recording plays once
        self._used = True
        await asyncio.sleep(START_DELAY)  # subscriptions made together (one cell, one script line) all attach first
        return _NoWire()

    async def _receive(self, transport: Any) -> None:
        parse = self._adapter.parse
        parse_for = self._adapter.parse_for
        deliver = self._deliver
        stats = self.stats
        report = self.report
        clock = self.clock
        speed = self.speed
        origin: tuple[float, float] | None = None  # (recorded time, monotonic time) of the first frame
        clock_at = clock.to_seconds(clock.now) if clock is not None else 0.0
        loop = asyncio.get_running_loop()
        reader = RecordingReader(self.path, self.report)
        ahead = loop.run_in_executor(None, reader.batch)
        try:
            while (batch := await ahead) is not None:
                ahead = loop.run_in_executor(None, reader.batch)  # decompress the next batch meanwhile
                for n, (at, direction, topic, frame) in enumerate(batch):
                    if direction != "in":
                        continue
                    report.frames += 1
                    if speed is not None:
                        if origin is None:
                            origin = (at, time.monotonic())
                        delay = origin[1] + (at - origin[0]) / speed - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    elif n % 500 == 0:
                        await asyncio.sleep(0)  # let the loop breathe (a notebook kernel stays responsive)
                    if not self._observers:
                        return
                    if clock is not None and at > clock_at:
                        clock.advance_to(at)  # windows that end before this frame close first, as they did live
                        clock_at = at
                    # Routed by the recorded subscription: numbered subscriptions (SMC) belong to the recorded
                    # connection, not to this replay.
                    event = parse(frame) if topic is None else parse_for(frame, topic)
                    stats.bytes += len(frame)
                    if type(event) is Data:
                        deliver(event.topic, event.payload, at)
                    else:
                        self._control(event, transport)
        finally:
            await asyncio.wait([ahead])
            reader.close()
        raise TransportEnded


def replay(
    path: str | Path, *, speed: float | None = 1.0, virtual_clock: bool = False, adapter: Adapter | None = None
) -> ReplayClient:
    """Replay a recording: ``speed=1`` real time, ``speed=20`` twenty times faster, ``speed=None`` flat out.

    ``virtual_clock=True`` gives :attr:`ReplayClient.clock`, on which time windows close as they did live.
    Example::

        rec = sk.replay("devices.jsonl.gz", speed=None, virtual_clock=True)
        windows = rec.subscribe(channel).pipe(sk.ops.tumbling(60, scheduler=rec.clock))
        rows = sk.collect(windows, timeout=60)
        rec.report          # frames replayed, corrupt lines skipped, where a damaged file ended
    """
    return ReplayClient(path, speed=speed, virtual_clock=virtual_clock, adapter=adapter)
