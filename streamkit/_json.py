"""The one place JSON is encoded and decoded (orjson: the receive path's hottest step)."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "loads"]

loads = orjson.loads
JSONDecodeError = orjson.JSONDecodeError


def dumps(obj: Any) -> str:
    """Encode ``obj`` as compact JSON text (a WebSocket text frame wants ``str``)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
