"""The one place times are converted (as JSON is in ``_json.py``): epoch numbers, ISO 8601 text, datetimes and
pandas Timestamps to epoch seconds and UTC datetimes, and where a record's time is.

The rule, everywhere in streamkit:

- an epoch number is in the unit given (``"s"``, ``"ms"``, ``"us"``, ``"ns"``); with no unit, its magnitude says
  which (:func:`unit_of`: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds);
- ISO 8601 text (``"2023-06-12T17:56:47Z"``, with or without an offset) and ``datetime`` / pandas ``Timestamp``
  are read as they say; without a time zone they are UTC; a ``date`` is its midnight, UTC;
- anything else (``None``, bools, NaN and infinities, other text, other types) is not a time: ``None``;
- the field name ``"received"`` is the message's arrival (:attr:`Message.received <streamkit.core.Message>`, epoch
  seconds) unless the payload has a ``"received"`` key of its own (:func:`time_of`);
- times shown to a person are UTC, as compact as they stay unambiguous (:func:`clock_texts`, :func:`span_text`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from numbers import Real
from typing import TYPE_CHECKING, Any, TypeVar

from reactivex import abc, typing
from reactivex.scheduler import VirtualTimeScheduler

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ARRIVAL",
    "SECONDS_BELOW",
    "UNITS",
    "ReplayClock",
    "check_unit",
    "clock_texts",
    "epoch_seconds",
    "span_text",
    "time_of",
    "time_value",
    "unit_of",
    "utc_datetime",
    "utc_timestamp",
]

#: How many of each unit make a second.
UNITS: dict[str, float] = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}

#: An epoch number smaller than this (in magnitude) is seconds: 1e11 s is the year 5138, 1e11 ms March 1973.
SECONDS_BELOW = 1e11

#: The field name that means a message's arrival time.
ARRIVAL = "received"

_UTC = timezone.utc
_MAGNITUDES = ((SECONDS_BELOW, "s"), (1e14, "ms"), (1e17, "us"))  # (below, unit); beyond: nanoseconds


def check_unit(unit: str | None) -> str | None:
    """``unit`` when it is one of :data:`UNITS` or None (by magnitude), else ValueError."""
    if unit is not None and unit not in UNITS:
        raise ValueError(f"unit is one of {', '.join(UNITS)} (or None: by magnitude), not {unit!r}")
    return unit


def unit_of(number: float) -> str:
    """The unit of an epoch number, by its magnitude.

    >>> unit_of(1_686_592_607), unit_of(1_686_592_607_000), unit_of(1.686e15), unit_of(1.686e18)
    ('s', 'ms', 'us', 'ns')
    """
    size = abs(number)
    for below, unit in _MAGNITUDES:
        if size < below:
            return unit
    return "ns"


def _parse_iso(text: str) -> datetime | None:
    text = text.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read the Z
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


def epoch_seconds(value: Any, unit: str | None = None) -> float | None:
    """Seconds since the epoch of a time (see the module's rule), or None when ``value`` is not a time.

    Args:
        value: an epoch number, ISO 8601 text, a ``datetime`` / pandas ``Timestamp`` (naive: UTC) or a ``date``.
        unit: the unit of epoch numbers (``s ms us ns``); None: by magnitude.

    >>> epoch_seconds(1_686_592_607_500), epoch_seconds("2023-06-12T17:56:47.5Z"), epoch_seconds(True)
    (1686592607.5, 1686592607.5, None)
    """
    kind = type(value)
    if kind is float or kind is int:
        number: float = value
    elif kind is str:
        parsed = _parse_iso(value)
        return None if parsed is None else parsed.timestamp()
    elif isinstance(value, datetime):
        try:
            return (value if value.tzinfo is not None else value.replace(tzinfo=_UTC)).timestamp()
        except (ValueError, OverflowError, OSError):  # pandas NaT, out of range
            return None
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=_UTC).timestamp()
    elif isinstance(value, bool) or not isinstance(value, Real):
        return _numpy_datetime(value)
    else:  # numpy numbers, fractions
        number = float(value)
    if not math.isfinite(number):
        return None
    per_second = UNITS[unit or unit_of(number)]
    return number / per_second if per_second != 1.0 else float(number)


def _numpy_datetime(value: Any) -> float | None:
    """A numpy ``datetime64`` in seconds (NaT: None); None for anything else."""
    if type(value).__name__ != "datetime64" or value != value:
        return None
    nanoseconds = int(value.astype("datetime64[ns]").astype("int64"))
    return nanoseconds / 1e9


def utc_datetime(value: Any, unit: str | None = None) -> datetime | None:
    """The time ``value`` stands for as an aware UTC ``datetime`` (see :func:`epoch_seconds`), or None.

    A ``datetime`` (or pandas ``Timestamp``) keeps its precision and type; epoch numbers go through seconds.

    >>> utc_datetime("2023-06-12T19:56:47+02:00")
    datetime.datetime(2023, 6, 12, 17, 56, 47, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, datetime):
        if value != value:  # pandas NaT
            return None
        try:
            return value.astimezone(_UTC) if value.tzinfo is not None else value.replace(tzinfo=_UTC)
        except (ValueError, OverflowError, OSError):
            return None
    if type(value) is str:
        parsed = _parse_iso(value)
        try:
            return None if parsed is None else parsed.astimezone(_UTC)
        except (ValueError, OverflowError):
            return None
    seconds = epoch_seconds(value, unit)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, _UTC)
    except (ValueError, OverflowError, OSError):  # beyond the years datetime holds
        return None


def utc_timestamp(value: Any, unit: str | None = None) -> pd.Timestamp | None:
    """The time ``value`` stands for as a pandas UTC ``Timestamp`` (see :func:`epoch_seconds`), or None."""
    import pandas as pd

    seconds = epoch_seconds(value, unit)
    return None if seconds is None else pd.Timestamp(seconds, unit="s", tz="UTC")


def time_value(record: Mapping[str, Any], field: str) -> Any:
    """The raw value of a record's time field: ``record[field]``, where ``"received"`` is the message's arrival
    (``Message.received``) unless the payload has a ``received`` key."""
    value = record.get(field)
    if value is None and field == ARRIVAL and field not in record:
        return getattr(record, ARRIVAL, None)
    return value


def time_of(record: Mapping[str, Any], field: str, unit: str | None = None) -> float | None:
    """A record's time in epoch seconds, read from ``field`` (None: it has no usable time there).

    ``"received"`` is the message's arrival (``Message.received``, always seconds) unless the payload has a
    ``received`` key of its own; ``unit`` is the unit of the field's epoch numbers (None: by magnitude).

    >>> from streamkit.core import Message
    >>> time_of(Message({"cpu": 7}, "/t", 1700000000.0), "received"), time_of({"_time": 1.7e12}, "_time")
    (1700000000.0, 1700000000.0)
    """
    if field == ARRIVAL and field not in record:
        unit = "s"  # the arrival is always epoch seconds
    return epoch_seconds(time_value(record, field), unit)


def clock_texts(
    values: Iterable[Any], unit: str | None = None, *, dated: bool | None = None
) -> tuple[list[str | None], date | None]:
    """Times as UTC text a person reads, all in one style, and the day they fall on when it is one.

    The time of day alone when every time falls on one UTC day (that day is returned), else date and time
    (``dated`` decides instead, when given: several columns shown alike); milliseconds when any time has a
    fraction of a second. A value that is not a time gives None.

    >>> clock_texts([1_795_455_844, "2026-11-23T19:55:00.5Z", None])
    (['17:44:04.000', '19:55:00.500', None], datetime.date(2026, 11, 23))
    >>> clock_texts([1_795_455_844_000, 1_795_555_844_000])[0]
    ['2026-11-23 17:44:04', '2026-11-24 21:30:44']
    """
    stamps = [utc_datetime(value, unit) for value in values]
    days = {t.date() for t in stamps if t is not None}
    day = next(iter(days)) if len(days) == 1 else None
    pattern = "%Y-%m-%d %H:%M:%S" if (day is None if dated is None else dated) else "%H:%M:%S"
    if any(t.microsecond for t in stamps if t is not None):
        return [None if t is None else t.strftime(pattern + ".%f")[:-3] for t in stamps], day
    return [None if t is None else t.strftime(pattern) for t in stamps], day


def span_text(start: Any, end: Any, unit: str | None = None) -> str | None:
    """A time span as one compact UTC label (None when either end is not a time).

    >>> print(span_text(1_795_463_640, 1_795_463_700))
    19:54:00\N{EN DASH}19:55:00 UTC
    >>> print(span_text("2026-11-23T23:59:30Z", "2026-11-24T00:00:30Z"))
    2026-11-23 23:59:30\N{EN DASH}2026-11-24 00:00:30 UTC
    """
    (first, last), _ = clock_texts((start, end), unit)
    return None if first is None or last is None else f"{first}\N{EN DASH}{last} UTC"


_TState = TypeVar("_TState")


class ReplayClock(VirtualTimeScheduler):
    """A recording's clock: a reactivex virtual-time scheduler kept in epoch seconds, which a replay moves to the
    recorded time of each frame before delivering it, so that time windows close as they did live.

    Moving it costs an assignment unless an action is due by then (reactivex's own ``advance_to`` builds
    datetimes and walks its queue on every call); datetimes are built only when :attr:`now` is read.

    >>> from datetime import timedelta
    >>> clock = ReplayClock("2026-01-01T00:00:00Z")
    >>> fired = []
    >>> _ = clock.schedule_relative(timedelta(seconds=60), lambda scheduler, state: fired.append(clock.seconds))
    >>> clock.advance_to(clock.seconds + 30); fired
    []
    >>> clock.advance_to(clock.seconds + 45); fired, clock.now.isoformat()
    ([1767225660.0], '2026-01-01T00:01:15+00:00')
    """

    def __init__(self, start: Any) -> None:
        seconds = epoch_seconds(start)
        if seconds is None:
            raise ValueError(f"a replay clock starts at a time (epoch number, ISO 8601, datetime), not {start!r}")
        super().__init__(seconds)
        self._due = math.inf  # the earliest time an action is queued for (epoch seconds)

    @property
    def seconds(self) -> float:
        """The clock, in epoch seconds."""
        return float(self._clock)  # type: ignore[arg-type]

    def schedule_absolute(
        self, duetime: typing.AbsoluteTime, action: abc.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        disposable = super().schedule_absolute(duetime, action, state=state)
        self._due = min(self._due, self.to_seconds(duetime))
        return disposable

    def advance_to(self, time: typing.AbsoluteTime) -> None:
        seconds = time if isinstance(time, float) else self.to_seconds(time)
        if self._clock <= seconds < self._due:  # type: ignore[operator]
            self._clock = seconds  # nothing is due yet: just move
            return
        super().advance_to(seconds)
        self._due = self.to_seconds(self._queue.peek().duetime) if self._queue else math.inf
