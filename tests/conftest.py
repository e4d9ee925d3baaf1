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
