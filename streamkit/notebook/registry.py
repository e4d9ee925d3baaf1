"""What streamkit has running: live views, clients and simulators, to list (:func:`views`) and stop
(:func:`close_all`).

Everything is registered weakly when it is made, so a view nobody references is still collected (and then
leaves the list). In a Jupyter kernel two more things happen:

* re-running a cell stops what the previous run of that cell made (JupyterLab sends the cell's id with each
  execution, in the request's ``cellId`` metadata): ``frame = sk.LiveFrame(...); frame`` run three times leaves one
  live frame, not three kept alive by the output history (``Out``, ``_``);
* shutting down or restarting the kernel closes what is still open first (clients unsubscribe and log out,
  recordings are finished), as does the end of a script.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import html
import itertools
import logging
import sys
import threading
import weakref
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

from .. import runtime

__all__ = ["Entry", "Views", "close_all", "track", "views"]

Role = Literal["view", "cluster", "client", "simulator"]

#: The order things are stopped in: views first (they stop drawing rather than report a completed stream),
#: then the Dask clusters and clients feeding them, then the simulators serving the clients.
ROLES: tuple[Role, ...] = ("view", "cluster", "client", "simulator")

#: Seconds the clean-up at kernel shutdown (or at the end of a script) waits for clients and simulators to close.
EXIT_TIMEOUT = 5.0

log = logging.getLogger("streamkit")


@dataclass(slots=True)
class _Tracked:
    ref: weakref.ref[Any]
    role: Role
    cell: str | None  # the id of the cell that made it (JupyterLab), if any
    count: int | None  # the execution count of that run (In[n])
    order: int


_lock = threading.Lock()
_tracked: dict[int, _Tracked] = {}  # id(obj) -> how it was made; entries leave when the object is collected
_by_cell: dict[str, list[weakref.ref[Any]]] = {}
_order = itertools.count()
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()  # IPython shells whose cell runs are watched
_at_exit = False


def track(obj: Any, role: Role) -> None:
    """Register ``obj`` (weakly) as a running view, client or simulator, with the notebook cell that made it.

    Called by the classes themselves when made (views, clients) or started (simulators):

    >>> import reactivex, streamkit as sk
    >>> frame = sk.LiveFrame(reactivex.never())              # tracks itself
    >>> any(entry.object is frame for entry in sk.views())
    True
    >>> frame.close()
    """
    global _at_exit
    key = id(obj)
    cell, count = _cell()
    with _lock:
        known = _tracked.get(key)
        if known is not None and known.ref() is obj:  # a simulator started again: keep its place
            known.cell, known.count = cell, count
        else:  # (an entry under this id whose object was collected is replaced)
            _tracked[key] = _Tracked(weakref.ref(obj), role, cell, count, next(_order))
            if len(_tracked) % 256 == 0:
                _purge()
        if cell is not None:  # (references to what was collected meanwhile are let go here)
            made = [ref for ref in _by_cell.get(cell, ()) if ref() is not None]
            _by_cell[cell] = [*made, weakref.ref(obj)]
        first = not _at_exit
        _at_exit = True
    if first:  # registered after streamkit's loop: Python runs it first, while that loop still runs
        atexit.register(_close_at_exit)
    _watch_cells()


def _purge() -> None:
    """Let go of the entries of what was collected (under the lock; no weakref callbacks, which could run in
    the middle of any allocation, lock or not)."""
    for key in [key for key, tracked in _tracked.items() if tracked.ref() is None]:
        del _tracked[key]


# -- listing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One running thing: its ``kind`` (class name), ``role`` (view, client, simulator), ``state``, what it is
    (``description``) and the cell run that made it (``cell``, e.g. ``"[8]"``); ``object`` is the thing itself
    while it exists (held weakly: a listing keeps nothing alive)."""

    kind: str
    role: Role
    state: str
    description: str
    cell: str
    _ref: weakref.ref[Any]

    @property
    def object(self) -> Any:
        """The view, client or simulator (None once it has been collected)."""
        return self._ref()


class Views(Sequence[Entry]):
    """A list of :class:`Entry`, shown as a table in a notebook (``_repr_html_``) and in a terminal (``repr``)."""

    def __init__(self, entries: Sequence[Entry], *, title: str) -> None:
        self._entries = tuple(entries)
        self.title = title

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    @property
    def df(self) -> Any:
        """The list as a pandas DataFrame (kind, role, state, description, cell)."""
        import pandas as pd

        columns = ["kind", "role", "state", "description", "cell"]
        return pd.DataFrame([[getattr(e, c) for c in columns] for e in self._entries], columns=columns)

    def _table(self) -> list[tuple[str, ...]]:
        """The heading and a row per entry; the cell column only where some entry has one (in a kernel)."""
        cells = any(e.cell for e in self._entries)
        rows = [("kind", "state", "cell", "what"), *((e.kind, e.state, e.cell, e.description) for e in self._entries)]
        return [row if cells else (*row[:2], row[3]) for row in rows]

    def __repr__(self) -> str:
        if not self._entries:
            return self.title
        rows = self._table()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        lines = ["  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]) for row in rows]
        return "\n".join([self.title, *(line.rstrip() for line in lines)])

    def _repr_html_(self) -> str:
        title = f"<div style='font-size:12px;margin:2px 0'>{html.escape(self.title)}</div>"
        if not self._entries:
            return title
        head, *rows = self._table()
        pad = "style='text-align:left;padding:1px 8px'"
        cells = ["".join(f"<{tag} {pad}>{html.escape(v)}</{tag}>" for v in row) for tag, row in (("th", head),)]
        cells += ["".join(f"<td {pad}>{html.escape(v)}</td>" for v in row) for row in rows]
        return title + "<table style='font-size:12px'>" + "".join(f"<tr>{c}</tr>" for c in cells) + "</table>"


def _describe(obj: Any, role: Role) -> tuple[str, str]:
    """What ``obj`` is, in a few words, and its state (never a credential: clients' URLs carry none)."""
    try:
        if role == "client":
            topics = len(obj.topics)
            return f"{obj.url} · {topics:,} subscription{'s' if topics != 1 else ''}", str(obj.state)
        if role == "simulator":
            return obj.url, "running" if obj.running else "stopped"
        if role == "cluster":
            return repr(obj).strip("<>").removeprefix(f"{type(obj).__name__} "), "running" if _running(
                obj, role
            ) else "closed"
        state = str(obj.status)
        if hasattr(obj, "client"):  # the health view of a client
            return f"health of {obj.client.url}", state
        table: Any = getattr(obj, "state", None)
        if hasattr(table, "received") and hasattr(table, "key_name"):  # LiveFrame
            mode = f"latest per {table.key_name}" if table.key_name else "appended"
            return f"{len(table):,} rows ({mode}) · {table.received:,} received", state
        if hasattr(obj, "title") and hasattr(table, "traces"):  # LivePlot
            traces = len(table.traces)
            return f"{obj.title!r} · {table.kind} · {traces:,} trace{'s' if traces != 1 else ''}", state
        return repr(obj), state
    except Exception as exc:  # a listing never fails because one thing is half made or half gone
        return f"({type(exc).__name__}: {exc})", "unknown"


def _running(obj: Any, role: Role) -> bool:
    if role == "client":
        return str(obj.state) != "closed"
    if role == "simulator":
        return bool(obj.running)
    if role == "cluster":
        return not getattr(obj, "_closed", False)
    return str(obj.status) != "closed"


def _alive() -> list[tuple[Any, _Tracked]]:
    with _lock:
        _purge()
        tracked = sorted(_tracked.values(), key=lambda t: (ROLES.index(t.role), t.order))
    return [(obj, t) for t in tracked if (obj := t.ref()) is not None]


def _entry(obj: Any, tracked: _Tracked, state: str | None = None) -> Entry:
    description, now = _describe(obj, tracked.role)
    cell = f"[{tracked.count}]" if tracked.count is not None else ""
    return Entry(type(obj).__name__, tracked.role, state or now, description, cell, tracked.ref)


def _summary(counts: dict[Role, int]) -> str:
    parts = [f"{n} {role}{'s' if n != 1 else ''}" for role, n in counts.items() if n]
    return ", ".join(parts) or "nothing"


def views(*, closed: bool = False) -> Views:
    """What streamkit has running: live views (LiveFrame, LivePlot, health views), clients and simulators, with
    their kind, state, what they are and the cell that made them (a table in a notebook and in a terminal).

    Args:
        closed: also list those already closed or stopped (while something still references them).

    >>> import reactivex, streamkit as sk
    >>> frame = sk.LiveFrame(reactivex.never(), key="mac")
    >>> [(e.kind, e.state, e.description) for e in sk.views() if e.object is frame]
    [('LiveFrame', 'live', '0 rows (latest per mac) · 0 received')]
    >>> frame.close()
    >>> any(e.object is frame for e in sk.views()), any(e.object is frame for e in sk.views(closed=True))
    (False, True)
    """
    entries = [_entry(obj, t) for obj, t in _alive() if closed or _running(obj, t.role)]
    counts = {role: sum(e.role == role for e in entries) for role in ROLES}
    title = f"{_summary(counts)} {'tracked' if closed else 'running'}"
    if any(counts.values()) and not closed:
        title += " · sk.close_all() stops them all"
    return Views(entries, title=title)


# -- stopping -----------------------------------------------------------------------------------------------


def _stop(obj: Any, role: Role) -> None:
    if role != "simulator":
        obj.close()
    elif runtime.in_loop_thread(getattr(obj, "_loop", None) or runtime.get_loop()):
        # in a cell stop() would finish after the cell: stopped now, the cell may start it (or another on its port)
        runtime.run(obj.aclose(), timeout=10)
    else:
        obj.stop()


def _stop_all(found: list[tuple[Any, _Tracked]]) -> list[Entry]:
    """Stop each of ``found`` (in :data:`ROLES` order), carrying on past any that fails; what was stopped."""
    stopped = []
    for obj, tracked in sorted(found, key=lambda f: (ROLES.index(f[1].role), f[1].order)):
        if not _running(obj, tracked.role):
            continue
        try:
            _stop(obj, tracked.role)
        except Exception as exc:
            log.warning("could not stop %r: %s: %s", obj, type(exc).__name__, exc)
            stopped.append(_entry(obj, tracked, f"failed to stop: {type(exc).__name__}"))
            continue
        # in a cell, clients and simulators finish closing as soon as the cell returns
        stopped.append(_entry(obj, tracked, None if not _running(obj, tracked.role) else "closing"))
    return stopped


def close_all() -> Views:
    """Stop everything streamkit has running: views are closed (what they collected stays readable), clients
    closed (their streams complete) and simulators stopped. Returns what was stopped, shown as a table.

    >>> import reactivex, streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> sim = MistSimulator(seed=1, interval=0.05, sites=1, aps=2).start()
    >>> mist = sk.mist(url=sim.url, token=sim.token)
    >>> frame = sk.LiveFrame(mist.subscribe(sim.channel("device_stats")))
    >>> closed = sk.close_all()
    >>> [(e.kind, e.state) for e in closed if e.object in (sim, mist, frame)]
    [('LiveFrame', 'closed'), ('MistClient', 'closed'), ('MistSimulator', 'stopped')]
    >>> sim.running, str(mist.state), str(frame.status)
    (False, 'closed', 'closed')
    """
    stopped = _stop_all(_alive())
    counts = {role: sum(e.role == role for e in stopped) for role in ROLES}
    return Views(stopped, title=f"stopped {_summary(counts)}")


# -- notebook cells -----------------------------------------------------------------------------------------


def _shell() -> Any:
    ipython = sys.modules.get("IPython")  # not imported here: a script without IPython has no cells
    return ipython.get_ipython() if ipython is not None else None


def _cell() -> tuple[str | None, int | None]:
    """The id of the cell running now (sent by JupyterLab as ``cellId`` in the execute request's metadata) and
    its execution count; (None, None) outside a kernel."""
    shell = _shell()
    if shell is None:
        return None, None
    cell = None
    kernel = getattr(shell, "kernel", None)
    with contextlib.suppress(Exception):  # an older or another kernel: no cell ids, nothing replaced
        parent = kernel.get_parent("shell") if kernel is not None else None
        cell = ((parent or {}).get("metadata") or {}).get("cellId")
    count = getattr(shell, "execution_count", None)
    return (cell if isinstance(cell, str) and cell else None), (count if isinstance(count, int) else None)


def _watch_cells() -> None:
    shell = _shell()
    if shell is None or shell in _hooked or not hasattr(shell, "events"):
        return
    _hooked.add(shell)
    shell.events.register("pre_run_cell", _before_cell)


def _before_cell(info: Any) -> None:
    """A cell is about to run: stop what its previous run made (nothing yet comes from this run)."""
    cell = getattr(info, "cell_id", None)
    if not cell:
        return
    with _lock:
        refs = _by_cell.pop(cell, [])
        found = [(obj, _tracked[id(obj)]) for ref in refs if (obj := ref()) is not None and id(obj) in _tracked]
    _stop_all(found)
    for obj, _ in found:  # their output is being replaced: what only it used can go (a grid's table)
        release = getattr(obj, "release", None)
        if release is not None:
            release()


# -- kernel shutdown, end of a script -----------------------------------------------------------------------


def _close_at_exit() -> None:
    """Close what is still open while the interpreter exits (kernel shutdown or restart, end of a script):
    views are closed, clients and simulators closed on their own loops, bounded by :data:`EXIT_TIMEOUT`."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Coroutine[Any, Any, None]]] = {}
    for obj, tracked in _alive():
        with contextlib.suppress(Exception):
            if not _running(obj, tracked.role):
                continue
            loop = getattr(obj, "_loop", None)
            if tracked.role == "view" or loop is None:
                _stop(obj, tracked.role)
            else:  # the usual close() would wait for a loop that no longer runs: drive the loop here
                by_loop.setdefault(loop, []).append(obj.aclose())
    for loop, coros in by_loop.items():
        with contextlib.suppress(BaseException):
            _finish(loop, coros)


def _finish(loop: asyncio.AbstractEventLoop, coros: list[Coroutine[Any, Any, None]]) -> None:
    async def everything() -> None:
        await asyncio.wait_for(asyncio.gather(*coros, return_exceptions=True), EXIT_TIMEOUT)

    if loop.is_closed() or runtime.in_loop_thread(loop):
        for coro in coros:
            coro.close()
    elif loop.is_running():  # streamkit's loop thread in a script
        asyncio.run_coroutine_threadsafe(everything(), loop).result(EXIT_TIMEOUT + 1)
    else:  # the kernel's loop, stopped once the kernel was asked to shut down
        loop.run_until_complete(everything())
