"""Sinks: live tables and plots for notebook cells, on bounded pure state.

``sk.LiveFrame(devices, key="mac")`` shows the latest row per device in a cell; its state is a plain
:class:`TableState`, bounded in rows (and age), which works without a notebook:

>>> from streamkit.sinks import TableState
>>> table = TableState(key="mac", max_rows=2)
>>> table.add([{"mac": "a", "cpu": 1}, {"mac": "b", "cpu": 2}, {"mac": "a", "cpu": 3}, {"mac": "c", "cpu": 4}])
>>> [(row["mac"], row["cpu"]) for row in table.rows()], table.evicted
([('a', 3), ('c', 4)], 1)
"""

from . import archive
from .frame import LiveFrame
from .plot import KINDS, LivePlot, PlotState
from .reports import Provenance, report
from .state import TableState, parse_age

__all__ = ["KINDS", "LiveFrame", "LivePlot", "PlotState", "Provenance", "TableState", "archive", "parse_age", "report"]
