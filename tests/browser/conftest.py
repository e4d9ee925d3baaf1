"""What the browser tests share: JupyterLab on 127.0.0.1 with a notebook of given cells, Debian's headless
Chromium (never a downloaded browser), and a page where that notebook runs.

Needs Debian's ``chromium`` package (``apt-get install chromium``); CI installs it (see .ci/run). Screenshots go
to ``tests/browser/screenshots/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The first cell of the browser tests' notebooks: a Mist simulator and its flattened device stats as ``rows``.
SETUP = (
    "import streamkit as sk\nfrom streamkit import ops\n"
    "sim = sk.MistSimulator(seed=1, interval=0.1, sites=1, aps=4).start()\n"
    "mist = sk.mist(url=sim.url, token=sim.token)\n"
    "rows = mist.subscribe(sim.channel('device_stats')).pipe(ops.flatten())"
)
#: The marks of every browser test module (``pytestmark = BROWSER``).
BROWSER = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium: apt-get install chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def jupyterlab(folder: Path, cells: list[str]) -> Iterator[str]:
    """JupyterLab serving ``folder`` with ``live.ipynb`` made of ``cells``; yields the notebook's URL (token
    included). Its settings live in ``folder`` (no news, no update checks; a test may change them)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "live.ipynb")
    settings_dir = folder / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings_dir.mkdir(parents=True)
    (settings_dir / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--allow-root",
    ]
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(folder / "lab-settings")}
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) as server:
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                        json.load(r)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            yield f"{base}/lab/tree/live.ipynb?token={token}"
        finally:
            server.terminate()
            server.wait(20)


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium, 1280 x 1000."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1000})
        finally:
            browser.close()


def run_all_cells(page: Any, url: str) -> None:
    """Open the notebook at ``url``, wait for its kernel to be idle, and run all its cells (Run > Run All Cells)."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=120_000)  # the kernel
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
