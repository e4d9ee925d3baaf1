"""Simulators of the vendor protocols: real WebSocket servers on loopback, seeded and deterministic."""

from ._server import Faults, Simulator
from .mist import MistSimulator
from .mist_world import MistWorld
from .smc import SmcSimulator
from .smc_world import SmcWorld

__all__ = ["Faults", "MistSimulator", "MistWorld", "Simulator", "SmcSimulator", "SmcWorld"]
