"""Sinks: live tables and plots for notebook cells, on bounded pure state."""

from .frame import LiveFrame
from .state import TableState, parse_age

__all__ = ["LiveFrame", "TableState", "parse_age"]
