"""Pause/resume and stop buttons with the view's status, above any widget that shows a view."""

from __future__ import annotations

import asyncio
import html
import weakref
from typing import Any

from .. import runtime
from ..core import ViewState

__all__ = ["Controls", "framed"]

#: Seconds between two looks at the view's state (a pause from another cell, the stream's end or failure).
EVERY = 0.25

#: The colours the notebook views give states: JupyterLab's theme colours (they follow its light and dark themes),
#: else fixed ones.
COLOURS = {
    "good": "var(--jp-success-color1, #2a2)",
    "warn": "var(--jp-warn-color1, #c80)",
    "bad": "var(--jp-error-color1, #c22)",
    "quiet": "var(--jp-ui-font-color2, #888)",
}
#: The mark and colour of each state of a view.
MARKS = {
    ViewState.LIVE: ("●", COLOURS["good"]),
    ViewState.PAUSED: ("❚❚", COLOURS["warn"]),
    ViewState.COMPLETED: ("■", COLOURS["quiet"]),
    ViewState.ERROR: ("✖", COLOURS["bad"]),
    ViewState.CLOSED: ("■", COLOURS["quiet"]),
}

_framed: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()  # view -> (body, box)


def framed(view: Any, body: Any, *, every: float = EVERY) -> Any:
    """``body`` (the widget that shows ``view``) with a row of controls above it: a pause/resume toggle, a stop
    button and the view's status, kept in step with the view whatever changes it (a click, ``view.pause()`` in
    another cell, the stream's end or failure).

    Args:
        view: a live view: anything with ``pause()``, ``resume()``, ``close()``, ``paused`` and ``status`` (a
            :class:`~streamkit.core.ViewState`): LiveFrame, LivePlot, the health view. Held weakly.
        body: any ipywidget: ``ipywidgets.HTML``, a plotly ``FigureWidget``, a Perspective widget...
        every: seconds between looks at the view's state.

    Returns an ``ipywidgets.VBox`` (the same one for the same view and body), or ``body`` itself when ipywidgets
    is missing or ``body`` is not a widget (static HTML, a plain plotly Figure).

    >>> import ipywidgets, reactivex, streamkit as sk
    >>> from streamkit.notebook import framed
    >>> frame = sk.LiveFrame(reactivex.never())
    >>> box = framed(frame, ipywidgets.HTML("the table"))
    >>> pause, stop, status = box.children[0].children
    >>> pause.value = True                           # the toggle pauses the view...
    >>> str(frame.status), pause.description
    ('paused', 'Resume')
    >>> stop.click()                                 # ...and the button stops it
    >>> str(frame.status), pause.disabled, stop.disabled, "closed" in status.value
    ('closed', True, True, True)
    """
    try:
        import ipywidgets
    except ImportError:
        return body
    if not isinstance(body, ipywidgets.Widget):
        return body
    made = _framed.get(view)
    if made is not None and made[0] is body:
        return made[1]
    controls = Controls(view, every=every)
    box = ipywidgets.VBox([controls.bar, body])
    _framed[view] = (body, box)
    return box


class Controls:
    """The bar of :func:`framed`: ``toggle`` (pause/resume), ``stop`` and ``status``, in ``bar`` (an HBox).

    It holds the view weakly (ipywidgets keeps every widget alive until closed, and with it whatever its
    callbacks hold) and looks at the view's state every ``every`` seconds on streamkit's loop (the kernel's)
    until the view is closed or collected.
    """

    def __init__(self, view: Any, *, every: float = EVERY) -> None:
        import ipywidgets

        self._view = weakref.ref(view)
        self._every = every
        self._loop = runtime.get_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._shown: tuple[Any, ...] | None = None
        self.toggle = ipywidgets.ToggleButton(  # buttons keep their width: a long status wraps beside them
            value=bool(view.paused), description="Pause", icon="pause", layout=_button(),
            tooltip="Freeze the display (records are still collected)",
        )  # fmt: skip
        self.stop = ipywidgets.Button(
            description="Stop", icon="stop", layout=_button(),
            tooltip="Unsubscribe and stop updating (what was collected stays readable)",
        )  # fmt: skip
        self.status = ipywidgets.HTML(layout=ipywidgets.Layout(flex="1 1 0%", min_width="0"))
        middle = ipywidgets.Layout(align_items="center")
        self.bar = ipywidgets.HBox([self.toggle, self.stop, self.status], layout=middle)
        self.toggle.observe(self._toggled, names="value")
        self.stop.on_click(self._stopped)
        self.sync()
        runtime.call_soon(self._loop, self._poll)

    def _toggled(self, change: dict[str, Any]) -> None:
        view = self._view()
        if view is not None and bool(change["new"]) != bool(view.paused):
            if change["new"]:
                view.pause()
            else:
                view.resume()
        self.sync()

    def _stopped(self, _: Any = None) -> None:
        view = self._view()
        if view is not None:
            view.close()
        self.sync()

    def sync(self) -> None:
        """Show the view's state now (buttons and status)."""
        view = self._view()
        if view is None:
            state, paused, closed, error = ViewState.CLOSED, False, True, None
        else:
            state, paused, error = ViewState(view.status), bool(view.paused), getattr(view, "error", None)
            closed = bool(getattr(view, "closed", state is ViewState.CLOSED))  # a failed view says error, closed or not
        shown = (state, paused, closed, str(error) if error is not None else None)
        if shown == self._shown:
            return  # nothing changed: no message to the browser
        self._shown = shown
        running = state in (ViewState.LIVE, ViewState.PAUSED)
        self.toggle.value = paused
        self.toggle.description, self.toggle.icon = ("Resume", "play") if paused else ("Pause", "pause")
        self.toggle.disabled = not running or closed
        self.stop.disabled = closed
        mark, colour = MARKS[state]
        text = f"<span style='color:{colour}'>{mark}</span> {state.value}" + (
            " · closed" if closed and state is not ViewState.CLOSED else ""
        )
        if error is not None:
            message = f"{type(error).__name__}: {error}"
            text += f" · {html.escape(message if len(message) <= 200 else message[:199] + '…')}"
        self.status.value = f"<span style='font-size:12px'>{text}</span>"

    def _poll(self) -> None:
        self.sync()
        view = self._view()
        if view is None or getattr(view, "closed", view.status is ViewState.CLOSED):
            self._timer = None
            return
        self._timer = self._loop.call_later(self._every, self._poll)


def _button() -> Any:
    import ipywidgets

    return ipywidgets.Layout(width="auto", flex="0 0 auto")
