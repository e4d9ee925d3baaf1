"""Operators for ``.pipe()``: shaping, windows, aggregation, joins, flow control.

Every one is a plain function (or a callable object with counters) that takes an Observable and returns one;
time-based ones take an optional ``scheduler`` (default: streamkit's loop scheduler, see ``sk.scheduler()``).
"""

from ..core import Window
from .aggregate import aggregate, window_frame
from .flatten import flatten, flatten_record, parse_time
from .flow import POLICIES, backpressure, changes, rate, sample, throttle
from .joins import enrich, join, with_latest
from .windows import count_window, event_windows, session, sliding, tumbling

__all__ = [
    "POLICIES",
    "Window",
    "aggregate",
    "backpressure",
    "changes",
    "count_window",
    "enrich",
    "event_windows",
    "flatten",
    "flatten_record",
    "join",
    "parse_time",
    "rate",
    "sample",
    "session",
    "sliding",
    "throttle",
    "tumbling",
    "window_frame",
    "with_latest",
]
