"""Shaping records: nested dicts to flat rows, lists exploded into rows, epoch numbers to timestamps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reactivex import Observable
from reactivex import operators as rx

from .._time import check_unit, time_value, utc_datetime
from ..core import Message, Topic
from ._base import Operator, copy_of, like

__all__ = ["flatten", "flatten_record", "flattened_message", "parse_time"]


def _flat(d: Mapping[str, Any], prefix: str, sep: str, out: dict[str, Any]) -> None:
    for k, v in d.items():
        if type(v) is dict and v:
            _flat(v, f"{prefix}{k}{sep}", sep, out)
        else:
            out[prefix + k] = v


def _flatten_into(out: dict[str, Any], record: Mapping[str, Any], sep: str) -> dict[str, Any]:
    """``out`` (a copy of ``record``'s top level) with each nested dict replaced by its flattened fields, at the
    end in their order. The first level below the top is walked inline (Mist's ``radio_stat.band_5.channel`` is
    two levels down): a call per nested dict is much of the cost."""
    for k, v in record.items():
        if type(v) is dict and v:
            del out[k]
            prefix = k + sep
            for k2, v2 in v.items():
                if type(v2) is dict and v2:
                    _flat(v2, f"{prefix}{k2}{sep}", sep, out)
                else:
                    out[prefix + k2] = v2
    return out


def flatten_record(record: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """One record flattened as :func:`flatten` does (a :class:`~streamkit.Message` keeps its origin).

    Args:
        record: a dict; sep: what joins the keys of nested dicts.

    >>> from streamkit import ops
    >>> ops.flatten_record({"mac": "a", "ip_stat": {"ip": "10.0.0.2", "gw": {"v4": "10.0.0.1"}}})
    {'mac': 'a', 'ip_stat.ip': '10.0.0.2', 'ip_stat.gw.v4': '10.0.0.1'}
    """
    # copy the top level in one go (C speed), then replace its nested dicts by their flattened fields
    return _flatten_into(copy_of(record), record, sep)


def flattened_message(payload: Any, origin: Topic, received: float, sep: str = ".") -> Message:
    """The :class:`~streamkit.Message` of a decoded payload, flattened as it is built: what
    ``flatten_record(Message(payload, origin, received))`` gives, with one copy of the payload instead of two.

    >>> m = flattened_message({"mac": "a", "ip_stat": {"ip": "10.0.0.2"}}, "/t", 1.0)
    >>> m, m.origin
    (Message({'mac': 'a', 'ip_stat.ip': '10.0.0.2'}, origin='/t'), '/t')
    """
    out = Message(payload, origin, received)
    return _flatten_into(out, payload, sep) if type(payload) is dict else out  # type: ignore[return-value]


class _Flatten:
    """The flatten operator. On a client's subscription (anything with ``shaped``) it asks for the records to be
    flattened as they are decoded (one Message built per payload instead of a Message and then its flattened
    copy); on any other Observable it maps :func:`flatten_record`."""

    def __init__(self, sep: str) -> None:
        self.sep = sep

    def shape(self, payload: Any, origin: Topic, received: float) -> Message:
        return flattened_message(payload, origin, received, self.sep)

    def __call__(self, source: Observable[Any]) -> Observable[Any]:
        shaped = getattr(source, "shaped", None)
        if shaped is not None:
            return shaped(self.shape)  # type: ignore[no-any-return]
        sep = self.sep

        def one(record: Mapping[str, Any]) -> dict[str, Any]:
            return flatten_record(record, sep)

        return rx.map(one)(source)

    def __repr__(self) -> str:
        return f"flatten(sep={self.sep!r})"


def flatten(*, sep: str = ".", explode: str | None = None) -> Operator:
    """Nested dicts become flat rows: ``{"ip_stat": {"gateway": g}}`` -> ``{"ip_stat.gateway": g}``.

    Lists stay values. ``explode="radio_stat"`` turns one record into one row per element of that field: per
    list item, or per key of a dict (the key goes to ``"radio_stat.key"``), the other fields repeated on each row.
    A record without the field passes through as one row. :class:`~streamkit.Message` origins are kept.

    Args:
        sep: what joins the keys of nested dicts.
        explode: a field whose list items or dict entries become rows of their own.

    ``devices.pipe(sk.ops.flatten())`` gives ``cpu_util``, ``ip_stat.gateway``, ``radio_stat.band_5.channel`` ...;
    ``flatten(explode="radio_stat")`` one row per radio band:

    >>> import reactivex, streamkit as sk
    >>> radios = {"band_24": {"channel": 6}, "band_5": {"channel": 36}}
    >>> ap = {"mac": "a", "ip_stat": {"ip": "10.0.0.2"}, "radio_stat": radios}
    >>> rows = sk.collect(reactivex.of(ap).pipe(sk.ops.flatten(explode="radio_stat")), timeout=5)
    >>> rows  # doctest: +NORMALIZE_WHITESPACE
    [{'mac': 'a', 'ip_stat.ip': '10.0.0.2', 'radio_stat.key': 'band_24', 'radio_stat.channel': 6},
     {'mac': 'a', 'ip_stat.ip': '10.0.0.2', 'radio_stat.key': 'band_5', 'radio_stat.channel': 36}]
    >>> sk.collect(reactivex.of(ap).pipe(sk.ops.flatten()), timeout=5)[0]["radio_stat.band_5.channel"]
    36
    """
    if explode is None:
        return _Flatten(sep)

    def rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
        parts = record.get(explode)
        if not isinstance(parts, (list, dict)) or not parts:
            return [flatten_record(record, sep)]
        base = {k: v for k, v in record.items() if k != explode}
        items = parts.items() if isinstance(parts, dict) else enumerate(parts)
        out = []
        for key, part in items:
            row = like(record, {})
            _flat(base, "", sep, row)
            if isinstance(parts, dict):
                row[f"{explode}{sep}key"] = key
            if isinstance(part, dict):
                _flat(part, f"{explode}{sep}", sep, row)
            else:
                row[explode] = part
            out.append(row)
        return out

    return rx.flat_map(rows)


def parse_time(field: str = "_time", *, unit: str | None = None, into: str | None = None) -> Operator:
    """Turn ``field`` into a UTC ``datetime``, written to ``into`` (default: the field itself).

    The field holds an epoch number, ISO 8601 text or a datetime (naive: UTC); see ``streamkit._time``.
    Records without the field, or with None in it, pass through unchanged; any other value that is not a time
    ends the stream with a ValueError that says which.

    Args:
        field: the time field; ``"received"`` is the message's arrival when the payload has no such key.
        unit: the unit of epoch numbers (``s ms us ns``); None: by magnitude (Mist's milliseconds are read right).
        into: the field to write the datetime to.

    ``devices.pipe(sk.ops.parse_time("last_seen"))``; Mist's seconds and milliseconds both read right:

    >>> import reactivex, streamkit as sk
    >>> seen = reactivex.of({"mac": "a", "last_seen": 1700000000}, {"mac": "b", "last_seen": 1700000000500})
    >>> [str(row["last_seen"]) for row in sk.collect(seen.pipe(sk.ops.parse_time("last_seen")), timeout=5)]
    ['2023-11-14 22:13:20+00:00', '2023-11-14 22:13:20.500000+00:00']
    """
    check_unit(unit)
    target = into or field

    def one(record: Mapping[str, Any]) -> Mapping[str, Any]:
        value = time_value(record, field)
        if value is None:
            return record
        parsed = utc_datetime(value, unit)
        if parsed is None:
            what = f"epoch {unit}" if unit else "an epoch number"
            raise ValueError(f"parse_time: {field}={value!r} is not a time ({what}, ISO 8601 text or a datetime)")
        out = copy_of(record)
        out[target] = parsed
        return out

    return rx.map(one)
