"""Simulators of the vendor protocols: real WebSocket servers on loopback, seeded and deterministic.

A client written from the vendor's documentation works against them unchanged but for the URL:

>>> import streamkit as sk
>>> from streamkit.sim import MistSimulator, SmcSimulator
>>> with MistSimulator(seed=7, sites=1, aps=2, interval=0.05) as mist_sim, SmcSimulator(seed=7) as smc_sim:
...     mist_sim.channel("device_stats").endswith("/stats/devices"), smc_sim.socket_url.endswith("/status/socket")
(True, True)
"""

from ._server import Faults, Simulator
from .mist import MistSimulator
from .mist_world import MistWorld
from .smc import SmcSimulator
from .smc_world import SmcWorld

__all__ = ["Faults", "MistSimulator", "MistWorld", "Simulator", "SmcSimulator", "SmcWorld"]
