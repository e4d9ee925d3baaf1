"""A griffe extension for the docs site: streamkit's docstrings are written for ``help()`` and doctest (reST roles,
``>>>`` sessions, ``::`` literal blocks); this turns them into the Markdown mkdocstrings renders.

- ``:func:`collect``` (any role) becomes inline code;
- a ``>>>`` session (up to the next blank line, as doctest reads it) becomes a fenced ``pycon`` block, without
  ``# doctest:`` directives;
- ``Example::`` and an indented block become a fenced ``python`` block;
- special methods (``__repr__`` ...) are left out of the pages;
- a constant or type alias takes the ``#:`` comment above it as its docstring (Sphinx's convention).

Loaded by ``docs/mkdocs.yml``; it changes only what the site shows, never the package.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

DIRECTIVE = re.compile(r"\s*# doctest: .*$")  # how doctest compares output: nothing a reader needs
ROLE = re.compile(r":(?:func|meth|class|attr|data|mod|exc|obj|const):`~?\.?([^`]+)`")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def markdown(text: str) -> str:
    """The Markdown form of one docstring."""
    lines = ROLE.sub(r"`\1`", text).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(">>>"):
            pad = _indent(line)
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(pad) :] if lines[i].startswith(pad) else lines[i].strip())
                i += 1
            if out and out[-1].strip():
                out.append("")
            block = [DIRECTIVE.sub("", b) for b in block]
            out += [pad + "```pycon", *(pad + b for b in block), pad + "```"]
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            pad = _indent(line)
            head = stripped[:-1]
            if head.rstrip(":").lower() in {"example", "examples", "usage"}:
                head = "For example:"
            out.append(pad + head)
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or len(_indent(lines[i])) > len(pad)):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                inner = min(len(_indent(b)) for b in block if b.strip())
                out += ["", pad + "```python", *(pad + b[inner:] for b in block), pad + "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def comment_docstring(attr: griffe.Object) -> str | None:
    """The ``#:`` lines just above an attribute's assignment, or None."""
    if attr.lineno is None:
        return None
    lines = attr.module.lines
    found: list[str] = []
    i = attr.lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("#:"):
        found.insert(0, lines[i].lstrip()[2:].strip())
        i -= 1
    return " ".join(found) or None


class StreamkitDocstrings(griffe.Extension):
    """Rewrite every docstring of the loaded package with :func:`markdown`; ``#:`` comments become docstrings."""

    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs: Any) -> None:
        if attr.docstring is None and (text := comment_docstring(attr)):
            attr.docstring = griffe.Docstring(text, parent=attr)

    def on_type_alias_instance(self, *, type_alias: griffe.TypeAlias, **kwargs: Any) -> None:
        if type_alias.docstring is None and (text := comment_docstring(type_alias)):
            type_alias.docstring = griffe.Docstring(text, parent=type_alias)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()
        todo: list[griffe.Object] = [pkg]
        while todo:
            obj = todo.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
            if obj.is_class:  # __repr__, __len__, __getstate__ ...: how Python calls a class, not API to read
                for name in [n for n in obj.members if n.startswith("__") and n.endswith("__") and n != "__init__"]:
                    obj.del_member(name)
            todo.extend(member for member in obj.members.values() if not member.is_alias)  # type: ignore[misc]
