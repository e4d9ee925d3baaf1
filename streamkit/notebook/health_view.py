"""Small live views of health: a client's (state, rates, reconnects, gaps, problems, per-subscription counts) and
a Dask cluster's (workers, shards, rates, restarts, gaps, errors)."""

from __future__ import annotations

import asyncio
import html
import weakref
from abc import ABC, abstractmethod
from collections import Counter
from typing import TYPE_CHECKING, Any

from .. import runtime
from .._time import span_text
from ..core import ConnectionState, ViewState
from .controls import COLOURS
from .display import show_html
from .registry import track

if TYPE_CHECKING:
    from ..connection.client import Client
    from ..scale import Cluster

__all__ = ["ClusterHealth", "Health", "health"]


def health(source: Client | Cluster, *, every: float = 1.0, **watch: Any) -> Health | ClusterHealth:
    """The health view of a client (:class:`Health`) or of a Dask cluster (:class:`ClusterHealth`, from
    :func:`streamkit.cluster`); ``watch`` adds operators' counters by name, e.g. ``late=event_windows_op`` (its
    ``late_count``) or ``dropped=backpressure_op`` (its ``dropped``).

    In a cell, ``sk.health(mist)`` (or ``mist.health()``) shows a table that refreshes every ``every`` seconds;
    :meth:`Health.snapshot` gives its figures:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         slow_view = sk.ops.backpressure("buffer", size=10_000)
    ...         view = sk.health(mist, slow_view=slow_view)
    ...         rows = sk.collect(mist.subscribe(sim.channel("device_stats")).pipe(slow_view), count=3, timeout=10)
    ...         snapshot = view.snapshot()
    >>> snapshot["url"] == sim.url, snapshot["messages"] >= 3, snapshot["reconnects"], snapshot["problems"]
    (True, True, 0, {})
    >>> snapshot["watched"]["slow_view"]["dropped"], view.snapshot()["state"]
    (0, 'closed')
    """
    from ..connection.client import Client

    if isinstance(source, Client):
        return Health(source, every=every, watch=watch)
    if watch:
        raise TypeError(f"watch counters ({', '.join(watch)}) are for a client's health view, not a cluster's")
    return ClusterHealth(source, every=every)


#: The state's colour: JupyterLab's theme colours (they follow its light and dark themes), else fixed ones.
_STATE_COLOURS = {
    "connected": COLOURS["good"],
    "failed": COLOURS["bad"],
    "closed": COLOURS["quiet"],
    "other": COLOURS["warn"],  # connecting, reconnecting
}


def _counters(obj: Any) -> dict[str, int]:
    names = ("late_count", "skipped", "dropped", "delivered", "pending")
    return {name: getattr(obj, name) for name in names if isinstance(getattr(obj, name, None), int)}


def _connection_rows(connections: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """One row per WebSocket when the client has several (each has its own drops and gaps)."""
    if len(connections) < 2:
        return []
    return [
        (
            f"↳ connection {c['connection']}",
            f"{html.escape(c['state'])} · {c['topics']:,} topics · {c['reconnects']} reconnects"
            + (f" · last gap {c['last_gap_s']} s" if c["last_gap_s"] is not None else ""),
        )
        for c in connections
    ]


class _Refreshed(ABC):
    """A table refreshed every ``every`` seconds on streamkit's loop while displayed (a widget, with pause/resume
    and stop controls), until what it watches has ended; a static table otherwise."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.paused = False
        self.closed = False
        self._widget: Any = None
        self._loop = runtime.get_loop()
        self._timer: asyncio.TimerHandle | None = None
        track(self, "view")  # weakly: sk.views() lists it, sk.close_all() or a re-run of its cell stops it

    @abstractmethod
    def _ended(self) -> bool:
        """Whether what the view watches has ended (its figures change no more)."""

    @abstractmethod
    def _repr_html_(self) -> str: ...

    def pause(self) -> None:
        """Stop refreshing the table (the figures keep counting)."""
        self.paused = True

    def resume(self) -> None:
        """Refresh the table again."""
        self.paused = False

    def close(self) -> None:
        """Stop refreshing for good (what it watches is left as it is)."""
        self.closed = True
        if self._widget is not None:
            runtime.call_soon(self._loop, _show, weakref.ref(self))

    def _ipython_display_(self) -> None:
        first = self._widget is None
        self._widget = show_html(self, self._widget)
        if first and self._widget is not None:
            runtime.call_soon(self._loop, _refresh, weakref.ref(self))


class Health(_Refreshed):
    """A client's health view: refreshed every ``every`` seconds on streamkit's loop while displayed (a widget,
    with pause/resume and stop controls); a static table otherwise.

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         view = sk.health(mist)
    ...         view.pause()
    ...         paused = str(view.status)
    >>> paused, str(view.status)                     # its client closed: nothing more to show
    ('paused', 'completed')
    >>> view.close(); str(view.status)
    'closed'
    """

    def __init__(self, client: Client, *, every: float = 1.0, watch: dict[str, Any] | None = None) -> None:
        self.client = client
        self.watch = dict(watch or {})
        super().__init__(every)

    @property
    def error(self) -> BaseException | None:
        """What ended the client, if it failed."""
        return self.client._fatal if self.client.state is ConnectionState.FAILED else None

    @property
    def status(self) -> ViewState:
        """closed (by :meth:`close`), error or completed once the client failed or closed, else paused or live."""
        if self.closed:
            return ViewState.CLOSED
        state = self.client.state
        if state is ConnectionState.FAILED:
            return ViewState.ERROR
        if state in (ConnectionState.CLOSED, ConnectionState.COMPLETED):
            return ViewState.COMPLETED
        return ViewState.PAUSED if self.paused else ViewState.LIVE

    def _ended(self) -> bool:
        return self.client.state in (ConnectionState.CLOSED, ConnectionState.FAILED, ConnectionState.COMPLETED)

    def snapshot(self) -> dict[str, Any]:
        """Everything the view shows, as plain values: the client's stats plus state, problems, watched counters."""
        client = self.client
        stats = client.stats.snapshot()
        live = {str(topic): figures for topic, figures in stats.pop("topics").items() if topic in client.topics}
        return {
            "state": str(client.state),
            "url": client.url,
            **stats,
            "last_problem": client.problems.newest.message if client.problems.newest else None,
            "connections": list(client.connections),
            "subscriptions": live,
            "watched": {name: _counters(obj) for name, obj in self.watch.items()},
        }

    def _repr_html_(self) -> str:
        s = self.snapshot()
        colour = _STATE_COLOURS.get(s["state"], _STATE_COLOURS["other"])
        rows = [
            ("state", f"<b style='color:{colour}'>{html.escape(s['state'])}</b> · {html.escape(s['url'])}"),
            ("messages", f"{s['messages']:,} · {s['rate']:,.1f}/s"),
            ("reconnects", f"{s['reconnects']} · last gap {s['last_gap_s'] if s['last_gap_s'] is not None else '-'} s"),
            *_connection_rows(s["connections"]),
            (
                "problems",
                (" · ".join(f"{n} {kind}" for kind, n in s["problems"].items()) or "none")
                + (f" · last: {html.escape(s['last_problem'])}" if s["last_problem"] else ""),
            ),
        ]
        rows += [
            (f"↳ {html.escape(t)}", f"{f['messages']:,} · {f['rate']:,.1f}/s") for t, f in s["subscriptions"].items()
        ]
        rows += [(html.escape(name), ", ".join(f"{k} {v:,}" for k, v in c.items())) for name, c in s["watched"].items()]
        return _table(rows)


class ClusterHealth(_Refreshed):
    """A Dask cluster's health view (``sk.health(cluster)``): its workers and total rate, restarts, gaps (the last
    with its shard and span), the errors subscriptions failed with, and per subscription its shards by status
    with the ones not live named. Refreshed like :class:`Health` while displayed; :meth:`snapshot` is
    ``cluster.health()``.

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=2, aps=1) as sim:
    ...     with sk.cluster(workers=1, processes=False) as cluster:    # a worker thread: quick to start
    ...         mist = sk.mist(url=sim.url, token=sim.token)
    ...         devices = cluster.subscribe(mist, [sim.channel("device_stats", site=i) for i in range(2)], shards=2)
    ...         rows = sk.collect(devices, count=4, timeout=10)
    ...         view = sk.health(cluster)
    ...         live, table = str(view.status), view._repr_html_()
    >>> live, "running</b> · 1 worker · " in table, "2 shards: 2 live" in table
    ('live', True, True)
    >>> str(view.status), "2 shards: 2 stopped" in view._repr_html_()     # the cluster was closed
    ('completed', True)
    """

    def __init__(self, cluster: Cluster, *, every: float = 1.0) -> None:
        self.cluster = cluster
        super().__init__(every)

    @property
    def error(self) -> str | None:
        """The first error a subscription of the cluster failed with (a shard's), if any."""
        errors = self.cluster.errors  # (not health(): the controls ask 4 times a second, and it asks the scheduler)
        return errors[0] if errors else None

    @property
    def status(self) -> ViewState:
        """closed (by :meth:`close`), error once a subscription failed, completed once the cluster was closed,
        else paused or live."""
        if self.closed:
            return ViewState.CLOSED
        if self.error is not None:
            return ViewState.ERROR
        if self.cluster.closed:
            return ViewState.COMPLETED
        return ViewState.PAUSED if self.paused else ViewState.LIVE

    def _ended(self) -> bool:
        return self.cluster.closed

    def snapshot(self) -> dict[str, Any]:
        """What the view shows, as plain values: ``cluster.health()``."""
        return self.cluster.health()

    def _repr_html_(self) -> str:
        s = self.snapshot()
        state = "closed" if self.cluster.closed else "failed" if s["errors"] else "running"
        running = state == "running"
        colour = {"running": COLOURS["good"], "failed": COLOURS["bad"], "closed": COLOURS["quiet"]}[state]
        workers = f"{s['workers']} worker{'s' if s['workers'] != 1 else ''}"
        gaps = s["gaps"]
        last = gaps[-1] if gaps else None
        rows = [
            (
                "state",
                f"<b style='color:{colour}'>{state}</b> · {workers}"
                + (f" · {s['rate']:,.1f} msg/s" if running else ""),
            ),
            ("restarts", f"{s['restarts']}"),
            (
                "gaps",
                f"{len(gaps)}"
                + (
                    f" · last: shard {last.shard} {html.escape(span_text(last.start, last.end) or '')}"
                    f" ({last.duration:.1f} s, {html.escape(last.cause)})"
                    if last is not None
                    else ""
                ),
            ),
            *(("error", f"<span style='color:{COLOURS['bad']}'>{html.escape(str(e))}</span>") for e in s["errors"]),
        ]
        for n, sub in enumerate(s["subscriptions"]):
            shards = sub["shards"]
            counts = Counter(shard["status"] for shard in shards)
            by_status = ", ".join(f"{k} {status}" for status, k in sorted(counts.items()))
            rows.append(
                (
                    f"↳ subscription {n}",
                    f"{html.escape(sub['status'])} · {len(shards)} shards: {by_status}"
                    + (f" · {sub.get('rate', 0):,.1f} msg/s" if sub["status"] == "running" else "")
                    + f" · dropped {sub.get('dropped', 0):,}"
                    f" · duplicates {sub.get('duplicates', 0):,}",
                )
            )
            rows += [
                (
                    f"&nbsp;&nbsp;shard {shard['shard']}",
                    f"{html.escape(shard['status'])} on {html.escape(str(shard['worker']) or '-')}"
                    f" · {shard['restarts']} restarts"
                    + (f" · {html.escape(str(shard['error']))}" if shard.get("error") else ""),
                )
                for shard in shards
                if shard["status"] != "live"
            ][: self.MAX_NAMED]
        return _table(rows)

    #: Most shards named one by one (those not live); the others are counted.
    MAX_NAMED = 10


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='text-align:left'>{k}</td><td style='text-align:left'>{v}</td></tr>" for k, v in rows
    )
    return f"<table style='font-size:12px'>{cells}</table>"


def _show(ref: weakref.ref[_Refreshed]) -> None:
    view = ref()
    if view is not None:
        view._widget.value = view._repr_html_()


def _refresh(ref: weakref.ref[_Refreshed]) -> None:
    view = ref()
    if view is None or view.closed:
        return
    if not view.paused:
        view._widget.value = view._repr_html_()
    if not view._ended():
        view._timer = view._loop.call_later(view.every, _refresh, ref)
    else:
        view._widget.value = view._repr_html_()  # the last figures, paused or not
