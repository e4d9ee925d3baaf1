"""Which asyncio loop runs streamkit.

In Jupyter that is the kernel's own loop (cells run on it), so observers and widgets are only ever touched
on the kernel's thread. In a plain script it is one background loop thread that streamkit starts on first
use. Code on other threads hands work back with :func:`call_soon`.

In a script (and in these examples) that is the background loop, on a thread of its own:

>>> from streamkit import runtime
>>> loop = runtime.get_loop()
>>> loop.is_running(), runtime.in_loop_thread(loop)
(True, False)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from reactivex.scheduler.eventloop import AsyncIOThreadSafeScheduler

__all__ = ["call_soon", "get_loop", "in_loop_thread", "run", "scheduler", "submit"]

T = TypeVar("T")

_lock = threading.Lock()
_background: asyncio.AbstractEventLoop | None = None
_background_thread: threading.Thread | None = None
_kernel_loop: asyncio.AbstractEventLoop | None = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _start_background() -> asyncio.AbstractEventLoop:
    global _background, _background_thread
    with _lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="streamkit-loop", daemon=True)
            thread.start()
            _background, _background_thread = loop, thread
            atexit.register(_stop_background, loop, thread)
        return _background


def _stop_background(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """At interpreter exit: cancel what still runs (clients or simulators never closed), then stop and close the
    loop."""
    if not loop.is_running():
        return

    async def cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(2)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=2)
    if not thread.is_alive():
        loop.close()


def get_loop() -> asyncio.AbstractEventLoop:
    """The loop streamkit uses from here: the one running in this thread (a notebook kernel, or your own
    ``asyncio.run``), else the kernel loop seen earlier, else streamkit's background loop thread.

    Clients, simulators and time operators all run on it. In a script that is the background loop; inside a
    coroutine it is the loop running that coroutine:

    >>> import asyncio
    >>> from streamkit import runtime
    >>> loop = runtime.get_loop()
    >>> loop.is_running(), loop is runtime.get_loop()        # started once, the same loop from then on
    (True, True)
    >>> async def main():
    ...     return runtime.get_loop() is asyncio.get_running_loop()
    >>> asyncio.run(main())
    True
    """
    global _kernel_loop
    loop = _running_loop()
    if loop is not None:
        if threading.current_thread() is threading.main_thread():
            _kernel_loop = loop
        return loop
    if _kernel_loop is not None and _kernel_loop.is_running() and not _kernel_loop.is_closed():
        return _kernel_loop
    return _start_background()


def in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs on ``loop``'s own thread (where blocking on it would deadlock).

    What decides whether to wait for a result or to schedule the work (as :func:`submit` does):

    >>> from streamkit import runtime
    >>> loop = runtime.get_loop()
    >>> runtime.in_loop_thread(loop)                         # a script's thread: waiting on the loop is fine
    False
    >>> async def on_the_loop():
    ...     return runtime.in_loop_thread(runtime.get_loop())
    >>> runtime.submit(on_the_loop(), loop=loop, timeout=5)  # code the loop runs: it must not block
    True
    """
    return _running_loop() is loop


def submit(
    coro: Coroutine[Any, Any, T],
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    timeout: float | None = None,
) -> T | asyncio.Task[T]:
    """Run ``coro`` on ``loop`` (default :func:`get_loop`).

    From another thread this waits for the result. On the loop's own thread (a notebook cell) waiting would
    block the kernel, so the coroutine is scheduled as a task and the task is returned.

    >>> import asyncio
    >>> from streamkit import runtime
    >>> async def answer():
    ...     await asyncio.sleep(0.01)
    ...     return 42
    >>> runtime.submit(answer(), timeout=5)          # a script: the result
    42
    """
    loop = loop or get_loop()
    if in_loop_thread(loop):
        return loop.create_task(coro)
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


def run(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run ``coro`` to completion and return its result, blocking the caller.

    Works in a script and inside a notebook cell: there the kernel's loop is already running in this thread,
    so it runs the coroutine to completion re-entrantly (:func:`reentrant`).

    >>> import asyncio
    >>> from streamkit import runtime
    >>> async def answer():
    ...     await asyncio.sleep(0.01)
    ...     return 42
    >>> runtime.run(answer(), timeout=5)
    42
    """
    loop = get_loop()
    if not in_loop_thread(loop):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
    reentrant(loop)
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def reentrant(loop: asyncio.AbstractEventLoop) -> None:
    """Let ``loop``, which runs this thread (a notebook cell), run a coroutine to completion inside itself.

    nest-asyncio2 does it. Not its unmaintained parent nest-asyncio: with ipykernel 7 (every cell in one shared
    context) the nested run could start the next cell that "Run All" had queued and drop it, so the notebook
    stopped there for good; nest-asyncio2 leaves such steps to the kernel.
    """
    import nest_asyncio2  # only where a blocking helper must wait inside a running kernel loop

    nest_asyncio2.apply(loop)


def call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """Call ``callback(*args)`` on ``loop``'s thread, from any thread.

    >>> import threading
    >>> from streamkit import runtime
    >>> called_on = []
    >>> done = threading.Event()
    >>> def callback(tag):
    ...     called_on.append((tag, threading.current_thread().name))
    ...     done.set()
    >>> runtime.call_soon(runtime.get_loop(), callback, "hello")
    >>> done.wait(5), called_on
    (True, [('hello', 'streamkit-loop')])
    """
    if in_loop_thread(loop):
        loop.call_soon(callback, *args)
    else:
        loop.call_soon_threadsafe(callback, *args)


def scheduler() -> AsyncIOThreadSafeScheduler:
    """A reactivex scheduler on streamkit's loop, for time-based operators (not reactivex's thread-per-timer
    default): timers fire on the loop thread, where the observers run.

    >>> import reactivex, streamkit as sk
    >>> ticks = reactivex.interval(0.01, scheduler=sk.scheduler())
    >>> sk.collect(ticks, count=3, timeout=5)
    [0, 1, 2]
    """
    from reactivex.scheduler.eventloop import AsyncIOThreadSafeScheduler

    return AsyncIOThreadSafeScheduler(get_loop())
