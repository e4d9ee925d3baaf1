"""Notebook helpers: the health view of a client, the controls above every view, and what is running
(:func:`views`, :func:`close_all`).

>>> import reactivex, streamkit as sk
>>> frame = sk.LiveFrame(reactivex.never())
>>> [(entry.kind, entry.state) for entry in sk.notebook.views() if entry.object is frame]
[('LiveFrame', 'live')]
>>> frame.close()
"""

from .controls import framed
from .display import show_html
from .health_view import ClusterHealth, Health, health
from .registry import close_all, views

__all__ = ["ClusterHealth", "Health", "close_all", "framed", "health", "show_html", "views"]
