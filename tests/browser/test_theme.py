"""The views follow JupyterLab's light and dark themes, live: a LivePlot and the health view in a real
JupyterLab (headless Chromium), screenshots of each theme in ``tests/browser/screenshots/theme-*.png`` (the page,
each chart), and the colours the browser computes checked: the plot lets the cell's background through, its text
turns light on dark, the health view's colours are JupyterLab's own.
"""

from __future__ import annotations

import re
from typing import Any

from .conftest import BROWSER, SETUP, SHOTS, chromium_page, jupyterlab, run_all_cells

pytestmark = BROWSER

CELLS = [
    SETUP,
    "plot = sk.LivePlot(rows, x='_time', y='cpu_util', color='mac', fps=2)\nplot",
    "sk.health(mist)",
    "aps = sk.LiveFrame(rows, key='mac', columns=['mac', 'cpu_util', 'uptime'], title='APs', fps=2)\naps",
    "typo = sk.LivePlot(rows, x='_time', y='cpu_utl', fps=2)\ntypo",  # a plot that says what is wrong
]

#: What the browser computes for the plot and the health view: each colour as CSS gives it ("rgb(...)").
COLOURS = """() => {
  const style = (element) => element ? getComputedStyle(element) : null;
  const plot = document.querySelector('.sk-plot');
  const svg = plot.querySelector('.main-svg');
  let backdrop = null;  // what shows behind the chart: the first ancestor with a background of its own
  for (let el = svg; el && !backdrop; el = el.parentElement) {
    const colour = style(el).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') backdrop = colour;
  }
  const health = Array.from(document.querySelectorAll('.jp-OutputArea-output table'))
    .find((table) => table.innerText.includes('reconnects'));
  const datagrid = document.querySelector('perspective-viewer perspective-viewer-datagrid');
  const root = datagrid && (datagrid.shadowRoot || datagrid);
  const table = datagrid && (datagrid.querySelector('regular-table') || root.querySelector('regular-table'));
  const cell = table && table.querySelector('tbody td');
  let gridBack = null;  // behind the grid's text: the first ancestor (out through shadow roots) with a background
  for (let el = cell; el && !gridBack; el = el.parentElement || el.getRootNode().host) {
    const colour = style(el).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') gridBack = colour;
  }
  const probe = document.createElement('span');  // what JupyterLab's success colour is in this theme
  probe.style.color = 'var(--jp-success-color1)';
  document.body.appendChild(probe);
  const success = style(probe).color;
  probe.remove();
  return {
    light: document.body.dataset.jpThemeLight,
    paper: style(svg).backgroundColor,
    plotArea: style(plot.querySelector('.bglayer .bg')).fillOpacity,
    note: style(document.querySelectorAll('.sk-plot')[1].querySelector('.annotation-text')).fill,
    backdrop: backdrop || 'rgb(255, 255, 255)',
    title: style(plot.querySelector('.gtitle')).fill,
    tick: style(plot.querySelector('.ytick text')).fill,
    grid: style(plot.querySelector('.gridlayer path')).stroke,
    healthText: style(health.querySelector('td')).color,
    healthState: style(health.querySelector('b')).color,
    success,
    gridTheme: document.querySelector('perspective-viewer').getAttribute('theme'),
    gridText: cell ? style(cell).color : null,
    gridBack: gridBack || 'rgb(255, 255, 255)',
  };
}"""


def rgba(colour: str) -> tuple[float, float, float, float]:
    """``rgb(r, g, b)`` / ``rgba(r, g, b, a)`` as numbers (alpha 1 when not given)."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", colour)]
    assert len(numbers) in (3, 4), colour
    return numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 1.0


def luminance(colour: str, over: str = "rgb(255, 255, 255)") -> float:
    """Relative luminance (WCAG), 0 black to 1 white, of ``colour`` as seen over ``over`` (its alpha blended)."""

    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    *front, alpha = rgba(colour)
    back = rgba(over)
    r, g, b = (alpha * f + (1 - alpha) * k for f, k in zip(front, back, strict=False))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(text: str, backdrop: str) -> float:
    """WCAG contrast ratio (1 to 21) of ``text`` on ``backdrop``."""
    light, dark = sorted((luminance(text, backdrop), luminance(backdrop)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def shoot(page: Any, theme: str) -> dict[str, str]:
    """Screenshots of the page and of each chart alone in ``theme``, and the colours the browser computes."""
    grid_theme = "Pro Dark" if theme == "dark" else "Pro Light"  # the grid's theme is set through the kernel
    page.wait_for_function(
        f"() => document.querySelector('perspective-viewer').getAttribute('theme') === '{grid_theme}'"
    )
    page.wait_for_timeout(1_500)  # a redraw or two of the live views in this theme
    page.screenshot(path=str(SHOTS / f"theme-{theme}.png"), full_page=True)
    page.locator(".sk-plot").first.screenshot(path=str(SHOTS / f"theme-{theme}-plot.png"))
    page.locator(".sk-plot").nth(1).screenshot(path=str(SHOTS / f"theme-{theme}-message.png"))  # below the fold
    colours: dict[str, str] = page.evaluate(COLOURS)
    print(theme, colours)
    return colours


def test_views_follow_jupyterlab_light_and_dark_themes(tmp_path):
    SHOTS.mkdir(exist_ok=True)
    with jupyterlab(tmp_path, CELLS) as url, chromium_page() as page:
        try:
            run_all_cells(page, url)
            page.wait_for_function(
                "() => { const plots = document.querySelectorAll('.js-plotly-plot.sk-plot');"
                " return plots.length === 2 && plots[0].data && plots[0].data.length > 0"
                " && plots[0].querySelector('.ytick text') && plots[1].querySelector('.annotation-text')"
                " && Array.from(document.querySelectorAll('.jp-OutputArea-output table'))"
                ".some((table) => table.innerText.includes('connected'))"
                " && document.querySelector('perspective-viewer perspective-viewer-datagrid'); }",
                timeout=120_000,
            )
            light = shoot(page, "light")
            page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
            page.locator(".lm-Menu-itemLabel", has_text="JupyterLab Dark").first.click()
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
            dark = shoot(page, "dark")
        except Exception:
            page.screenshot(path=str(SHOTS / "theme-failure.png"), full_page=True)
            raise
    assert light["light"] == "true" and dark["light"] == "false"
    for theme in (light, dark):
        assert rgba(theme["paper"])[3] == 0 and float(theme["plotArea"]) == 0  # the cell's background shows
        for text in ("title", "tick", "healthText"):
            assert contrast(theme[text], theme["backdrop"]) >= 4.5, (text, theme)  # readable (WCAG AA)
        assert contrast(theme["note"], theme["backdrop"]) >= 3, theme  # "no field 'cpu_utl'...", large text
        assert theme["healthState"] == theme["success"]  # "connected" in JupyterLab's own success colour
        assert contrast(theme["gridText"], theme["gridBack"]) >= 4.5, theme  # the grid's rows are readable
    assert luminance(light["backdrop"]) > 0.8 and luminance(dark["backdrop"]) < 0.05  # not white in the dark
    assert luminance(light["tick"], light["backdrop"]) < luminance(light["backdrop"])  # dark text on light...
    assert luminance(dark["tick"], dark["backdrop"]) > luminance(dark["backdrop"])  # ...and light text on dark
    assert light["grid"] != dark["grid"]  # the plot's grid lines follow the theme too
    assert (light["gridTheme"], dark["gridTheme"]) == ("Pro Light", "Pro Dark")  # and the LiveFrame's grid
    assert luminance(dark["gridBack"]) < 0.1 < 0.8 < luminance(light["gridBack"])
