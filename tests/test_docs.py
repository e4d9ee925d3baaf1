"""The docs site builds with warnings as errors, offline, and documents every public name with an example."""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import streamkit

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "docs" / "mkdocs.yml"

#: The modules whose ``__all__`` the API reference and the docstring check walk (with ``streamkit`` itself).
PUBLIC_MODULES = (
    "streamkit.core",
    "streamkit.connection",
    "streamkit.protocols",
    "streamkit.ops",
    "streamkit.sinks",
    "streamkit.notebook",
    "streamkit.recording",
    "streamkit.sim",
    "streamkit.scale",
    "streamkit.runtime",
    "streamkit.errors",
)
#: The modules whose every public name must have a docstring with a runnable example (``>>>``).
EXAMPLE_MODULES = (
    "streamkit",
    "streamkit.core",
    "streamkit.protocols",
    "streamkit.ops",
    "streamkit.sinks",
    "streamkit.sim",
    "streamkit.recording",
    "streamkit.errors",
    "streamkit.connection",
    "streamkit.notebook",
    "streamkit.scale",
    "streamkit.runtime",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with ``mkdocs build --strict`` into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",  # Material's banner about its successor, printed on every build
        # nothing may reach the network: a plugin that tried would fail through this dead proxy, and warn
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "no_proxy": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(CONFIG), "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_the_config_fetches_nothing():
    text = CONFIG.read_text()
    assert "inventories: []" in text  # mkdocstrings would download objects.inv files otherwise
    assert "font: false" in text  # no Google Fonts
    assert "http://" not in text and "https://" not in text


def test_the_site_builds_strict_with_every_page(site: Path):
    for page in ("index.html", "architecture/index.html", "guides/operators/index.html", "api/ops/index.html"):
        assert (site / page).is_file(), page
    assert "One computation per pipeline" in (site / "architecture" / "index.html").read_text()


def test_the_api_reference_has_every_public_name(site: Path):
    index = (site / "api" / "index.html").read_text()
    for name in streamkit.__all__:
        assert f"sk.{name}" in index, f"streamkit.{name} is missing from the API index"
    missing = []
    for module in PUBLIC_MODULES:
        short = module.removeprefix("streamkit.")
        page = (site / "api" / short / "index.html").read_text()
        for name in importlib.import_module(module).__all__:
            # a function in a module of the same name (ops.flatten.flatten) is documented under its full path
            if f'id="{module}.{name}"' not in page and f'id="{module}.{name}.{name}"' not in page:
                missing.append(f"{module}.{name}")
    assert not missing, f"not in the API reference: {missing}"
    assert 'id="streamkit.sinks.LiveFrame"' in (site / "api" / "sinks" / "index.html").read_text()
    assert 'id="streamkit.ops.tumbling"' in (site / "api" / "ops" / "index.html").read_text()
    assert 'id="streamkit.sim.MistSimulator"' in (site / "api" / "sim" / "index.html").read_text()
    assert 'id="streamkit.collect"' in index


def test_examples_render_as_code(site: Path):
    page = (site / "api" / "sinks" / "index.html").read_text()
    assert 'class="gp">&gt;&gt;&gt; </span>' in page  # a >>> session became a highlighted pycon block
    assert ":class:`" not in page and ":func:`" not in page  # reST roles became code


def _own_docstring(obj: Any) -> str | None:
    """The docstring written for ``obj`` itself (not inherited, not a dataclass's generated signature)."""
    if isinstance(obj, type):
        return obj.__dict__.get("__doc__")
    return getattr(obj, "__doc__", None)


def _source_file(obj: Any) -> str:
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return "?"
    return str(Path(path).relative_to(ROOT)) if path else "?"


@functools.cache
def _static_package() -> Any:
    """streamkit as griffe reads it from source (what mkdocstrings renders)."""
    import griffe

    return griffe.load("streamkit", search_paths=[str(ROOT)])


def _data_documented(module: str, name: str) -> tuple[bool, str]:
    """Whether a constant or type alias is documented by a ``#:`` comment above its assignment (what the site
    shows), and the file that defines it."""
    found = _static_package()[f"{module}.{name}".removeprefix("streamkit.")]
    target = found.final_target if found.is_alias else found
    where = str(Path(target.filepath).relative_to(ROOT))
    if target.docstring is not None:
        return True, where
    lines = target.module.lines
    return bool(target.lineno and target.lineno > 1 and lines[target.lineno - 2].lstrip().startswith("#:")), where


def lacking_examples() -> dict[str, list[str]]:
    """Public names without a docstring holding a ``>>>`` example, by the file that defines them."""
    lacking: dict[str, list[str]] = {}
    for module in EXAMPLE_MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            if name == "__version__":
                continue
            obj = getattr(mod, name)
            if isinstance(obj, types.ModuleType):
                where, doc = _source_file(obj), obj.__doc__
            elif (inspect.isclass(obj) or inspect.isroutine(obj)) and getattr(obj, "__name__", None) == name:
                where, doc = _source_file(obj), _own_docstring(obj)
            else:  # a constant or a type alias: a #: comment documents it; its module's docstring shows it in use
                documented, where = _data_documented(module, name)
                if not documented:
                    lacking.setdefault(where, []).append(f"{name} (a constant without a #: comment)")
                continue
            if not doc or ">>>" not in doc:
                what = obj.__name__ if isinstance(obj, types.ModuleType) else obj.__qualname__
                lacking.setdefault(where, []).append(what)
    return {where: sorted(set(names)) for where, names in sorted(lacking.items())}


def test_every_public_name_has_a_docstring_with_an_example():
    """Doctests run in the suite (``--doctest-modules``), so every example found here is also run."""
    lacking = lacking_examples()
    report = "\n".join(f"  {where}: {', '.join(names)}" for where, names in lacking.items())
    assert not lacking, f"public names whose docstring has no >>> example:\n{report}"
