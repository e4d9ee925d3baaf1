"""Replaying a recording through the same protocol adapter a live client uses.

``sk.replay(path, speed=20)`` returns a client with the same ``subscribe(...)`` as the live one; recorded
inbound frames are fed to the adapter at the recorded pace divided by ``speed`` (``None``: as fast as possible).
Damaged recordings replay what is intact: a corrupt line is skipped and counted, a truncated file ends the replay
where it breaks, and :attr:`ReplayClient.report` says what happened.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reactivex import Observable

from .._json import JSONDecodeError, loads
from ..connection.client import Client, Record
from ..connection.transport import TransportEnded
from ..protocols import JsonWsProtocol, MistProtocol
from ..protocols.base import Adapter, Topic
from ..protocols.jsonws import ALL

__all__ = ["ReplayClient", "ReplayReport", "read_recording", "replay"]

START_DELAY = 0.1
ADAPTERS: dict[str, type[Adapter]] = {"Mist": MistProtocol, "WebSocket": JsonWsProtocol}


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


def read_recording(path: str | Path, report: ReplayReport | None = None) -> tuple[dict[str, Any], Iterator[list[Any]]]:
    """The header of a recording and an iterator over its frame lines ``[time, direction, frame, topic]``."""
    report = report if report is not None else ReplayReport()
    handle = gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115 - the line iterator closes it
    try:
        header = loads(handle.readline())
    except (OSError, EOFError, zlib.error, JSONDecodeError, UnicodeDecodeError) as exc:
        handle.close()
        raise ValueError(f"{path} is not a streamkit recording ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or "streamkit" not in header:
        handle.close()
        raise ValueError(f"{path} is not a streamkit recording: its first line is not a streamkit header")

    def lines() -> Iterator[list[Any]]:
        number = 1
        with handle:
            while True:
                try:
                    line = handle.readline()
                except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
                    report.stopped = f"the file breaks after line {number} ({type(exc).__name__}: {exc})"
                    return
                if not line:
                    return
                number += 1
                try:
                    entry = loads(line)
                except JSONDecodeError:
                    entry = None
                if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], (int, float))):
                    if not line.endswith("\n"):
                        report.stopped = f"line {number} is cut short (the recording was interrupted)"
                        return
                    report.skipped.append(number)
                    continue
                yield entry

    return header, lines()


class _ReplayTransport:
    def __init__(self, entries: Iterator[list[Any]], speed: float | None, report: ReplayReport) -> None:
        self._entries = entries
        self._speed = speed
        self._report = report
        self._origin: tuple[float, float] | None = None  # (recorded time, monotonic time) of the first frame

    async def connect(self) -> None:
        return None

    async def send(self, frame: str) -> None:
        return None  # subscriptions are answered from the recording

    async def recv(self) -> str:
        for at, direction, frame, _ in self._entries:
            if direction != "in":
                continue
            self._report.frames += 1
            if self._speed is None:
                if self._report.frames % 200 == 0:
                    await asyncio.sleep(0)  # let the loop breathe (a notebook kernel stays responsive)
                return str(frame)
            if self._origin is None:
                self._origin = (at, time.monotonic())
            due = self._origin[1] + (at - self._origin[0]) / self._speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            return str(frame)
        raise TransportEnded

    async def close(self) -> None:
        return None


class ReplayClient(Client):
    """A recorded stream as a client: ``subscribe`` as on the live client; observers complete at the end."""

    def __init__(self, path: str | Path, *, speed: float | None = 1.0, adapter: Adapter | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed is a positive factor (20: twenty times as fast) or None, not {speed}")
        self.path = Path(path)
        self.report = ReplayReport()
        self.header, self._entries = read_recording(self.path, self.report)
        kind = str(self.header.get("kind", "WebSocket"))
        if adapter is None:
            if kind not in ADAPTERS:
                raise ValueError(f"replaying {kind} recordings needs adapter=; streamkit replays {', '.join(ADAPTERS)}")
            adapter = ADAPTERS[kind]()
        super().__init__(adapter, url=f"replay:{self.path}", name=f"{kind} replay")
        self.speed = speed
        self._used = False

    def subscribe(self, topic: Topic = ALL) -> Observable[Record]:
        """The recorded records of one subscription (a Mist channel, a feed's topic), as on the live client."""
        return self._observable(topic)

    async def _open(self) -> _ReplayTransport:
        if self._used:
            raise TransportEnded  # a recording plays once
        self._used = True
        await asyncio.sleep(START_DELAY)  # subscriptions made together (one cell, one script line) all attach first
        return _ReplayTransport(self._entries, self.speed, self.report)


def replay(path: str | Path, *, speed: float | None = 1.0, adapter: Adapter | None = None) -> ReplayClient:
    """Replay a recording: ``speed=1`` real time, ``speed=20`` twenty times faster, ``speed=None`` flat out.

    Example::

        rec = sk.replay("devices.jsonl.gz", speed=None)
        rows = sk.collect(rec.subscribe(channel), timeout=60)
        rec.report          # frames replayed, corrupt lines skipped, where a damaged file ended
    """
    return ReplayClient(path, speed=speed, adapter=adapter)
