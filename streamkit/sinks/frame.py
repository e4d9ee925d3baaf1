"""LiveFrame: a bounded, live pandas table of a stream, shown in a notebook cell."""

from __future__ import annotations

import html
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reactivex import Observable

from ..notebook.display import show_html
from .state import TableState
from .view import LiveView, span_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LiveFrame"]

STYLE = (
    "<style>.sk-live td,.sk-live th{padding:2px 8px;font-size:12px;text-align:right;white-space:nowrap}"
    ".sk-live tr.sk-new td{background:rgba(255,200,0,.25)}.sk-head{font-size:12px;color:#555;margin:2px 0}</style>"
)


class LiveFrame(LiveView):
    """A live, bounded table of a stream's records; ``frame.df`` is a pandas DataFrame snapshot at any time.

    Args:
        source: an Observable of dicts (records, flattened rows) or of DataFrames (window results).
        key: keyed mode: the latest row per key (e.g. ``"mac"``); without it rows are appended.
        merge: keyed mode merges each record's fields into its key's row (default) rather than replacing it.
        max_rows / max_age: bounds (``max_age`` as seconds or ``"15min"``); the oldest rows go first.
        fps: most display updates per second; show: rows shown in the cell (newest first).

    In a cell, ``frame`` shows a table that keeps updating; ``frame.df`` is a DataFrame of it at any time:

    >>> import streamkit as sk
    >>> from streamkit.sim import MistSimulator
    >>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
    ...     with sk.mist(url=sim.url, token=sim.token) as mist:
    ...         devices = mist.subscribe(sim.channel("device_stats")).pipe(sk.ops.flatten())
    ...         frame = sk.LiveFrame(devices, key="mac", max_rows=10_000)
    ...         rows = sk.collect(devices, count=8, timeout=10)     # meanwhile the frame fills
    >>> df = frame.df
    >>> frame.state.received >= 8, len(frame) == len(df) <= len(sim.devices)    # the latest row per device
    (True, True)
    >>> {"mac", "_time", "uptime"} <= set(df.columns), df["mac"].is_unique
    (True, True)
    >>> frame.status                                 # the client closed: its streams completed
    <ViewState.COMPLETED: 'completed'>
    >>> frame.close()
    """

    def __init__(
        self,
        source: Observable[Any],
        *,
        key: str | Callable[[Mapping[str, Any]], Hashable] | None = None,
        max_rows: int | None = 10_000,
        max_age: float | str | None = None,
        merge: bool = True,
        fps: float = 4.0,
        show: int = 15,
    ) -> None:
        self.state = TableState(key=key, max_rows=max_rows, max_age=max_age, merge=merge)
        self.show = show
        self._shown_keys: set[Hashable] = set()
        super().__init__(source, fps=fps)

    def __repr__(self) -> str:
        mode = f"key={self.state.key_name!r}" if self.state.key_name else "append"
        return f"<LiveFrame {mode} rows={len(self.state)} received={self.state.received} {self.status}>"

    # -- data ----------------------------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """A DataFrame of everything held now (built in one go from the buffer)."""
        self._flush()
        return self.state.frame()

    def __len__(self) -> int:
        self._flush()
        return len(self.state)

    def to_parquet(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the current rows to a Parquet file (needs pyarrow: ``pip install 'streamkit[archive]'``)."""
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("to_parquet needs pyarrow: pip install 'streamkit[archive]'") from None
        self.df.to_parquet(path, **kwargs)
        return Path(path)

    def to_csv(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the current rows to a CSV file."""
        self.df.to_csv(path, index=False, **kwargs)
        return Path(path)

    def _taker(self) -> Callable[[Any], None]:
        # each record becomes its held row as it arrives; window aggregates also give their span (see _note)
        self._frames: list[Any] = []
        return self.state.taker(self._pending.append, frames=self._frames.append)

    def _ingest(self, batch: list[Any]) -> None:
        self.state.add_items(batch)

    def _note(self, batch: list[Any]) -> None:
        origins, first, last = self.state.seen(batch)
        self._origins.update(origins)
        spans = [(first, last)] if first is not None and last is not None else []
        frames = self._frames
        if frames:  # emptied in place, as the queue is (the observer holds this list)
            taken = frames[:]
            del frames[: len(taken)]
            spans.extend(span for span in map(span_of, taken) if span is not None)
        for low, high in spans:
            self._first_at = low if self._first_at is None else min(self._first_at, low)
            self._last_at = high if self._last_at is None else max(self._last_at, high)

    def _version(self) -> int:
        self.state.evict()  # age bounds move with the clock even when nothing arrives
        return self.state.version

    # -- display -------------------------------------------------------------------------------------------

    def _header(self) -> str:
        mode = f"latest per {html.escape(str(self.state.key_name or 'key'))}" if self.state.key_of else "newest first"
        mark = {"live": "●", "paused": "❚❚", "closed": "■", "completed": "■", "error": "✖"}[self.status]
        text = (
            f"{mark} {self.status} · {len(self.state):,} rows ({mode}) · {self.rate:,.1f} rec/s · "
            f"{self.state.received:,} received · {self.state.evicted:,} evicted"
        )
        if self.error is not None:
            text += f" · error: {html.escape(str(self.error))}"
        return f"<div class='sk-head'>{text}</div>"

    def _table_html(self) -> str:
        rows = self.state.rows(newest=self.show)[::-1]
        if not rows:
            return "<i>waiting for records…</i>"
        import pandas as pd

        table = pd.DataFrame(rows)
        changed = self.state.changed_keys
        self.state.changed_keys = set()
        body: str = table.to_html(index=False, classes="sk-live", border=0, na_rep="", max_cols=40, escape=True)
        key_of = self.state.key_of
        if key_of is not None and changed:
            body = _mark_rows(body, [key_of(row) in changed for row in rows])
        return body

    def _repr_html_(self) -> str:
        self._flush()
        return STYLE + self._header() + self._table_html()

    def _render(self) -> None:
        self._widget.value = self._repr_html_()

    def _ipython_display_(self) -> None:
        self._widget = show_html(self, self._widget)


def _mark_rows(body: str, marks: list[bool]) -> str:
    """Give the table rows that changed since the last frame a highlight class."""
    head, _, rest = body.partition("<tbody>")
    first, *rows = rest.split("<tr>")
    marked = "".join(("<tr class='sk-new'>" if mark else "<tr>") + row for mark, row in zip(marks, rows, strict=False))
    return head + "<tbody>" + first + marked
