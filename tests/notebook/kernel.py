"""Run code cells in a real Jupyter kernel (nbclient), as a notebook user would."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient


def run_cells(*sources: str, timeout: int = 60) -> list[list[dict]]:
    """Execute the cells in order in a fresh kernel; returns each cell's outputs. Raises on a cell error."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    NotebookClient(nb, kernel_name="python3", timeout=timeout).execute()
    return [cell.outputs for cell in nb.cells]


def text(outputs: list[dict]) -> str:
    """The stdout and plain-text results of one cell."""
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)
