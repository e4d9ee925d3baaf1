"""The public surface: explicit, lazily imported, typed."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import streamkit

PUBLIC_MODULES = ["streamkit.errors", "streamkit.sim"]


def test_top_level_is_the_union_of_the_public_modules():
    names = {"__version__", "protocols", "runtime", "sim"}
    for module in PUBLIC_MODULES:
        names |= set(importlib.import_module(module).__all__)
    assert set(streamkit.__all__) == names - {"Simulator", "MistWorld", "SmcWorld"} | {"sim"}
    for name in streamkit.__all__:
        assert getattr(streamkit, name) is not None


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
