"""The public surface: explicit, lazily imported, typed."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import streamkit


def test_top_level_names_are_explicit_and_each_comes_from_its_modules_all():
    assert set(streamkit.__all__) == {*streamkit._EAGER, *streamkit._LAZY, *streamkit._SUBMODULES}
    for name, module in streamkit._LAZY.items():
        assert name in importlib.import_module(module).__all__, f"{name} is not public in {module}"
    for name in streamkit._EAGER:
        if name != "__version__":
            assert name in streamkit.errors.__all__
    for name in streamkit.__all__:
        assert getattr(streamkit, name) is not None
    assert set(dir(streamkit)) >= set(streamkit.__all__)


def test_every_module_declares_all():
    for info in pkgutil.walk_packages(streamkit.__path__, "streamkit."):
        if info.name != "streamkit.__main__":
            assert hasattr(importlib.import_module(info.name), "__all__"), f"{info.name} has no __all__"


def test_import_is_light():
    code = (
        "import sys, streamkit; heavy = {'pandas', 'plotly', 'ipywidgets', 'websockets', 'aiohttp', 'httpx'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_typed_marker_is_shipped():
    assert (Path(streamkit.__file__).parent / "py.typed").exists()


def test_importing_every_submodule_first_shadows_no_public_name():
    """A submodule named like a public function would replace it on the package once imported."""
    code = (
        "import importlib, pkgutil, types, streamkit\n"
        "for info in pkgutil.walk_packages(streamkit.__path__, 'streamkit.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "modules = [n for n in streamkit._LAZY if isinstance(getattr(streamkit, n), types.ModuleType)]\n"
        "assert modules == ['archive'], modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_layers_without_io_load_no_network_library():
    """ops, sinks, protocols and core work on messages, not sockets: importing them loads no network library."""
    code = (
        "import sys, importlib\n"
        "for name in ('streamkit.core', 'streamkit.ops', 'streamkit.sinks', 'streamkit.protocols'):\n"
        "    importlib.import_module(name)\n"
        "print(sorted({'websockets', 'httpx', 'aiohttp'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _imports(path: Path, module: str, package: bool) -> set[str]:
    """The streamkit modules ``module`` imports when it is loaded: its top-level imports, not those inside
    functions (deferred on purpose) or under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    here = module if package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:  # "from . import x" may name a submodule
                found.add(f"{base}.{alias.name}")
            found.add(base)
    return {name for name in found if name.startswith("streamkit")}


def test_no_import_cycle_inside_the_package():
    root = Path(streamkit.__file__).parent
    modules: dict[str, tuple[Path, bool]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    graph = {
        name: {m for m in _imports(path, name, package) if m in modules and m != name}
        for name, (path, package) in modules.items()
    }
    # a package's __init__ importing its own submodules is how packages are built, not a cycle
    for name, (_, package) in modules.items():
        if package:
            graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [name, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
