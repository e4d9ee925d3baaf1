"""Showing a view in a notebook cell: an updatable ipywidgets.HTML, or static HTML without ipywidgets."""

from __future__ import annotations

from typing import Any

__all__ = ["show_html"]


def show_html(view: Any, widget: Any) -> Any:
    """Display ``view`` (anything with ``_repr_html_``) through ``widget``, creating it on first use; the caller
    keeps the returned widget and updates its ``value``. Without ipywidgets the HTML is shown once, statically."""
    from IPython.display import display

    try:
        import ipywidgets
    except ImportError:
        display({"text/html": view._repr_html_()}, raw=True)
        return widget
    if widget is None:
        widget = ipywidgets.HTML(view._repr_html_())
    display(widget)
    return widget
