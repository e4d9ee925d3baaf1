"""The public surface: explicit, lazily imported, typed."""

from __future__ import annotations

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
