"""A real browser: JupyterLab on 127.0.0.1, Debian's headless Chromium driven by Playwright, a live notebook.

Needs Debian's ``chromium`` package (``apt-get install chromium``); CI installs it (see .ci/run). Screenshots go
to ``tests/browser/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BROWSER, CHROMIUM, CHROMIUM_ARGS, SETUP, SHOTS, jupyterlab

pytestmark = BROWSER

CELLS = [
    SETUP,
    "frame = sk.LiveFrame(rows, max_rows=10_000, fps=2, show=8)\nframe",
    "plot = sk.LivePlot(rows, x='_time', y='cpu_util', color='mac', fps=2)\nplot",
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    with jupyterlab(tmp_path, CELLS) as url:
        yield url


def rows_shown(page: object) -> int:
    head = page.locator(".sk-head").first.inner_text()  # type: ignore[attr-defined]
    match = re.search(r"([\d,]+) rows", head)
    assert match, head
    return int(match[1].replace(",", ""))


def points_plotted(page: object) -> int:
    return int(
        page.evaluate(  # type: ignore[attr-defined]
            "() => Array.from(document.querySelectorAll('.js-plotly-plot')).reduce("
            "(n, el) => n + (el.data || []).reduce((m, t) => m + (t.y ? t.y.length : 0), 0), 0)"
        )
    )


def test_live_table_and_plot_update_in_jupyterlab(lab: str):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        started = time.monotonic()
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_function(  # the kernel is connected and idle
            "() => document.body.innerText.includes('| Idle')",
            timeout=120_000,
        )
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            page.wait_for_function(  # the table's header counts its first rows
                "() => /[1-9][\\d,]* rows/.test(document.querySelector('.sk-head')?.innerText || '')",
                timeout=120_000,
            )
            page.wait_for_function(
                "() => document.querySelector('.js-plotly-plot') && document.querySelector('.js-plotly-plot').data"
                " && document.querySelector('.js-plotly-plot').data.length > 0",
                timeout=120_000,
            )
        except Exception:
            page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
            raise
        print(f"notebook live in the browser after {time.monotonic() - started:.1f} s")
        first_rows, first_points = rows_shown(page), points_plotted(page)
        page.screenshot(path=str(SHOTS / "live-notebook-1.png"), full_page=True)
        page.wait_for_timeout(3_000)
        second_rows, second_points = rows_shown(page), points_plotted(page)
        page.screenshot(path=str(SHOTS / "live-notebook-2.png"), full_page=True)
        browser.close()
    assert 0 < first_rows < second_rows
    assert 0 < first_points < second_points
