"""A shard-side operator that puts where a record came from into the record (for grouping by site, by channel)."""

from __future__ import annotations

from typing import Any

from reactivex import operators as rx

from ..core import Message
from ..ops._base import Operator, copy_of

__all__ = ["with_origin"]


def with_origin(field: str = "origin", *, segment: int | None = None) -> Operator:
    """Copy each message's origin (its channel) into ``field``; ``segment`` takes one ``/``-separated part of it
    (Mist ``/sites/{site_id}/stats/devices``: segment 2 is the site id).

    >>> import reactivex, streamkit as sk
    >>> from streamkit.core import Message
    >>> source = reactivex.of(Message({"mac": "a"}, "/sites/s1/stats/devices", 0.0))
    >>> sk.collect(source.pipe(with_origin("site_id", segment=2)), count=1, timeout=5)
    [Message({'mac': 'a', 'site_id': 's1'}, origin='/sites/s1/stats/devices')]
    """

    def tag(record: Any) -> Any:
        if type(record) is not Message:
            return record
        out = copy_of(record)
        origin = str(record.origin)
        if segment is None:
            out[field] = origin
        else:
            parts = origin.split("/")
            out[field] = parts[segment] if -len(parts) <= segment < len(parts) else None
        return out

    return rx.map(tag)
