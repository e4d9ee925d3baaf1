"""The kernel's side of a cluster subscription: the shards' batches in, deduplicated by (incarnation, sequence),
merged, and out as records, windows or window frames; a shard's change of incarnation as a reported gap; a shard's
failure (its pipeline raised) as the :class:`ShardError` the subscription ends with.

Pure state (no Dask, no I/O): :class:`FanIn` takes each event dict a shard sent and the kernel's time, and returns
what to emit. The cluster feeds it on streamkit's loop.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..core import Message, Window
from ._reduce import Aggregation, WindowId
from ._shard import BYE, ERROR, HELLO, ShardError

__all__ = ["FanIn", "ShardGap", "ShardState"]

#: Emitted windows kept for late partials (which re-emit the window, merged).
KEEP_EMITTED = 256


@dataclass(frozen=True, slots=True)
class ShardGap:
    """Time in which a shard's channels could not deliver: between ``start`` and ``end`` (epoch seconds).

    A window that overlaps a gap of a shard may lack that shard's records; none clear of every gap does. A lost
    shard's gap starts at its last batch, or, with windows, at the end of the last window it sent: what it held of
    the windows still open went with it, from however long ago.

    ``cause`` is ``"shard lost"`` (its worker died or its task ended: the successor took over at ``end``) or
    ``"connection"`` (one of the shard's WebSockets dropped and reconnected; ``connection`` is its number).
    A cluster subscription reports them on ``gap_events`` and in ``cluster.health()``.

    >>> gap = ShardGap(shard=3, start=1_700_000_000.0, end=1_700_000_004.5, worker="tcp://10.0.0.7:40123")
    >>> gap.cause, gap.duration
    ('shard lost', 4.5)
    """

    shard: int
    start: float
    end: float
    cause: str = "shard lost"
    worker: str = ""
    connection: int | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class ShardState:
    """What the kernel knows of one shard."""

    shard: int
    incarnation: int = 0
    incarnations: int = 0  # how many have been seen (restarts = this - 1)
    next_seq: int = 0
    worker: str = ""
    heard: float = 0.0  # kernel time of its last event
    shard_at: float = 0.0  # the shard's own time of its last event
    messages: int = 0  # of this incarnation
    total_messages: int = 0  # over every incarnation
    cpu: float = 0.0
    process_cpu: float = 0.0
    connections: int = 0
    dropped: int = 0
    progress: float | None = None  # the end of the last window this incarnation sent
    closed_after: float | None = None  # the shard's time of the batch before the one that carried that window
    first_data: float | None = None  # when this incarnation's first record came
    stopped: bool = False
    error: str | None = None  # "type: message" of the failure it ended with
    pending_gap: tuple[float, str] | None = None  # (start, worker) of a loss whose successor has no data yet
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))

    def rate(self, window: float = 5.0) -> float:
        """Messages per second at the shard over about the last ``window`` seconds."""
        if len(self.samples) < 2:
            return 0.0
        t1, n1 = self.samples[-1]
        first = next(((t, n) for t, n in self.samples if t1 - t <= window), self.samples[0])
        t0, n0 = first
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class FanIn:
    """Merges the batches of ``shards`` shards (see the module docstring).

    Args:
        shards: how many shards the subscription has.
        aggregation: the shards send window partials, merged into frames (None: records or windows).
        windows: the shards send windows (their records, or partials with ``aggregation``).
        grace: seconds to wait for shards that have not reached a window's end before it is emitted anyway.
        silence: seconds without an event after which a shard no longer holds windows back.

    A cluster subscription keeps one and feeds it every event its shards log. Here the events are written by
    hand, as a shard sends them: who sent it (shard, incarnation, sequence number), counters, the pickled records:

    >>> import pickle
    >>> def event(shard, incarnation, seq, records, *, at, first_data=None):
    ...     return {"shard": shard, "inc": incarnation, "seq": seq, "kind": "data", "worker": f"w{incarnation}",
    ...             "at": at, "messages": seq + 1, "cpu": 0.0, "process_cpu": 0.0, "connections": 1, "dropped": 0,
    ...             "first_data": first_data, "progress": None, "gaps": [], "data": pickle.dumps(records)}
    >>> fanin = FanIn(2)                                             # a subscription of two shards
    >>> first = event(0, 1, 0, [({"mac": "a1", "n": 1}, "/sites/s1/stats/devices", 10.0)], at=10.0, first_data=10.0)
    >>> fanin.receive(first, now=10.1)                               # (what to emit, the gaps it reveals)
    ([Message({'mac': 'a1', 'n': 1}, origin='/sites/s1/stats/devices')], [])
    >>> fanin.receive(first, now=10.2)                               # the same batch again: dropped
    ([], [])

    Shard 0's worker dies; Dask reruns it elsewhere, a new incarnation. Its first data closes the gap:

    >>> successor = event(0, 2, 0, [({"mac": "a1", "n": 2}, "/sites/s1/stats/devices", 14.0)], at=14.0, first_data=13.5)
    >>> records, gaps = fanin.receive(successor, now=14.1)
    >>> [record["n"] for record in records], gaps
    ([2], [ShardGap(shard=0, start=10.0, end=13.5, cause='shard lost', worker='w1', connection=None)])
    >>> fanin.duplicates, [(row["shard"], row["status"], row["restarts"]) for row in fanin.rows(now=14.2)]
    (1, [(0, 'live', 1), (1, 'starting', 0)])

    Shard 1's pipeline raises on its worker: its ``error`` event is the failure the subscription ends with:

    >>> error = {"type": "KeyError", "message": "aggregate: ['site'] not in the window's records"}
    >>> _ = fanin.receive({**event(1, 1, 0, [], at=14.0), "kind": "error", "error": error}, now=14.3)
    >>> fanin.failure.shard, [(row["status"], row["error"]) for row in fanin.rows(now=14.3)][1]
    (1, ('failed', "KeyError: aggregate: ['site'] not in the window's records"))
    """

    def __init__(
        self,
        shards: int,
        *,
        aggregation: Aggregation | None = None,
        windows: bool = False,
        grace: float = 5.0,
        silence: float = 2.0,
    ) -> None:
        self.states = [ShardState(i) for i in range(shards)]
        self.aggregation = aggregation
        self.windows = windows or aggregation is not None
        self.grace = grace
        self.silence = silence
        self.duplicates = 0  # batches seen twice (dropped)
        self.stale = 0  # batches of an incarnation that has a successor (dropped)
        self.missing = 0  # sequence numbers that never arrived
        self.revised = 0  # windows emitted again because a late partial came
        self.gaps: list[ShardGap] = []
        self.failure: ShardError | None = None  # the first shard's failure: the subscription ends with it
        self._open: dict[WindowId, Any] = {}  # window -> merged groups (or items)
        self._first_seen: dict[WindowId, float] = {}
        self._emitted: OrderedDict[WindowId, Any] = OrderedDict()
        self._by_count = False  # the windows are count windows (their bounds are positions, not times)

    # -- input ---------------------------------------------------------------------------------------------

    def receive(self, event: dict[str, Any], now: float) -> tuple[list[Any], list[ShardGap]]:
        """One shard event in: what to emit (records, windows or frames) and the gaps it reveals."""
        state = self.states[event["shard"]]
        incarnation, seq = event["inc"], event["seq"]
        gaps: list[ShardGap] = []
        if incarnation < state.incarnation:
            self.stale += 1
            return [], gaps
        if incarnation > state.incarnation:
            if state.incarnations:  # a successor: the predecessor's channels were silent in between
                start = self._lost_since(state)
                if state.pending_gap is not None:  # (a predecessor lost before it had data: one gap for both)
                    start = min(start, state.pending_gap[0])
                state.pending_gap = (start, state.worker)
            state.incarnation, state.next_seq, state.messages = incarnation, 0, 0
            state.incarnations += 1
            state.stopped = False
            state.samples.clear()
            state.progress = state.closed_after = state.first_data = None
        if seq < state.next_seq:
            self.duplicates += 1
            return [], gaps
        self.missing += seq - state.next_seq
        state.next_seq = seq + 1
        state.worker = event["worker"]
        state.heard = now
        before, state.shard_at = state.shard_at, event["at"]
        state.total_messages += event["messages"] - state.messages
        state.messages = event["messages"]
        state.cpu, state.process_cpu = event["cpu"], event["process_cpu"]
        state.connections, state.dropped = event["connections"], event["dropped"]
        state.samples.append((event["at"], event["messages"]))
        if state.first_data is None:
            state.first_data = event["first_data"]
        if event["kind"] == BYE:
            state.stopped = True
        elif event["kind"] == ERROR:
            error = event["error"]
            self.fail(ShardError.of(state.shard, len(self.states), error["type"], error["message"], state.worker))
        if state.pending_gap is not None and event["first_data"] is not None:
            start, worker = state.pending_gap
            gaps.append(ShardGap(state.shard, start, event["first_data"], "shard lost", worker))
            state.pending_gap = None
        for start, end, connection in event["gaps"]:
            gaps.append(ShardGap(state.shard, start, end, "connection", state.worker, int(connection)))
        self.gaps.extend(gaps)
        if event["kind"] == HELLO or "data" not in event:
            return self._due(now), gaps
        data = pickle.loads(event["data"])
        if event["progress"] is not None and event["progress"] != state.progress:
            state.progress = event["progress"]
            state.closed_after = before  # that window closed after the batch before this one
        if not self.windows:
            return [Message(payload, origin, received) for payload, origin, received in data], gaps
        out: list[Any] = []
        for window, part in data:
            self._by_count = window[3]
            out.extend(self._merge(window, part, now))
        out.extend(self._due(now))
        return out, gaps

    def _lost_since(self, state: ShardState) -> float:
        """Where the records a lost incarnation took with it begin: after its last event; with windows, after the
        end of the last window it sent (what it held of the windows still open is gone too, however long ago it
        came; for count windows, after the batch before the one that carried that window), or from its first record
        if it sent none."""
        start = state.shard_at
        if self.windows:
            if state.progress is None:  # no window sent: all it received is gone
                held = state.first_data
            elif self._by_count:  # a count window's end is a position: its time is when it was closed
                held = state.closed_after
            else:
                held = state.progress
            if held is not None:
                start = min(start, held)
        return start

    def fail(self, error: ShardError) -> None:
        """Record a shard's failure (from its ``error`` event, or its task's exception): health shows the shard
        as failed, and :attr:`failure` keeps the first one."""
        state = self.states[error.shard]
        state.stopped = True
        state.error = f"{error.kind}: {error.message}"
        if self.failure is None:
            self.failure = error

    def tick(self, now: float) -> list[Any]:
        """Windows whose grace has run out, or that no live shard holds back any more."""
        return self._due(now)

    def flush(self) -> list[Any]:
        """Every window still open, as it is (the subscription is ending)."""
        return [self._emit(window) for window in sorted(self._open, key=_order)]

    # -- windows -------------------------------------------------------------------------------------------

    def _merge(self, window: WindowId, part: Any, now: float) -> list[Any]:
        if window in self._emitted:  # a late partial: merge it in and emit the window again
            self.revised += 1
            self._combine(self._emitted, window, part)
            self._emitted.move_to_end(window)
            return [self._result(window, self._emitted[window])]
        if window not in self._open:
            self._first_seen[window] = now
        self._combine(self._open, window, part)
        return []

    def _combine(self, into: dict[WindowId, Any], window: WindowId, part: Any) -> None:
        if self.aggregation is not None:
            groups = into.setdefault(window, {})
            self.aggregation.merge(groups, part)
        else:
            into.setdefault(window, []).extend(part)

    def _due(self, now: float) -> list[Any]:
        if not self._open:
            return []
        live = [s for s in self.states if s.incarnations and not s.stopped and now - s.heard <= self.silence]
        out = []
        for window in sorted(self._open, key=_order):
            end = window[1]
            caught_up = all(s.progress is not None and s.progress >= end for s in live)
            if caught_up or now - self._first_seen[window] >= self.grace:
                out.append(self._emit(window))
        return out

    def _emit(self, window: WindowId) -> Any:
        merged = self._open.pop(window)
        self._first_seen.pop(window, None)
        self._emitted[window] = merged
        while len(self._emitted) > KEEP_EMITTED:
            self._emitted.popitem(last=False)
        return self._result(window, merged)

    def _result(self, window: WindowId, merged: Any) -> Any:
        if self.aggregation is not None:
            return self.aggregation.frame(window, merged)
        start, end, key, by_count = window
        items = sorted(merged, key=lambda item: item[2])  # by arrival, as one process would have seen them
        return Window(start, end, [Message(p, o, r) for p, o, r in items], key, by_count)

    # -- health --------------------------------------------------------------------------------------------

    def rows(self, now: float) -> list[dict[str, Any]]:
        """One row per shard: where it runs, whether it is live, its rate, restarts, gaps, counters and the error
        it failed with."""
        rows = []
        for s in self.states:
            if s.error is not None:
                status = "failed"
            elif not s.incarnations:
                status = "starting"
            elif s.stopped:
                status = "stopped"
            elif now - s.heard > self.silence:
                status = "silent"
            else:
                status = "live"
            rows.append(
                {
                    "shard": s.shard,
                    "worker": s.worker,
                    "status": status,
                    "rate": round(s.rate(), 1),
                    "messages": s.total_messages,
                    "connections": s.connections,
                    "restarts": max(0, s.incarnations - 1),
                    "gaps": sum(1 for g in self.gaps if g.shard == s.shard),
                    "dropped": s.dropped,
                    "cpu_us_per_msg": round(1e6 * s.cpu / s.messages, 1) if s.messages else None,
                    "silent_s": round(now - s.heard, 1) if s.incarnations else None,
                    "error": s.error,
                }
            )
        return rows


def _order(window: WindowId) -> tuple[float, float, str]:
    key: Hashable = window[2]
    return (window[1], window[0], "" if key is None else str(key))
