"""What the client factories share: the ``record=`` option, environment defaults and option types."""

from __future__ import annotations

import os
import ssl as ssl_module
from pathlib import Path
from typing import TypeVar

from .client import Client

__all__: list[str] = []

SSLOption = ssl_module.SSLContext | None
C = TypeVar("C", bound=Client)


def recording(path: str | Path | None, client: C) -> C:
    """Start recording ``client`` to ``path`` (the ``record=`` option); the recorder stops when the client closes."""
    if path is not None:
        from ..recording import record  # recording builds on connection, not the other way round

        client.recorder = record(client, path)
    return client


def env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None
