"""A shard: a long-lived coroutine on a Dask worker's event loop that holds its WebSockets, runs the pipeline and
the window pre-aggregation next to them, and sends the kernel bounded batches a few times a second.

Each batch is one ``log_event`` on the run's topic: a small msgpack-able dict with the shard, its incarnation
(a new one each time the task starts: after a reschedule or a resubmission), a sequence number, counters, and the
pickled records or window partials. The kernel deduplicates by (incarnation, sequence) and turns a change of
incarnation into a reported gap.

An error of the pipeline (an operator that raised, an aggregate on a field the records lack) ends the shard: it
sends what it had, then an ``error`` event (the error's type and message, credentials scrubbed) on which the kernel
fails the subscription and stops its other shards, and its task raises :class:`ShardError` (an error, not a lost
worker: nothing reruns it, as the same records would fail the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pickle
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import reactivex
from reactivex import Observable, abc

from ..core import Message, Stream, Window
from ..errors import StreamkitError
from ._spec import ShardSpec, subscribe_all

__all__ = ["ERROR", "HELLO", "ShardError", "batches", "failure", "run_shard"]

log = logging.getLogger("streamkit.scale")

#: Kinds of events a shard sends: its start, its batches, its end, its failure.
HELLO, DATA, BYE, ERROR = "hello", "data", "bye", "error"
#: Seconds between two looks at the stop event (a scheduler round trip each).
STOP_POLL = 0.5
#: The most characters of a shard's error message that travel to the kernel.
MAX_MESSAGE = 2000


class ShardError(StreamkitError):
    """A shard failed on its worker (its pipeline raised): which shard, where, and the error's type and message
    (credentials scrubbed). Its subscription stops on every shard and its observers get this error; it is not
    retried, as the same records would fail the same way again.

    >>> error = ShardError(1, 2, "KeyError", "aggregate: ['site'] not in the window's records", "tcp://10.0.0.7:40123")
    >>> print(error)  # doctest: +NORMALIZE_WHITESPACE
    shard 1 of 2 failed on tcp://10.0.0.7:40123: KeyError: aggregate: ['site'] not in the window's records.
    Every shard of the subscription stopped: fix the cause and subscribe again (the worker's log has the traceback)
    >>> error.shard, error.kind
    (1, 'KeyError')

    A streamkit error raised on the shard is also of its own type, so ``except sk.AuthenticationError`` around a
    sharded subscription works as it does around a single-process one:

    >>> from streamkit.errors import AuthenticationError
    >>> refused = ShardError.of(0, 2, "AuthenticationError", "HTTP 401: check MIST_API_TOKEN")
    >>> isinstance(refused, AuthenticationError), isinstance(refused, ShardError), type(refused).__name__
    (True, True, 'ShardError')
    >>> import pickle                                # as it comes from a worker
    >>> isinstance(pickle.loads(pickle.dumps(refused)), AuthenticationError)
    True
    """

    @staticmethod
    def of(shard: int, shards: int, kind: str, message: str, worker: str = "") -> ShardError:
        """A ShardError that is also of the streamkit error type named ``kind`` when there is one (see above)."""
        return _shard_error_type(kind)(shard, shards, kind, message, worker)

    def __init__(self, shard: int, shards: int, kind: str, message: str, worker: str = "") -> None:
        where = f"on {worker}" if worker else "on its worker"
        super().__init__(
            f"shard {shard} of {shards} failed {where}: {kind}: {message.rstrip('.')}. Every shard of the subscription "
            "stopped: fix the cause and subscribe again (the worker's log has the traceback)"
        )
        self.shard, self.shards, self.kind, self.message, self.worker = shard, shards, kind, message, worker

    def __reduce__(self) -> tuple[Any, ...]:  # (an exception pickles its args: the message alone)
        return (ShardError.of, (self.shard, self.shards, self.kind, self.message, self.worker))


_SHARD_ERROR_TYPES: dict[str, type[ShardError]] = {}


def _shard_error_type(kind: str) -> type[ShardError]:
    """ShardError, or a ShardError that is also ``streamkit.errors.<kind>`` when that is a streamkit error made
    from a message alone (one whose fields, such as ``RateLimited.retry_after``, the event does not carry is not)."""
    from .. import errors

    found = getattr(errors, kind, None)
    if (
        not isinstance(found, type)
        or not issubclass(found, StreamkitError)
        or issubclass(ShardError, found)  # (StreamkitError itself)
        or found.__init__ is not Exception.__init__  # one with fields of its own, which the event does not carry
    ):
        return ShardError
    if kind not in _SHARD_ERROR_TYPES:
        _SHARD_ERROR_TYPES[kind] = type("ShardError", (ShardError, found), {"__module__": __name__})
    return _SHARD_ERROR_TYPES[kind]


def failure(spec: ShardSpec, error: BaseException, worker: str = "") -> ShardError:
    """``error`` of ``spec``'s shard as the kernel reports it: its type's name and its message, with the credentials
    the shard holds scrubbed, cut at :data:`MAX_MESSAGE` characters."""
    if isinstance(error, ShardError):
        return error
    args = error.args
    if isinstance(error, KeyError) and len(args) == 1 and isinstance(args[0], str) and " " in args[0]:
        message = args[0]  # a sentence (the aggregate's), not a key: KeyError's str would quote it
    else:
        message = str(error) or "(no message)"
    message = spec.client.secret.scrub(message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " ..."
    return ShardError.of(spec.shard, spec.shards, type(error).__name__, message, worker)


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
        self.error: BaseException | None = None  # the pipeline's first error: the shard ends with it

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error

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
    """The shard pipeline's final observer: records, or windows reduced to partials.

    What it raises (the aggregate on a field the records lack) fails the shard as an error of the pipeline does:
    it is kept in the outbox, which takes nothing more. Raised from here it would reach only the worker's event
    loop (the timer or the connection that emitted), which logs it and goes on while the kernel hears nothing."""
    windows = spec.windows is not None

    def deliver(item: Any) -> None:
        if outbox.error is not None:
            return
        try:
            if windows and isinstance(item, Window):
                outbox.window(item)
            else:
                outbox.record(item)
        except Exception as error:
            outbox.fail(error)

    return deliver


async def run_shard(spec: ShardSpec) -> dict[str, Any]:
    """Run one shard until the run's stop event is set; returns its final counters.

    Submitted with ``Client.submit`` this coroutine runs on the worker's event loop, where its client's
    WebSockets live. Dask reruns it elsewhere when its worker dies: a new incarnation, the same channels. An error
    of its pipeline is sent to the kernel and raised as a :class:`ShardError` (see the module docstring).
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

    def send(kind: str, data: list[Any] | None = None, error: ShardError | None = None) -> None:
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
        if error is not None:
            event["error"] = {"type": error.kind, "message": error.message}
        gaps.clear()
        seq += 1
        worker.log_event(spec.topic, event)

    client: Any = None
    _leave_thread_pool(worker, spec.options.get("key"))
    if await stop.is_set():
        return {"shard": spec.shard, "stopped": "before it started"}
    send(HELLO)
    client = spec.client.build(channels_per_connection=spec.channels_per_connection)
    client.events.subscribe(lambda event: _on_event(event, gaps))
    subscription: abc.DisposableBase | None = None
    writer: Any = None
    try:  # (from here on the client is closed whatever happens: an SMC session must not outlive the shard)
        try:
            streams = await subscribe_all(client, spec.channels, spec.client.options.get("reconnect"))
        except Exception as refused:  # an SMC element name the server does not know ...: the shard's error
            outbox.fail(refused)
            streams = []
        pipeline, writer = _pipeline(spec, streams, counters)
        subscription = pipeline.subscribe(batches(spec, outbox), outbox.fail)
        loop = asyncio.get_running_loop()
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
                error = failure(spec, outbox.error, worker.address)
                log.error(
                    "shard %d of run %s failed:\n%s",
                    spec.shard,
                    spec.run,
                    spec.client.secret.scrub("".join(traceback.format_exception(outbox.error))),
                )
                send(ERROR, error=error)  # the kernel fails the subscription and stops the other shards
                raise error
            if loop.time() >= next_stop_check:
                next_stop_check = loop.time() + STOP_POLL
                if await stop.is_set():
                    break
    finally:
        if subscription is not None:
            subscription.dispose()
        if writer is not None:
            await asyncio.to_thread(writer.close)  # what is pending goes to its file
        with contextlib.suppress(Exception):
            await client.aclose()
    send(BYE, outbox.take())
    return {"shard": spec.shard, "messages": counters["messages"], "sent": outbox.sent, "dropped": outbox.dropped}


def _pipeline(spec: ShardSpec, streams: list[Any], counters: dict[str, Any]) -> tuple[Observable[Any], Any]:
    """The shard's records through its ``pipe``, archive and windows, counted (messages, the CPU their pipeline
    took, the first one's arrival); and the archive's writer (None without one)."""
    thread_time = time.thread_time

    def source(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        def on_next(message: Message) -> None:
            t0 = thread_time()
            counters["messages"] += 1
            if counters["first_data"] is None:
                counters["first_data"] = message.received
            observer.on_next(message)
            counters["cpu"] += thread_time() - t0

        merged = reactivex.merge(*streams)
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
    return pipeline, writer


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
