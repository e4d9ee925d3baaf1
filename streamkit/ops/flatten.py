"""Shaping records: nested dicts to flat rows, lists exploded into rows, epoch numbers to timestamps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from reactivex import operators as rx

from ._base import Operator, copy_of, like

__all__ = ["flatten", "flatten_record", "parse_time"]


def _flat(d: Mapping[str, Any], prefix: str, sep: str, out: dict[str, Any]) -> None:
    for k, v in d.items():
        if type(v) is dict and v:
            _flat(v, f"{prefix}{k}{sep}", sep, out)
        else:
            out[prefix + k] = v


def flatten_record(record: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """One record flattened as :func:`flatten` does (a :class:`~streamkit.Message` keeps its origin)."""
    # copy the top level in one go (C speed), then replace its nested dicts by their flattened fields
    out = copy_of(record)
    for k, v in record.items():
        if type(v) is dict and v:
            del out[k]
            _flat(v, f"{k}{sep}", sep, out)
    return out


def flatten(*, sep: str = ".", explode: str | None = None) -> Operator:
    """Nested dicts become flat rows: ``{"ip_stat": {"gateway": g}}`` -> ``{"ip_stat.gateway": g}``.

    Lists stay values. ``explode="radio_stat"`` turns one record into one row per element of that field: per
    list item, or per key of a dict (the key goes to ``"radio_stat.key"``), the other fields repeated on each row.
    A record without the field passes through as one row. :class:`~streamkit.Message` origins are kept.

    Example::

        devices.pipe(sk.ops.flatten())                        # cpu_util, ip_stat.gateway, radio_stat.band_5.channel ...
        devices.pipe(sk.ops.flatten(explode="radio_stat"))    # one row per radio band
    """
    if explode is None:
        return rx.map(lambda record: flatten_record(record, sep))

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


_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def parse_time(field: str = "_time", *, unit: str = "s", into: str | None = None) -> Operator:
    """Turn ``field`` (epoch number in ``unit`` s/ms/us/ns, or an ISO 8601 string) into a UTC ``datetime``,
    written to ``into`` (default: the field itself). Records without the field pass through unchanged.

    Example::

        devices.pipe(sk.ops.parse_time("last_seen"))
    """
    if unit not in _SCALE:
        raise ValueError(f"unit is one of {', '.join(_SCALE)}, not {unit!r}")
    scale = _SCALE[unit]
    target = into or field

    def convert(value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / scale, tz=timezone.utc)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        return value

    def one(record: Mapping[str, Any]) -> Mapping[str, Any]:
        if field not in record:
            return record
        out = copy_of(record)
        try:
            out[target] = convert(record[field])
        except (ValueError, OverflowError, OSError) as exc:
            raise ValueError(
                f"parse_time: {field}={record[field]!r} is not a time in {unit} or ISO 8601 ({exc})"
            ) from None
        return out

    return rx.map(one)
