"""Sinks: live tables and plots for notebook cells, on bounded pure state."""

from . import archive
from .frame import LiveFrame
from .plot import KINDS, LivePlot, PlotState
from .reports import Provenance, report
from .state import TableState, parse_age

__all__ = ["KINDS", "LiveFrame", "LivePlot", "PlotState", "Provenance", "TableState", "archive", "parse_age", "report"]
