"""Sinks: live tables and plots for notebook cells, on bounded pure state."""

from . import archive
from .frame import LiveFrame
from .plot import KINDS, LivePlot, PlotState
from .state import TableState, parse_age

__all__ = ["KINDS", "LiveFrame", "LivePlot", "PlotState", "TableState", "archive", "parse_age"]
