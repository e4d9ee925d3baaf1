"""Blocking and awaitable helpers that gather records from a live stream."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from reactivex import Observable

from . import runtime
from .errors import CollectInterrupted, CollectTimeout

__all__ = ["acollect", "collect"]

T = TypeVar("T")


async def acollect(source: Observable[T], *, count: int | None = None, timeout: float | None = None) -> list[T]:
    """Await ``count`` items of ``source`` (or all items within ``timeout`` seconds when ``count`` is None).

    Raises :class:`~streamkit.errors.CollectTimeout` (a ``TimeoutError``) when ``count`` items do not arrive
    in time (the ones that did are on its ``records`` attribute), and whatever error ends the stream
    (e.g. ``AuthenticationError``).

    >>> import asyncio, reactivex
    >>> asyncio.run(acollect(reactivex.of(1, 2, 3), count=2))
    [1, 2]
    """
    return await _gather(source, count, timeout, [])


async def _gather(source: Observable[T], count: int | None, timeout: float | None, items: list[T]) -> list[T]:
    """:func:`acollect` into ``items``, which the caller keeps when it is interrupted."""
    if count is None and timeout is None:
        raise ValueError("give count=, timeout= or both: a live stream never ends on its own")
    if count is not None and count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish(error: BaseException | None = None) -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    def on_next(item: T) -> None:
        if len(items) < (count or len(items) + 1):
            items.append(item)
            if count is not None and len(items) >= count:
                runtime.call_soon(loop, finish)

    def on_error(error: Exception) -> None:
        runtime.call_soon(loop, finish, error)

    def on_completed() -> None:
        runtime.call_soon(loop, finish)

    subscription = source.subscribe(on_next, on_error, on_completed)
    try:
        await asyncio.wait_for(asyncio.shield(done), timeout)
    except TimeoutError:
        if count is not None:
            raise CollectTimeout(
                f"collected {len(items)} of {count} records in {timeout:g} s: the stream is slower than that or "
                "silent; raise timeout= or lower count= (client.events and client.stats tell what the connection did)",
                records=list(items),
            ) from None
    finally:
        subscription.dispose()
    return list(items)


def collect(source: Observable[Any], *, count: int | None = None, timeout: float | None = None) -> list[Any]:
    """Block until ``count`` items of ``source`` arrived (or ``timeout`` seconds passed) and return them.

    Works in a script and inside a notebook cell (there it lets the kernel's loop run while it waits).

    Ctrl-C (a notebook's interrupt) stops it with :class:`~streamkit.errors.CollectInterrupted`, a
    ``KeyboardInterrupt`` that holds the records collected so far on ``records`` (in a notebook:
    ``sys.last_value.records``) and whose traceback ends here, not in the event loop's machinery.

    A finite Observable returns when it completes; a live subscription once ``count`` records arrived:

    >>> import reactivex, streamkit as sk
    >>> sk.collect(reactivex.of(1, 2, 3), timeout=5)
    [1, 2, 3]
    >>> from streamkit.sim import MistSimulator
    >>> sim = MistSimulator(seed=1, interval=0.05, sites=1, aps=2).start()
    >>> mist = sk.mist(url=sim.url, token=sim.token)
    >>> devices = mist.subscribe(sim.channel("device_stats"))
    >>> rows = sk.collect(devices, count=3, timeout=10)
    >>> len(rows), rows[0].origin == sim.channel("device_stats"), "mac" in rows[0]
    (3, True, True)
    >>> mist.close()
    >>> sim.stop()
    """
    if count is None and timeout is None:
        raise ValueError("give count=, timeout= or both: a live stream never ends on its own")
    items: list[Any] = []
    try:
        return _wait(_gather(source, count, timeout, items))
    except KeyboardInterrupt:
        pass  # leave the except block: the interrupt's own traceback (the loop's internals) is not the user's
    raise CollectInterrupted(
        f"interrupted after collecting {len(items):,} record(s); they are on this exception's .records "
        "(in a notebook: sys.last_value.records)",
        records=list(items),
    ) from None


def _wait(coro: Coroutine[Any, Any, list[Any]]) -> list[Any]:
    """Run ``coro`` to its end as :func:`streamkit.runtime.run` does; on Ctrl-C cancel it (which unsubscribes)
    before the interrupt goes on."""
    loop = runtime.get_loop()
    if not runtime.in_loop_thread(loop):
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise
    runtime.reentrant(loop)  # a notebook cell: wait inside the running kernel loop
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        task.cancel()
        raise
