"""streamkit: explore live network telemetry (Juniper Mist, Forcepoint SMC, any JSON WebSocket feed) in Jupyter.

Importing streamkit is cheap: submodules and their dependencies load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AuthenticationError,
    CollectInterrupted,
    CollectTimeout,
    ConnectionLost,
    ProtocolError,
    RateLimited,
    StreamkitError,
    SubscriptionError,
)

if TYPE_CHECKING:
    from . import connection, core, notebook, ops, protocols, recording, runtime, sim, sinks
    from ._collect import acollect, collect
    from .connection import FeedClient, MistClient, Reconnect, SmcClient, feed, mist, smc
    from .core import ConnectionState, Message, Problem, ProblemKind, Stream, ViewState, Window
    from .notebook import close_all, health, views
    from .recording import record, replay
    from .runtime import scheduler
    from .scale import cluster
    from .sim import Faults, MistSimulator, SmcSimulator
    from .sinks import LiveFrame, LivePlot, archive, report

#: Public names that load lazily, by the module that defines them.
_LAZY: dict[str, str] = {
    "mist": "streamkit.connection",
    "smc": "streamkit.connection",
    "feed": "streamkit.connection",
    "MistClient": "streamkit.connection",
    "SmcClient": "streamkit.connection",
    "FeedClient": "streamkit.connection",
    "Message": "streamkit.core",
    "Stream": "streamkit.core",
    "Window": "streamkit.core",
    "Problem": "streamkit.core",
    "ProblemKind": "streamkit.core",
    "ConnectionState": "streamkit.core",
    "ViewState": "streamkit.core",
    "Reconnect": "streamkit.connection",
    "collect": "streamkit._collect",
    "acollect": "streamkit._collect",
    "scheduler": "streamkit.runtime",
    "cluster": "streamkit.scale",
    "health": "streamkit.notebook",
    "views": "streamkit.notebook",
    "close_all": "streamkit.notebook",
    "record": "streamkit.recording",
    "replay": "streamkit.recording",
    "LiveFrame": "streamkit.sinks",
    "archive": "streamkit.sinks",
    "report": "streamkit.sinks",
    "LivePlot": "streamkit.sinks",
    "Faults": "streamkit.sim",
    "MistSimulator": "streamkit.sim",
    "SmcSimulator": "streamkit.sim",
}
_SUBMODULES = (
    "connection",
    "core",
    "notebook",
    "ops",
    "protocols",
    "recording",
    "runtime",
    "scale",
    "sim",
    "sinks",
)
_EAGER = (
    "AuthenticationError",
    "CollectInterrupted",
    "CollectTimeout",
    "ConnectionLost",
    "ProtocolError",
    "RateLimited",
    "StreamkitError",
    "SubscriptionError",
    "__version__",
)

__all__ = [
    "AuthenticationError",
    "CollectInterrupted",
    "CollectTimeout",
    "ConnectionLost",
    "ConnectionState",
    "Faults",
    "FeedClient",
    "LiveFrame",
    "LivePlot",
    "Message",
    "MistClient",
    "MistSimulator",
    "Problem",
    "ProblemKind",
    "ProtocolError",
    "RateLimited",
    "Reconnect",
    "SmcClient",
    "SmcSimulator",
    "Stream",
    "StreamkitError",
    "SubscriptionError",
    "ViewState",
    "Window",
    "__version__",
    "acollect",
    "archive",
    "close_all",
    "cluster",
    "collect",
    "connection",
    "core",
    "feed",
    "health",
    "mist",
    "notebook",
    "ops",
    "protocols",
    "record",
    "recording",
    "replay",
    "report",
    "runtime",
    "scale",
    "scheduler",
    "sim",
    "sinks",
    "smc",
    "views",
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
