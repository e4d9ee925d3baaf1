"""LiveFrame's grid (Perspective's viewer) in JupyterLab in Chromium: two grids in one page, sorting by a click on
a column's name, a filter, and the rows staying live under both.

Needs Debian's ``chromium`` package (``apt-get install chromium``); CI installs it (see .ci/run). The screenshot
goes to ``tests/browser/screenshots/grid-sorted-filtered.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import BROWSER, SETUP, SHOTS, chromium_page, jupyterlab, run_all_cells

pytestmark = BROWSER

CELLS = [
    SETUP,
    "frame = sk.LiveFrame(rows, max_rows=10_000, fps=2)\nframe",
    "aps = sk.LiveFrame(rows, key='mac', columns=['mac', 'cpu_util', 'uptime', 'last_seen'], title='APs', fps=2)\naps",
]

#: The header and body cells a viewer's datagrid shows now (its regular-table may sit in a shadow root).
GRID = """(n) => {
  const viewer = document.querySelectorAll('perspective-viewer')[n];
  const datagrid = viewer && viewer.querySelector('perspective-viewer-datagrid');
  if (!datagrid) return null;
  const table = datagrid.querySelector('regular-table') || datagrid.shadowRoot?.querySelector('regular-table');
  if (!table) return null;
  const texts = (row) => [...row.querySelectorAll('th, td')].map((cell) => cell.innerText.trim());
  const head = table.querySelectorAll('thead tr');
  const rows = [...table.querySelectorAll('tbody tr')].map(texts);
  return {head: head.length ? texts(head[head.length - 1]) : [], rows};
}"""


def grid(page: Any, n: int) -> dict[str, Any]:
    shown = page.evaluate(GRID, n)
    assert shown is not None, f"grid {n} not drawn"
    return dict(shown)


def column(shown: dict[str, Any], name: str) -> list[float]:
    at = shown["head"].index(name)
    return [float(row[at].replace(",", "")) for row in shown["rows"] if row[at] not in ("", "-")]


def viewer_config(page: Any, n: int) -> dict[str, Any]:
    return dict(page.evaluate("async (n) => await document.querySelectorAll('perspective-viewer')[n].save()", n))


def test_two_grids_sort_and_filter_in_jupyterlab(tmp_path: Path):
    SHOTS.mkdir(exist_ok=True)
    with jupyterlab(tmp_path, CELLS) as url, chromium_page() as page:
        run_all_cells(page, url)
        try:
            page.wait_for_function(  # both grids show rows, with the columns asked for (set once the table loaded)
                f"() => [0, 1].every((n) => {{ const g = ({GRID})(n); return g && g.rows.length >= 4; }})"
                f" && ({GRID})(1).head[1] === 'cpu_util'",
                timeout=120_000,
            )
            # both grids drew: the second widget in the page did not fail to define Perspective's elements again
            assert page.get_by_text("javascript error").count() == 0
            aps = grid(page, 1)
            assert aps["head"][:4] == ["mac", "cpu_util", "uptime", "last_seen"], aps["head"]
            assert len(aps["rows"]) == len({row[0] for row in aps["rows"]}) >= 4  # one row per device

            # sorting: a click on a column's name, as a user would
            page.locator("perspective-viewer").nth(1).locator("th", has_text="cpu_util").first.click()
            page.wait_for_function(
                "async () => (await document.querySelectorAll('perspective-viewer')[1].save()).sort.length > 0"
            )
            sort = viewer_config(page, 1)["sort"]
            assert sort[0][0] == "cpu_util", sort
            page.wait_for_timeout(1_500)  # a frame or two later, still in order while values change
            values = column(grid(page, 1), "cpu_util")
            assert values == sorted(values, reverse=sort[0][1].startswith("desc")), (sort, values)

            # a filter: the rows shown are those that pass it, and stay so as new values come
            threshold = sorted(values)[len(values) // 2]
            page.evaluate(
                "async ([t]) => await document.querySelectorAll('perspective-viewer')[1]"
                ".restore({filter: [['cpu_util', '>=', t]]})",
                [threshold],
            )
            page.wait_for_timeout(1_500)
            passed = column(grid(page, 1), "cpu_util")
            assert passed and all(v >= threshold for v in passed), (threshold, passed)
            assert viewer_config(page, 1)["filter"] == [["cpu_util", ">=", threshold]]

            # the append grid keeps growing meanwhile: its newest row number goes up
            first = grid(page, 0)
            page.wait_for_timeout(2_000)
            second = grid(page, 0)
            assert second["rows"] != first["rows"]
        except Exception:
            page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
            raise
        page.locator("perspective-viewer").nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "grid-sorted-filtered.png"), full_page=True)
