"""The kernel's handle on a Dask cluster: sharded subscriptions, their supervisor, health and shutdown."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reactivex import Subject, abc
from reactivex.disposable import Disposable

from .. import runtime
from ..core import Stream
from ..errors import StreamkitError
from ..notebook.registry import track
from ._merge import FanIn, ShardGap
from ._reduce import Aggregation, aggregation
from ._shard import ShardError, failure, run_shard
from ._spec import Channel, ShardSpec, check_channels

if TYPE_CHECKING:
    from ..connection.client import Client

#: Dask's objects, which much of distributed leaves untyped.
DaskClient = Any
Future = Any

__all__ = ["Cluster", "ClusterSubscription", "cluster"]

log = logging.getLogger("streamkit.scale")

#: Seconds between the supervisor's looks at the shards (resubmissions, grace, the scheduler's event log).
SUPERVISE_EVERY = 0.25
#: Seconds between truncations of a run's topic on the scheduler (which keeps the last 1,000 events per topic).
TRUNCATE_EVERY = 2.0
#: Seconds ``close()`` waits for shards to stop after the stop event is set.
STOP_TIMEOUT = 15.0


def cluster(
    address: str | DaskClient | Any | None = None,
    *,
    workers: int = 2,
    threads_per_worker: int = 1,
    processes: bool = True,
    dashboard: bool = False,
    **local_options: Any,
) -> Cluster:
    """A Dask cluster for streamkit: a :class:`Cluster` to shard subscriptions over.

    Args:
        address: None starts a ``LocalCluster`` of ``workers`` processes on this machine; ``"tcp://host:8786"``
            connects to a running scheduler; a ``distributed.Client`` (or a Dask cluster object) is used as it is.
        workers, threads_per_worker, dashboard, local_options: the LocalCluster's options (``dashboard=True``
            serves Dask's dashboard on a free port; it needs bokeh).
        processes: workers in processes of their own (the default: decoding runs in parallel), or threads of
            this process (quick to start, for trying things; they share one core).

    Needs the ``cluster`` extra (``pip install 'streamkit[cluster]'``). In a script, create it under
    ``if __name__ == "__main__":`` (worker processes import the script). Close it with :meth:`Cluster.close`::

        >>> import streamkit as sk
        >>> with sk.cluster() as cluster:                                 # doctest: +SKIP
        ...     stats = cluster.subscribe(sk.mist(), channels, shards=4)
    """
    try:
        distributed: Any = importlib.import_module("distributed")  # typed as Any: much of it is untyped
    except ImportError:
        raise ImportError("sk.cluster needs Dask's distributed scheduler: pip install 'streamkit[cluster]'") from None
    if isinstance(address, distributed.Client):
        return Cluster(address, owned=())
    if isinstance(address, str):
        dask = distributed.Client(address, set_as_default=False)
        return Cluster(dask, owned=(dask,))
    if address is not None:  # a cluster object (LocalCluster, a Kubernetes or Jobqueue cluster ...)
        dask = distributed.Client(address, set_as_default=False)
        return Cluster(dask, owned=(dask,))
    local = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        dashboard_address=":0" if dashboard else None,
        **local_options,
    )
    dask = distributed.Client(local, set_as_default=False)
    return Cluster(dask, owned=(dask, local))


class Cluster:
    """Subscriptions sharded over a Dask cluster's workers; create it with :func:`cluster`.

    Each shard is a long-lived task on a worker that holds its share of the channels' WebSockets, runs the
    pipeline and the window pre-aggregation there, and sends the kernel bounded batches a few times a second.

    ``sk.cluster()`` starts worker processes and ``sk.cluster("tcp://scheduler:8786")`` joins a running cluster;
    this example hands it an in-process LocalCluster (its worker is a thread here), which starts in a fraction of
    a second and is used the same way:

    >>> import distributed, streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with (
    ...     MistSimulator(seed=1, interval=0.05, sites=2, aps=1) as sim,
    ...     distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local,
    ...     sk.cluster(local) as cluster,
    ... ):
    ...     channels = [sim.channel("device_stats", site=i) for i in range(2)]
    ...     devices = cluster.subscribe(sk.mist(url=sim.url, token=sim.token), channels, shards=2, flush_every=0.1)
    ...     held = devices.subscribe(lambda record: None)       # the first observer starts the shards
    ...     rows = sk.collect(devices, count=4, timeout=10)     # their records, merged in the kernel
    ...     health = cluster.health()
    >>> len(rows), all(row.origin in channels for row in rows)
    (4, True)
    >>> health["workers"], [shard["shard"] for shard in health["subscriptions"][0]["shards"]], health["restarts"]
    (1, [0, 1], 0)

    Leaving the ``with`` block (or :meth:`close`) stops the shards and waits until their connections are closed.
    """

    def __init__(self, dask: DaskClient, *, owned: Sequence[Any] = ()) -> None:
        self.dask = dask
        self._owned = tuple(owned)
        self._subscriptions: list[ClusterSubscription] = []
        self._closed = False
        track(self, "cluster")  # weakly: sk.views() lists it, sk.close_all() and kernel shutdown close it

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (its shards stopped; a LocalCluster it started is shut down)."""
        return self._closed

    def __repr__(self) -> str:
        if self._closed:
            return f"<Cluster closed subscriptions={len(self._subscriptions)}>"
        address = self.dask.scheduler.address if self.dask.scheduler else ""
        return f"<Cluster {address} {len(self._workers())} workers subscriptions={len(self._subscriptions)}>"

    def _workers(self) -> dict[str, Any]:
        try:
            return dict(self.dask.scheduler_info(n_workers=-1).get("workers", {}))
        except Exception:
            return {}

    def subscribe(
        self,
        source: Client,
        channels: Iterable[Channel],
        *,
        shards: int | None = None,
        channels_per_connection: int | None = None,
        pipe: Sequence[Callable[[Any], Any]] = (),
        windows: Callable[[Any], Any] | None = None,
        aggregate: Aggregation | Mapping[str, tuple[str, str]] | None = None,
        by: str | Sequence[str] | None = None,
        latest: str | None = None,
        flush_every: float = 0.25,
        batch_size: int = 1000,
        max_pending: int = 100_000,
        grace: float = 5.0,
        archive: str | os.PathLike[str] | None = None,
        archive_by: str | None = None,
    ) -> ClusterSubscription:
        """The channels of ``source`` as one hot Observable in the kernel, sharded over the workers.

        Args:
            source: a client as you would use it here, e.g. ``sk.mist(region="emea01")``: each shard builds one
                like it on its worker (credentials travel with the task, never shown). It does not connect itself.
            channels: what to subscribe to (a channel as ``source.subscribe`` takes it: a Mist channel, or the
                keyword arguments of ``smc.subscribe`` such as ``{"context": "fw_single"}``); shard ``i`` of ``n``
                takes ``channels[i::n]``.
            shards: how many shards (default: one per worker).
            channels_per_connection: channels per WebSocket within a shard (default: the source client's).
            pipe: operators each shard applies to its records first (``sk.ops.flatten()``, a filter ...).
            windows: a window operator each shard applies next (``sk.ops.tumbling(60)``,
                ``sk.ops.event_windows("_time", size=60)``): the kernel then gets windows, merged across shards.
            aggregate: with ``windows``, what each shard pre-aggregates per window: an :func:`aggregation`, or a
                mapping such as ``{"n": ("mac", "count")}`` with ``by=``; the kernel gets one DataFrame per
                window, as ``sk.ops.aggregate(by=..., **aggregate)`` gives for the same records.
            latest: without windows, send only the latest record per value of this field each flush.
            flush_every: seconds between a shard's batches; batch_size: most items in one batch;
                max_pending: most items a shard holds (beyond it the oldest go, counted in ``health()``).
            grace: seconds a window waits for shards that have not reached its end.
            archive: a folder every worker can write to (a shared filesystem): each shard also archives its
                records (after ``pipe``) there with ``sk.archive.write``, partitioned by date (and ``archive_by``),
                so raw records need not travel to the kernel; ``sk.archive.read(archive)`` reads every shard's.

        Emits records (``Message``), ``Window`` s (with ``windows``) or DataFrames (with ``aggregate``).
        Nothing starts until the first observer subscribes; when the last one leaves, the shards stop.
        """
        if self._closed:
            raise StreamkitError("this cluster is closed; create a new one with sk.cluster()")
        from ..connection.client import Client

        if not isinstance(source, Client):
            raise TypeError(f"subscribe takes a client such as sk.mist(...), not {type(source).__name__}")
        # one channel alone is a channel, not an iterable of characters or keys
        channels = (channels,) if isinstance(channels, (str, Mapping)) else tuple(channels)
        if not channels:
            raise ValueError("name at least one channel to subscribe to")
        if isinstance(aggregate, Mapping):
            aggregate = aggregation(by, **aggregate)
        elif by is not None and aggregate is None:
            raise ValueError("by= groups an aggregate: pass aggregate= too")
        if aggregate is not None and windows is None:
            raise ValueError("aggregate= pre-aggregates windows: pass windows= too, e.g. windows=sk.ops.tumbling(60)")
        if latest is not None and windows is not None:
            raise ValueError("latest= conflates records; it does not go with windows=")
        if flush_every <= 0 or batch_size < 1 or max_pending < batch_size:
            raise ValueError("flush_every is positive seconds; batch_size >= 1; max_pending >= batch_size")
        count = shards or max(1, len(self._workers()))
        count = min(count, len(channels))
        spec = source.spec()
        check_channels(source, channels)
        run = uuid.uuid4().hex[:12]
        specs = [
            ShardSpec(
                run=run,
                shard=i,
                shards=count,
                client=spec,
                channels=channels[i::count],
                channels_per_connection=channels_per_connection,
                pipe=tuple(pipe),
                windows=windows,
                aggregate=aggregate,
                latest=latest,
                flush_every=flush_every,
                batch_size=batch_size,
                max_pending=max_pending,
                archive=None if archive is None else os.fspath(archive),
                archive_by=archive_by,
            )
            for i in range(count)
        ]
        subscription = ClusterSubscription(self, specs, grace=grace)
        self._subscriptions.append(subscription)
        return subscription

    def health(self) -> dict[str, Any]:
        """Where things stand: workers, and per subscription its shards (worker, status, rate, restarts,
        gaps, dropped ...), total rate, restarts, gaps, and the errors subscriptions failed with."""
        workers = self._workers()
        return {
            "workers": len(workers),
            "subscriptions": [s.health() for s in self._subscriptions],
            "rate": round(sum(s.rate for s in self._subscriptions), 1),
            "restarts": sum(s.restarts for s in self._subscriptions),
            "gaps": [g for s in self._subscriptions for g in s.gaps],
            "errors": self.errors,
        }

    @property
    def errors(self) -> list[str]:
        """The errors its subscriptions failed with (a shard's :class:`~streamkit.scale.ShardError`), in order."""
        return [s.error for s in self._subscriptions if s.error is not None]

    def close(self) -> None:
        """Stop every shard (their stop event), wait until their connections are closed, and release the
        cluster (a LocalCluster it started is shut down)."""
        if self._closed:
            return
        self._closed = True
        for subscription in self._subscriptions:
            subscription.stop()
        for thing in self._owned:
            with contextlib.suppress(Exception):
                thing.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ClusterSubscription(Stream[Any]):
    """A sharded subscription in the kernel: a hot, shared Observable (a :class:`~streamkit.core.Stream`) of what
    the shards send, merged. Its first observer starts the shards; when the last leaves they stop.

    Here each shard windows its site's records and counts the devices per window next to the connection; the
    kernel gets one DataFrame per window, the shards' parts merged (an in-process cluster, as in
    :class:`Cluster`):

    >>> import distributed, streamkit as sk
    >>> from streamkit.scale import with_origin
    >>> from streamkit.sim import MistSimulator
    >>> with (
    ...     MistSimulator(seed=1, interval=0.05, sites=2, aps=2) as sim,
    ...     distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local,
    ...     sk.cluster(local) as cluster,
    ... ):
    ...     per_site = cluster.subscribe(
    ...         sk.mist(url=sim.url, token=sim.token),
    ...         [sim.channel("device_stats", site=i) for i in range(2)],
    ...         shards=2,                                       # one site each
    ...         pipe=[with_origin("site_id", segment=2)],       # on the workers: the site into each record
    ...         windows=sk.ops.tumbling(0.5),
    ...         aggregate={"devices": ("mac", "nunique")},
    ...         by="site_id",
    ...     )
    ...     gaps = []
    ...     _ = per_site.gap_events.subscribe(gaps.append)      # a shard lost, a WebSocket dropped
    ...     held = per_site.subscribe(lambda frame: None)       # starts the shards
    ...     frame = sk.collect(per_site, count=1, timeout=10)[0]
    ...     health = per_site.health()
    >>> list(frame.columns), set(frame["site_id"]) <= set(sim.site_ids)     # a row per site: its devices seen
    (['window_start', 'window_end', 'site_id', 'devices'], True)
    >>> per_site.shards, len(health["shards"]), health["restarts"], health["duplicates"], gaps
    (2, 2, 0, 0, [])
    """

    def __init__(self, cluster: Cluster, specs: list[ShardSpec], *, grace: float) -> None:
        #: Each :class:`ShardGap` as the kernel learns of it (a shard lost and taken over, a WebSocket dropped).
        self.gap_events: Subject[ShardGap] = Subject()
        self._cluster = cluster
        self._specs = specs
        self._grace = grace
        self._run: _Run | None = None
        self._last: _Run | None = None
        self._runs = 0
        self._leaving: list[_Run] = []  # runs whose last observer left, stopping on a thread of their own
        super().__init__(self._start)

    def __repr__(self) -> str:
        spec = self._specs[0]
        return (
            f"<ClusterSubscription {len(self._specs)} shards, {sum(len(s.channels) for s in self._specs)} channels "
            f"via {spec.client!r}>"
        )

    def _start(self, link: abc.ObserverBase[Any]) -> abc.DisposableBase:
        # Each run has its own id, so its own topic and stop event: the run its last observer just left may still
        # be stopping (setting its stop event, unsubscribing its topic) while this one starts.
        self._runs += 1
        specs = [dataclasses.replace(spec, run=f"{spec.run}-{self._runs}") for spec in self._specs]
        run = _Run(self._cluster.dask, specs, link, grace=self._grace, gaps=self.gap_events)
        self._run = self._last = run
        run.start()

        def leave() -> None:
            if self._run is run:
                self._run = None
            self._leaving = [r for r in self._leaving if r.status not in ("stopped", "failed")] + [run]
            run.stop(wait=False)

        return Disposable(leave)

    def stop(self) -> None:
        """Stop the shards now and wait until they have closed their connections (also those of a run its last
        observer left, which stop on a thread of their own: the cluster must not close under them)."""
        run = self._run
        if run is not None:
            run.stop(wait=True)
            run.link.on_completed()
        for left in self._leaving:  # (the runs before may still be stopping while a new one runs)
            left.stop(wait=True)
        self._leaving = []

    @property
    def shards(self) -> int:
        return len(self._specs)

    @property
    def rate(self) -> float:
        """Messages per second over every shard (as the shards count them)."""
        run = self._last
        return sum(s.rate() for s in run.fanin.states) if run else 0.0

    @property
    def restarts(self) -> int:
        run = self._last
        return sum(max(0, s.incarnations - 1) for s in run.fanin.states) if run else 0

    @property
    def error(self) -> str | None:
        """What the subscription failed with (a shard's error: :class:`~streamkit.scale.ShardError`), if it did."""
        run = self._last
        return str(run.error) if run is not None and run.error is not None else None

    @property
    def gaps(self) -> list[ShardGap]:
        """Every gap so far: shards lost (and taken over) and WebSockets dropped within shards."""
        run = self._last
        return list(run.fanin.gaps) if run else []

    def health(self) -> dict[str, Any]:
        run = self._last
        if run is None:
            return {"shards": [], "status": "idle"}
        now = time.time()
        fanin = run.fanin
        shards = fanin.rows(now)
        if run.status in ("stopped", "failed"):  # every shard was told to stop: none is live or silent any more
            for row in shards:
                if row["status"] in ("starting", "live", "silent"):
                    row["status"] = "stopped"
        return {
            "status": run.status,
            "shards": shards,
            "rate": round(self.rate, 1),
            "restarts": self.restarts,
            "resubmissions": run.resubmissions,
            "gaps": len(fanin.gaps),
            "duplicates": fanin.duplicates,
            "stale": fanin.stale,
            "missing_batches": fanin.missing,
            "revised_windows": fanin.revised,
            "dropped": sum(s.dropped for s in fanin.states),
            "error": self.error,
        }


class _Run:
    """One connection of a ClusterSubscription: its shards' tasks, its topic, its supervisor thread."""

    def __init__(
        self,
        dask: DaskClient,
        specs: list[ShardSpec],
        link: abc.ObserverBase[Any],
        *,
        grace: float,
        gaps: Subject[ShardGap],
    ) -> None:
        self.dask = dask
        self.gaps = gaps
        self.specs = specs
        self.link = link
        self.loop = runtime.get_loop()
        windows = specs[0].windows is not None
        self.fanin = FanIn(len(specs), aggregation=specs[0].aggregate, windows=windows, grace=grace)
        self.futures: list[Future | None] = [None] * len(specs)
        self.attempts = [0] * len(specs)
        self.resubmissions = 0
        self.status = "starting"
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False
        self.error: Exception | None = None  # what the run failed with

    @property
    def topic(self) -> str:
        return self.specs[0].topic

    def start(self) -> None:
        self.dask.subscribe_topic(self.topic, self._on_event)
        for spec in self.specs:
            self._submit(spec.shard)
        self.status = "running"
        self._thread = threading.Thread(target=self._supervise, name=f"streamkit-cluster-{self.topic}", daemon=True)
        self._thread.start()

    def _submit(self, shard: int, *, floor: int = 0) -> None:
        attempt = next_attempt = self.attempts[shard]
        self.attempts[shard] = next_attempt + 1
        key = f"streamkit-shard-{self.specs[shard].run}-{shard}-{attempt}"  # never anything from the client
        spec = dataclasses.replace(self.specs[shard], floor=floor, options={"key": key})
        self.futures[shard] = self.dask.submit(run_shard, spec, key=key, pure=False)

    # -- events from the shards (Dask's client loop thread) -> streamkit's loop ------------------------------

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        runtime.call_soon(self.loop, self._deliver, event[1])

    def _deliver(self, event: dict[str, Any]) -> None:
        if self._failed:
            return
        try:
            out, gaps = self.fanin.receive(event, time.time())
        except Exception as exc:  # a batch that does not decode: say so, do not go on silently
            self._fail(StreamkitError(f"a batch of shard {event.get('shard')} could not be merged: {exc!r}"))
            return
        self._emit(out, gaps)  # what a failed shard sent before its error still counts
        if self.fanin.failure is not None:
            self._fail(self.fanin.failure)

    def _emit(self, out: list[Any], gaps: list[ShardGap]) -> None:
        for gap in gaps:
            log.info("shard %d: %s gap of %.2f s", gap.shard, gap.cause, gap.duration)
            self.gaps.on_next(gap)
        for item in out:
            self.link.on_next(item)

    def _tick(self) -> None:
        if not self._failed:
            self._emit(self.fanin.tick(time.time()), [])

    def _fail(self, error: Exception) -> None:
        """End the run with ``error``: the shards stop, the observers get it (once, whichever path reports first:
        a shard's error event, or its task's exception through the supervisor)."""
        if self._failed:
            return
        if isinstance(error, ShardError):
            self.fanin.fail(error)  # (health shows the shard failed)
        self._failed = True
        self.error = error
        self.status = "failed"
        self.stop(wait=False)
        self.link.on_error(error)

    # -- the supervisor thread ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        truncated = time.monotonic()
        while not self._stopping.wait(SUPERVISE_EVERY):
            runtime.call_soon(self.loop, self._tick)
            for shard, future in enumerate(self.futures):
                if future is None or future.status == "pending":
                    continue
                if future.status == "error":
                    error = _exception(future)
                    if not _lost(error):  # its own failure: it would fail the same way again, so it ends the run
                        worker = self.fanin.states[shard].worker
                        runtime.call_soon(self.loop, self._fail, failure(self.specs[shard], error, worker))
                        return
                    log.warning("shard %d was lost (%s); resubmitting it", shard, error)
                else:
                    log.warning("shard %d ended (%s) before it was stopped; resubmitting it", shard, future.status)
                self.resubmissions += 1
                self._submit(shard, floor=time.time_ns())
            if time.monotonic() - truncated >= TRUNCATE_EVERY:
                truncated = time.monotonic()
                self._truncate()

    def _truncate(self) -> None:
        """Drop the run's events the scheduler keeps (they have been delivered): its memory stays bounded."""
        with contextlib.suppress(Exception):
            self.dask.run_on_scheduler(_truncate_topic, topic=self.topic)

    def stop(self, *, wait: bool) -> None:
        """Set the stop event; with ``wait``, until the shards have returned (their connections closed)."""
        if self._stopping.is_set():
            if wait:
                self._stopped.wait(STOP_TIMEOUT)
            return
        self._stopping.set()
        if self.status != "failed":
            self.status = "stopping"
        if wait:
            self._finish()
        else:
            threading.Thread(target=self._finish, name=f"streamkit-cluster-stop-{self.topic}", daemon=True).start()

    def _finish(self) -> None:
        Event = importlib.import_module("distributed").Event
        try:
            Event(self.specs[0].stop_event, client=self.dask).set()
            futures = [f for f in self.futures if f is not None]
            deadline = time.monotonic() + STOP_TIMEOUT
            while any(f.status == "pending" for f in futures) and time.monotonic() < deadline:
                time.sleep(0.05)  # (distributed.wait needs a default client, which this one need not be)
            pending = [f for f in futures if f.status == "pending"]
            if pending:
                log.warning("%d shards did not stop within %g s; cancelling them", len(pending), STOP_TIMEOUT)
                with contextlib.suppress(Exception):
                    self.dask.cancel(pending)
            with contextlib.suppress(Exception):
                self.dask.unsubscribe_topic(self.topic)
            self._truncate()
            with contextlib.suppress(Exception):
                Event(self.specs[0].stop_event, client=self.dask).clear()
        finally:
            if self.status != "failed":
                self.status = "stopped"
            self._stopped.set()


def _truncate_topic(dask_scheduler: Any, topic: str) -> None:
    broker = getattr(dask_scheduler, "_broker", None)
    if broker is not None:
        broker.truncate(topic)


def _exception(future: Future) -> BaseException:
    try:
        error: BaseException = future.exception(timeout=1)
        return error
    except Exception as exc:
        return exc


def _lost(error: BaseException) -> bool:
    """Whether a shard's error is the loss of its workers (resubmit it), not a failure of its own."""
    killed: Any = importlib.import_module("distributed").KilledWorker
    return isinstance(error, killed) or type(error).__name__ in ("FutureCancelledError", "CancelledError")
