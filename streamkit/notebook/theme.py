"""Which theme the notebook shows, for views whose colours are set from the kernel (Perspective's grid)."""

from __future__ import annotations

from typing import Any

__all__ = ["theme_watch"]

#: Runs in the browser: dark when JupyterLab (``data-jp-theme-light``) or VS Code (``vscode-dark``) says so, told
#: to the kernel at once and on every change of theme.
_ESM = """
function isDark() {
  const body = document.body;
  return body.dataset.jpThemeLight === "false" || body.classList.contains("vscode-dark");
}
function render({ model, el }) {
  el.style.display = "none";
  const tell = () => {
    const dark = isDark();
    if (model.get("dark") !== dark) { model.set("dark", dark); model.save_changes(); }
  };
  tell();
  const watcher = new MutationObserver(tell);
  watcher.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
  return () => watcher.disconnect();
}
export default { render };
"""

_WATCH: Any = None


def theme_watch() -> Any:
    """An invisible widget whose ``dark`` trait follows the notebook's theme (observe it with
    ``watch.observe(callback, "dark")``); outside a browser it stays False.

    >>> watch = theme_watch()
    >>> watch.dark, watch.layout.display
    (False, 'none')
    """
    global _WATCH
    if _WATCH is None:
        import anywidget
        import traitlets

        class ThemeWatch(anywidget.AnyWidget):
            _esm = _ESM
            dark = traitlets.Bool(False).tag(sync=True)

        _WATCH = ThemeWatch
    watch = _WATCH()
    watch.layout.display = "none"
    return watch
