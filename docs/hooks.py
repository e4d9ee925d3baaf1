"""MkDocs hooks for the streamkit site (``docs/mkdocs.yml``).

``<!-- streamkit:all -->`` in a page becomes a table of every name in ``streamkit.__all__``, each linked to where
the API reference documents it, with what it is (the first paragraph of its docstring): the index can never miss a
public name, and a name the reference does not document fails the strict build (an unresolved link).
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

MARKER = "<!-- streamkit:all -->"
#: Where a top-level name is documented: the first of these public modules whose ``__all__`` lists it.
HOMES = (
    "core",
    "connection",
    "protocols",
    "ops",
    "sinks",
    "notebook",
    "recording",
    "sim",
    "scale",
    "runtime",
    "errors",
)


ROLE = re.compile(r":(?:func|meth|class|attr|data|mod|exc|obj|const):`~?\.?([^`]+)`")


def _summary(obj: Any) -> str:
    """The first paragraph of ``obj``'s docstring, as Markdown on one line."""
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return ROLE.sub(r"`\1`", first).replace("|", "\\|")


def _home(name: str) -> str:
    """Where the API reference documents the top-level ``name``."""
    for home in HOMES:
        if name in getattr(importlib.import_module(f"streamkit.{home}"), "__all__", ()):
            return f"streamkit.{home}.{name}"
    return f"streamkit.{name}"  # defined in a private module: documented on the index page (``::: streamkit.NAME``)


def table() -> str:
    """The Markdown table of ``streamkit.__all__``: each name linked to its documentation, and what it is."""
    import streamkit

    rows = ["| `sk.` name | what it is |", "| --- | --- |"]
    for name in streamkit.__all__:
        if name == "__version__":
            rows.append(f"| `sk.__version__` | the installed version (`{streamkit.__version__}` here) |")
            continue
        obj = getattr(streamkit, name)
        target = obj.__name__ if inspect.ismodule(obj) else _home(name)
        rows.append(f"| [`sk.{name}`][{target}] | {_summary(obj)} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(MARKER, table()) if MARKER in markdown else markdown
