"""Operators for ``.pipe()``: shaping, windows, aggregation, joins, flow control.

Every one is a plain function (or a callable object with counters) that takes an Observable and returns one;
time-based ones take an optional ``scheduler`` (default: the subscription's clock, else streamkit's loop scheduler,
see ``sk.scheduler()``). Times in records are read by one rule (``streamkit._time``): epoch numbers in any unit,
ISO 8601 text, datetimes; ``"received"`` is the message's arrival.

Everything an operator remembers belongs to one subscription: two subscriptions never share state, and an
operator's counters (``event_windows.late_count``, ``backpressure.dropped`` ...) are sums over its subscriptions.
An exception in a function you pass (a key, a reduction) ends the subscription through ``on_error``.

Flatten nested records, window them, aggregate each window into a DataFrame:

>>> import reactivex, streamkit as sk
>>> from streamkit import ops
>>> aps = reactivex.of(
...     {"ap": "a", "radio": {"ch": 6}}, {"ap": "b", "radio": {"ch": 36}}, {"ap": "a", "radio": {"ch": 11}}
... )
>>> per_ap = aps.pipe(ops.flatten(), ops.count_window(3), ops.aggregate(by="ap", n=("radio.ch", "count")))
>>> sk.collect(per_ap, timeout=5)[0][["ap", "n"]].to_dict("records")
[{'ap': 'a', 'n': 2}, {'ap': 'b', 'n': 1}]
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
