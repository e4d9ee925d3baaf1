"""streamkit: explore live network telemetry (Juniper Mist, Forcepoint SMC, any JSON WebSocket) in Jupyter.

Importing streamkit is cheap: submodules and their dependencies load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AuthenticationError,
    ConnectionLost,
    ProtocolError,
    RateLimited,
    StreamkitError,
    SubscriptionError,
)

if TYPE_CHECKING:
    from . import protocols, runtime, sim
    from .sim import Faults, MistSimulator, SmcSimulator

#: Public names that load lazily, by the module that defines them.
_LAZY: dict[str, str] = {
    "Faults": "streamkit.sim",
    "MistSimulator": "streamkit.sim",
    "SmcSimulator": "streamkit.sim",
}
_SUBMODULES = ("protocols", "runtime", "sim")

__all__ = [
    "AuthenticationError",
    "ConnectionLost",
    "Faults",
    "MistSimulator",
    "ProtocolError",
    "RateLimited",
    "SmcSimulator",
    "StreamkitError",
    "SubscriptionError",
    "__version__",
    "protocols",
    "runtime",
    "sim",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"streamkit.{name}")
    else:
        raise AttributeError(f"module 'streamkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
