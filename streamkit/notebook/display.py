"""Showing a view in a notebook cell: an updatable ipywidgets.HTML under the view's controls, or static HTML
without ipywidgets."""

from __future__ import annotations

from typing import Any

from .controls import framed

__all__ = ["show_html"]


def show_html(view: Any, widget: Any) -> Any:
    """Display ``view`` (anything with ``_repr_html_``) through ``widget``, creating it on first use, with its
    pause/resume and stop controls above it (:func:`~streamkit.notebook.controls.framed`); the caller keeps the
    returned widget and updates its ``value``. Without ipywidgets the HTML is shown once, statically.

    Args:
        view: a live view with ``_repr_html_`` (LiveFrame, the health view).
        widget: the ``ipywidgets.HTML`` it returned last time, or None.

    >>> import contextlib, io, reactivex, streamkit as sk
    >>> frame = sk.LiveFrame(reactivex.never())
    >>> with contextlib.redirect_stdout(io.StringIO()):   # outside a notebook, display() prints
    ...     body = show_html(frame, None)
    ...     again = show_html(frame, body)
    >>> type(body).__name__, "waiting for records" in body.value, again is body
    ('HTML', True, True)
    >>> frame.close()
    """
    from IPython.display import display

    try:
        import ipywidgets
    except ImportError:
        display({"text/html": view._repr_html_()}, raw=True)
        return widget
    if widget is None:
        widget = ipywidgets.HTML(view._repr_html_())
    display(framed(view, widget))
    return widget
