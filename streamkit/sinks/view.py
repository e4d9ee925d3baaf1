"""What LiveFrame and LivePlot share: a subscription, batched ingest, a frame budget, pause/resume/close.

Records are queued by the observer and taken in batches at most ``fps`` times a second by a timer on streamkit's
loop (the kernel's own loop in Jupyter), which is also the only place a widget is touched. The timer and the
observer hold the view weakly: a view nobody references any more stops and unsubscribes.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from typing import Any

from reactivex import Observable, abc

from .. import runtime
from ..core import Message, ViewState, Window

__all__ = ["LiveView", "rows_of"]


def _weak(view: LiveView, method: Callable[[LiveView, Any], None]) -> Callable[..., None]:
    ref = weakref.ref(view)

    def call(arg: Any = None) -> None:
        target = ref()
        if target is not None:
            method(target, arg)

    return call


def rows_of(batch: list[Any]) -> list[Any]:
    """A batch of records with any DataFrame (a window's aggregate) spread into its rows."""
    rows: list[Any] = []
    for item in batch:
        if hasattr(item, "to_dict") and hasattr(item, "columns"):
            rows.extend(item.to_dict("records"))
        else:
            rows.append(item)
    return rows


def _span(item: Any) -> tuple[float, float]:
    """The time an item stands for: a record's arrival, a window's bounds, else now."""
    if type(item) is Message:
        return item.received, item.received
    if isinstance(item, Window) and not item.by_count:
        return item.start, item.end
    at = time.time()
    return at, at


class LiveView(ABC):
    """Base of the live sinks. Subclasses take batches (:meth:`_ingest`) and draw (:meth:`_render`)."""

    def __init__(self, source: Observable[Any], *, fps: float = 4.0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.fps = fps
        #: The Observable the view shows (an archive of the view subscribes to it too).
        self.source = source
        self.paused = False
        self.closed = False
        self.completed = False
        self.error: BaseException | None = None
        #: Times (loop clock) at which the view was redrawn; bounded, for tests and the health view.
        self.renders: list[float] = []
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self._drawn_version = -1
        self._widget: Any = None
        self._arrivals = 0
        self._origins: set[Hashable] = set()
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._loop = runtime.get_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._subscription: abc.DisposableBase = source.subscribe(
            _weak(self, LiveView._on_next), _weak(self, LiveView._on_error), _weak(self, LiveView._on_completed)
        )
        runtime.call_soon(self._loop, _weak(self, LiveView._schedule))
        weakref.finalize(self, self._subscription.dispose)

    # -- public --------------------------------------------------------------------------------------------

    def pause(self) -> None:
        """Freeze the display (records are still collected: nothing is lost)."""
        self.paused = True

    def resume(self) -> None:
        """Show the latest state again and keep updating."""
        self.paused = False

    def close(self) -> None:
        """Unsubscribe and stop updating; what was collected stays readable."""
        if self.closed:
            return
        self.closed = True
        self._subscription.dispose()
        if self._timer is not None:
            runtime.call_soon(self._loop, self._timer.cancel)
        self._flush()
        runtime.call_soon(self._loop, self._draw, True)

    @property
    def status(self) -> ViewState:
        if self.error is not None:
            return ViewState.ERROR
        if self.closed:
            return ViewState.CLOSED
        if self.completed:
            return ViewState.COMPLETED
        return ViewState.PAUSED if self.paused else ViewState.LIVE

    def seen(self) -> tuple[set[Hashable], float | None, float | None]:
        """What the view has received so far, for reports: the subscriptions its records came from, and the
        first and last time they stand for (records' arrival times, windows' bounds; epoch seconds)."""
        self._flush()
        return set(self._origins), self._first_at, self._last_at

    @property
    def rate(self) -> float:
        """Records per second arriving, over about the last second."""
        return self._rate

    # -- observer (any thread) -----------------------------------------------------------------------------

    def _on_next(self, item: Any) -> None:
        with self._lock:
            self._pending.append(item)

    def _on_error(self, error: Any) -> None:
        self.error = error

    def _on_completed(self, _: Any = None) -> None:
        self.completed = True

    # -- loop thread ---------------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Move queued records into the state (from any thread; the lock keeps the queue whole)."""
        with self._lock:
            batch, self._pending = self._pending, []
            if batch:
                self._arrivals += len(batch)
                self._note(batch)
                self._ingest(batch)

    def _note(self, batch: list[Any]) -> None:
        self._origins.update(item.origin for item in batch if type(item) is Message)
        if self._first_at is None:
            self._first_at = _span(batch[0])[0]
        self._last_at = _span(batch[-1])[1]

    def _schedule(self, _: Any = None) -> None:
        if self.closed:
            return
        self._timer = self._loop.call_later(1.0 / self.fps, _weak(self, LiveView._tick))

    def _tick(self, _: Any = None) -> None:
        self._flush()
        now = time.monotonic()
        start, count = self._rate_mark
        if now - start >= 1.0:
            self._rate = (self._arrivals - count) / (now - start)
            self._rate_mark = (now, self._arrivals)
        self._draw()
        self._schedule()

    def _draw(self, force: bool = False) -> None:
        if self._widget is None or (self.paused and not force):
            return
        version = self._version()
        if version == self._drawn_version and not force:
            return
        self._drawn_version = version
        self.renders.append(self._loop.time())
        del self.renders[:-1000]
        self._render()

    # -- what subclasses provide ---------------------------------------------------------------------------

    @abstractmethod
    def _ingest(self, batch: list[Any]) -> None: ...

    @abstractmethod
    def _version(self) -> int:
        """A number that changes whenever there is something new to draw."""

    @abstractmethod
    def _render(self) -> None: ...
