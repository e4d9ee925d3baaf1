"""MkDocs hooks for the streamkit site (``docs/mkdocs.yml``).

``<!-- streamkit:all -->`` in a page becomes a table of every name in ``streamkit.__all__``: what it is (the first
line of its docstring) and a link to the page that documents it, so the index can never miss a public name.
"""

from __future__ import annotations

import importlib
import inspect
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


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.replace("|", "\\|")


def table() -> str:
    """The Markdown table of ``streamkit.__all__``."""
    import streamkit

    rows = ["| name | what | documented in |", "| --- | --- | --- |"]
    for name in streamkit.__all__:
        if name == "__version__":
            rows.append(f"| `sk.__version__` | the installed version (`{streamkit.__version__}` here) | |")
            continue
        obj = getattr(streamkit, name)
        if inspect.ismodule(obj):
            rows.append(f"| `sk.{name}` | {_summary(obj)} | [`{obj.__name__}`][{obj.__name__}] |")
            continue
        for home in HOMES:
            module = importlib.import_module(f"streamkit.{home}")
            if name in getattr(module, "__all__", ()):
                target = f"streamkit.{home}.{name}"
                break
        else:  # defined in a private module: documented on the index page itself (``::: streamkit.NAME``)
            rows.append(f"| [`sk.{name}`][streamkit.{name}] | {_summary(obj)} | this page |")
            continue
        rows.append(f"| [`sk.{name}`][{target}] | {_summary(obj)} | [`streamkit.{home}`][streamkit.{home}] |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(MARKER, table()) if MARKER in markdown else markdown
