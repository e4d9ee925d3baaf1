"""A shard: a long-lived coroutine on a Dask worker's event loop that holds its WebSockets, runs the pipeline and
the window pre-aggregation next to them, and sends the kernel bounded batches a few times a second.

Each batch is one ``log_event`` on the run's topic: a small msgpack-able dict with the shard, its incarnation
(a new one each time the task starts: after a reschedule or a resubmission), a sequence number, counters, and the
pickled records or window partials. The kernel deduplicates by (incarnation, sequence) and turns a change of
incarnation into a reported gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pickle
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import reactivex
from reactivex import Observable, abc

from ..core import Message, Stream, Window
from ._spec import ShardSpec

__all__ = ["HELLO", "batches", "run_shard"]

#: Kinds of events a shard sends: its start, its batches, its end.
HELLO, DATA, BYE = "hello", "data", "bye"
#: Seconds between two looks at the stop event (a scheduler round trip each).
STOP_POLL = 0.5


class _Outbox:
    """What a shard has to send, bounded: at most ``max_pending`` items wait; beyond that the oldest go and are
    counted (the kernel reports them), never dropped silently."""

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self.items: deque[Any] = deque()
        self.latest: dict[Any, Any] = {}
        self.dropped = 0
        self.sent = 0
        self.progress: float | None = None  # the latest end of the windows emitted so far
        self.error: BaseException | None = None

    def record(self, record: Any) -> None:
        entry = (dict(record), getattr(record, "origin", None), getattr(record, "received", time.time()))
        if self.spec.latest is not None:
            self.latest[record.get(self.spec.latest)] = entry
            return
        self._put(entry)

    def window(self, window: Window) -> None:
        aggregate = self.spec.aggregate
        if aggregate is not None:
            partial = aggregate.partial(window)
            if partial.groups:
                self._put((partial.window, partial.groups))
        else:  # windows without an aggregate: the window's records, with its bounds
            items = [(dict(r), getattr(r, "origin", None), getattr(r, "received", 0.0)) for r in window.items]
            self._put(((window.start, window.end, window.key, window.by_count), items))
        if self.progress is None or window.end > self.progress:
            self.progress = window.end

    def _put(self, item: Any) -> None:
        self.items.append(item)
        if len(self.items) > self.spec.max_pending:
            self.items.popleft()
            self.dropped += 1

    def take(self) -> list[Any]:
        if self.latest:
            self.items.extend(self.latest.values())
            self.latest.clear()
        size = min(len(self.items), self.spec.batch_size)
        return [self.items.popleft() for _ in range(size)]


def batches(spec: ShardSpec, outbox: _Outbox) -> Callable[[Any], None]:
    """The shard pipeline's final observer: records, or windows reduced to partials."""
    if spec.windows is None:
        return outbox.record
    return lambda window: outbox.window(window) if isinstance(window, Window) else outbox.record(window)


async def run_shard(spec: ShardSpec) -> dict[str, Any]:
    """Run one shard until the run's stop event is set; returns its final counters.

    Submitted with ``Client.submit`` this coroutine runs on the worker's event loop, where its client's
    WebSockets live. Dask reruns it elsewhere when its worker dies: a new incarnation, the same channels.
    """
    distributed: Any = importlib.import_module("distributed")  # typed as Any: much of it is untyped
    worker = distributed.get_worker()
    Event = distributed.Event
    incarnation = max(time.time_ns(), spec.floor)
    stop = Event(spec.stop_event)
    seq = 0
    started = time.time()
    cpu0 = time.process_time()
    outbox = _Outbox(spec)
    counters: dict[str, Any] = {"messages": 0, "cpu": 0.0, "first_data": None}
    gaps: list[list[float]] = []

    def send(kind: str, data: list[Any] | None = None) -> None:
        nonlocal seq
        event: dict[str, Any] = {
            "shard": spec.shard,
            "inc": incarnation,
            "seq": seq,
            "kind": kind,
            "worker": worker.address,
            "at": time.time(),
            "started": started,
            "messages": counters["messages"],
            "cpu": counters["cpu"],
            "process_cpu": time.process_time() - cpu0,
            "first_data": counters["first_data"],
            "dropped": outbox.dropped,
            "sent": outbox.sent,
            "progress": outbox.progress,
            "connections": len(client.connections) if client is not None else 0,
            "gaps": list(gaps),
        }
        if data is not None:
            event["n"] = len(data)
            event["data"] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
            outbox.sent += len(data)
        gaps.clear()
        seq += 1
        worker.log_event(spec.topic, event)

    client = None
    _leave_thread_pool(worker, spec.options.get("key"))
    if await stop.is_set():
        return {"shard": spec.shard, "stopped": "before it started"}
    send(HELLO)
    client = spec.client.build(channels_per_connection=spec.channels_per_connection)
    client.events.subscribe(lambda event: _on_event(event, gaps))
    thread_time = time.thread_time

    def source(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        def on_next(message: Message) -> None:
            t0 = thread_time()
            counters["messages"] += 1
            if counters["first_data"] is None:
                counters["first_data"] = message.received
            observer.on_next(message)
            counters["cpu"] += thread_time() - t0

        merged = reactivex.merge(*(client.subscribe(channel) for channel in spec.channels))  # type: ignore[attr-defined]
        return merged.subscribe(on_next, observer.on_error, observer.on_completed, scheduler=scheduler)

    pipeline: Observable[Any] = reactivex.create(source)
    if spec.pipe:
        pipeline = pipeline.pipe(*spec.pipe)
    writer = None
    if spec.archive is not None:  # the records stay next to the connection: only what follows travels
        from ..sinks import archive

        pipeline = Stream.of(pipeline)  # one computation for the archive and the batches
        writer = archive.write(pipeline, spec.archive, partition_by=spec.archive_by)
    if spec.windows is not None:
        pipeline = pipeline.pipe(spec.windows)
    deliver = batches(spec, outbox)

    def on_error(error: Exception) -> None:
        outbox.error = error

    subscription = pipeline.subscribe(deliver, on_error)
    loop = asyncio.get_running_loop()
    try:
        next_stop_check = 0.0
        while True:
            await asyncio.sleep(spec.flush_every)
            # at least one event per flush (a heartbeat with the counters when there is nothing to send)
            data = outbox.take()
            send(DATA, data)
            while len(data) == spec.batch_size and outbox.items:
                data = outbox.take()
                send(DATA, data)
            if outbox.error is not None:
                raise outbox.error
            if loop.time() >= next_stop_check:
                next_stop_check = loop.time() + STOP_POLL
                if await stop.is_set():
                    break
    finally:
        subscription.dispose()
        if writer is not None:
            await asyncio.to_thread(writer.close)  # what is pending goes to its file
        with contextlib.suppress(Exception):
            await client.aclose()
    send(BYE, outbox.take())
    return {"shard": spec.shard, "messages": counters["messages"], "sent": outbox.sent, "dropped": outbox.dropped}


def _on_event(event: Any, gaps: list[list[float]]) -> None:
    from ..connection.events import Gap

    if isinstance(event, Gap):
        gaps.append([event.start, event.end, event.connection])


def _leave_thread_pool(worker: Any, key: str | None) -> None:
    """Tell the worker this task is long-running, as ``distributed.secede()`` does for a thread: a coroutine holds
    no thread, and without this every shard would take one of the worker's thread slots for ever (a worker with
    one thread would run one shard, the others waiting behind it)."""
    if key is None:
        return
    try:
        from distributed.worker_state_machine import SecedeEvent
    except ImportError:  # another distributed: shards then need a thread slot each (threads_per_worker)
        return
    worker.handle_stimulus(SecedeEvent(key=key, compute_duration=0.0, stimulus_id=f"streamkit-secede-{time.time()}"))
