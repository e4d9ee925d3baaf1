from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def mist_frames() -> dict[str, Any]:
    return json.loads((DATA / "mist_frames.json").read_text())


@pytest.fixture(scope="session")
def smc_frames() -> dict[str, Any]:
    return json.loads((DATA / "smc_frames.json").read_text())


#: Tests of real connections run once on each transport streamkit offers (``$STREAMKIT_TRANSPORT`` is what a
#: client uses when given no ``transport=``).
ON_EACH_TRANSPORT = ("tests/connection/", "tests/faults/")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    path = metafunc.definition.path.as_posix()
    if any(part in path for part in ON_EACH_TRANSPORT) and "transport" not in metafunc.fixturenames:
        from streamkit.connection import CONNECTORS

        metafunc.fixturenames.append("default_transport")
        metafunc.parametrize("default_transport", sorted(CONNECTORS), indirect=True)


@pytest.fixture
def default_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STREAMKIT_TRANSPORT", request.param)
    return str(request.param)
