"""Archive: a stream into a Parquet dataset partitioned by date (and a key), read back with DuckDB.

``sk.archive.write(devices, "archive/devices", partition_by="site_id")`` writes
``archive/devices/date=2026-11-23/site_id=.../part-<ms>-<writer>-<n>.parquet`` in batches;
``sk.archive.query("select ...
from devices", root="archive")`` queries every dataset under ``archive`` by its folder name.

What a crash can lose is bounded: rows are written in batches of at most ``batch_rows`` rows or ``flush_seconds``
seconds, each batch as its own file, written aside and renamed into place (a reader never sees half a file). A
killed process loses the batch it had not flushed yet; ``close()`` (and the end of the source, and interpreter
exit) flushes what is pending.

Needs the ``archive`` extra (``pip install "streamkit[archive]"``): pyarrow and duckdb.

Here two devices' records, dated by their ``_time``, written and read back:

>>> import tempfile, reactivex, streamkit as sk
>>> from pathlib import Path
>>> devices = reactivex.of({"name": "ap-1", "site_id": "s1", "cpu_util": 7, "_time": 1_795_463_640},
...                        {"name": "ap-2", "site_id": "s2", "cpu_util": 12, "_time": 1_795_463_650})
>>> with tempfile.TemporaryDirectory() as tmp:
...     writer = sk.archive.write(devices, Path(tmp) / "devices", partition_by="site_id", time_field="_time")
...     parts = sorted(p.relative_to(tmp).parent.as_posix() for p in Path(tmp).rglob("*.parquet"))
...     back = sk.archive.read(Path(tmp) / "devices")
>>> parts
['devices/date=2026-11-23/site_id=s1', 'devices/date=2026-11-23/site_id=s2']
>>> back[["name", "site_id", "cpu_util"]]
   name site_id  cpu_util
0  ap-1      s1         7
1  ap-2      s2        12
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reactivex import Observable
from reactivex.disposable import SingleAssignmentDisposable

from .._json import dumps
from .._time import epoch_seconds, utc_datetime
from ..core import Message

if TYPE_CHECKING:
    import pandas as pd

    from .view import LiveView

__all__ = ["ArchiveWriter", "datasets", "query", "read", "write"]

log = logging.getLogger("streamkit.archive")

_OPEN: weakref.WeakSet[ArchiveWriter] = weakref.WeakSet()


def _needs(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f'the archive needs {module}: pip install "streamkit[archive]"') from None


class ArchiveWriter:
    """Archive the records of an Observable (or what a LiveFrame receives) to a Parquet dataset at ``path``.

    Args:
        partition_by: a field to partition by after the date (e.g. ``"site_id"``).
        time_field: the field whose time picks the date partition (default, and for records without a usable time
            there: when the record arrived); see ``streamkit._time`` for what is a time.
        batch_rows / flush_seconds: a batch is written when it has this many rows or is this old; a crash loses
            at most the batch not yet written.

    Nested values (dicts, lists) are stored as JSON text: flatten first (``sk.ops.flatten()``) for columns.

    A live source (``devices.pipe(sk.ops.flatten())``) is archived until ``writer.close()``; this one ends by
    itself, which closes the writer too:

    >>> import shutil, tempfile, reactivex, streamkit as sk
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> devices = reactivex.of(
    ...     {"name": "ap-1", "site_id": "s1", "cpu_util": 7},
    ...     {"name": "ap-2", "site_id": "s1", "cpu_util": 12},
    ...     {"name": "ap-3", "site_id": "s2", "cpu_util": 9},
    ... )
    >>> writer = sk.archive.write(devices, root / "devices", partition_by="site_id")
    >>> writer.closed, writer.rows, writer.pending
    (True, 3, 0)
    >>> sk.archive.query("select site_id, count(*) as aps, max(cpu_util) as cpu from devices group by all order by 1",
    ...                  root=root)
      site_id  aps  cpu
    0      s1    2   12
    1      s2    1    9
    >>> shutil.rmtree(root)
    """

    def __init__(
        self,
        source: Observable[Any] | LiveView,
        path: str | Path,
        *,
        partition_by: str | None = None,
        time_field: str | None = None,
        batch_rows: int = 10_000,
        flush_seconds: float = 5.0,
    ) -> None:
        if batch_rows < 1 or flush_seconds <= 0:
            raise ValueError(f"batch_rows and flush_seconds are positive, not {batch_rows} and {flush_seconds}")
        self._pa = _needs("pyarrow")
        _needs("pyarrow.parquet")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.partition_by = partition_by
        self.time_field = time_field
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        #: Rows and files written so far; the last write error (the rows are kept and retried).
        self.rows = 0
        self.files: list[Path] = []
        self.error: Exception | None = None
        self.closed = False
        self._pending: list[tuple[Any, float]] = []  # (record, arrival): shaped into rows by the writer thread
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one batch at a time, in order, whoever flushes
        self._wake = threading.Event()
        self._sequence = 0
        self._id = uuid.uuid4().hex[:8]
        self._thread = threading.Thread(target=self._run, name=f"streamkit archive {self.path}", daemon=True)
        self._thread.start()
        observable = source if isinstance(source, Observable) else source.source  # a LiveFrame: what it receives
        self._subscription = SingleAssignmentDisposable()  # a synchronous source may end inside subscribe()
        self._subscription.disposable = observable.subscribe(self._on_next, self._on_error, self.close)
        _OPEN.add(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<ArchiveWriter {self.path} rows={self.rows:,} files={len(self.files)} pending={self.pending} {state}>"

    @property
    def pending(self) -> int:
        """Rows received but not yet in a file (what a crash now would lose)."""
        return len(self._pending)

    def flush(self) -> None:
        """Write what is pending now (from any thread)."""
        self._write_pending()

    def close(self) -> None:
        """Stop archiving: unsubscribe, write what is pending, stop the writer thread."""
        if self.closed:
            return
        self.closed = True
        self._subscription.dispose()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- receiving ------------------------------------------------------------------------------------------

    def _on_next(self, record: Any) -> None:
        with self._lock:
            self._pending.append((record, time.time()))
            full = len(self._pending) >= self.batch_rows
        if full:
            self._wake.set()

    def _on_error(self, error: Exception) -> None:
        log.warning("archive %s: the source failed (%s); what it sent is kept", self.path, error)
        self.close()

    @staticmethod
    def _row(record: Any, arrival: float) -> dict[str, Any]:
        if not isinstance(record, Mapping):
            record = {"value": record}
        row = {k: dumps(v) if isinstance(v, (dict, list, tuple)) else v for k, v in record.items()}
        if type(record) is Message:
            row.setdefault("origin", record.origin if isinstance(record.origin, str) else dumps(record.origin))
            row.setdefault("received", record.received)
        else:
            row.setdefault("received", arrival)
        return row

    # -- writing --------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.closed:
            full = self._wake.wait(self.flush_seconds)  # woken: a batch is full; else flush_seconds went by
            self._wake.clear()
            self._write_pending(whole_batches=full and not self.closed)
        self._write_pending()

    def _write_pending(self, *, whole_batches: bool = False) -> None:
        """Write what is pending, one file per batch of at most ``batch_rows`` rows (with ``whole_batches``,
        only full batches: the rest waits for its batch to fill or for ``flush_seconds``)."""
        with self._writing:
            while True:
                with self._lock:
                    if len(self._pending) < (self.batch_rows if whole_batches else 1):
                        return
                    pending, self._pending = self._pending[: self.batch_rows], self._pending[self.batch_rows :]
                if not self._write_batch(pending):
                    return

    def _write_batch(self, pending: list[tuple[Any, float]]) -> bool:
        """Write one batch; on failure keep its rows pending (in front) and say so."""
        rows = [self._row(record, arrival) for record, arrival in pending]
        try:
            for partition, group in self._partitions(rows).items():
                self._write_file(partition, group)
        except OSError as exc:
            self.error = exc
            log.warning("archive %s: writing %d rows failed (%s); kept, retried", self.path, len(rows), exc)
            with self._lock:
                self._pending[:0] = pending
            return False
        self.rows += len(rows)
        return True

    def _partitions(self, rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            when = utc_datetime(row.get(self.time_field)) if self.time_field else None
            when = when or utc_datetime(row["received"]) or datetime.now(timezone.utc)  # no time: today
            parts = [f"date={when.date().isoformat()}"]
            if self.partition_by is not None:
                parts.append(f"{self.partition_by}={quote(str(row.get(self.partition_by)), safe='')}")
            groups.setdefault(tuple(parts), []).append(row)
        return groups

    def _write_file(self, partition: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
        import pyarrow.parquet as pq

        folder = self.path.joinpath(*partition)
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        # the writer's own id keeps names apart when several writers share a folder (the shards of a cluster)
        name = folder / f"part-{int(time.time() * 1000)}-{self._id}-{self._sequence:06d}.parquet"
        aside = name.with_name(f".{name.name}.tmp")
        pq.write_table(self._table(rows), aside)
        os.replace(aside, name)  # whole files only: a reader never sees a half-written batch
        self.files.append(name)

    def _table(self, rows: list[dict[str, Any]]) -> Any:
        pa = self._pa
        names: dict[str, None] = {}
        for row in rows:
            names.update(dict.fromkeys(row))
        names.pop(self.partition_by or "", None)  # it is in the folder name
        columns = {}
        for name in names:
            values = [row.get(name) for row in rows]
            if name == "received":
                seconds = [epoch_seconds(v) for v in values]
                micros = pa.array([None if s is None else round(s * 1_000_000) for s in seconds], pa.int64())
                columns[name] = micros.cast(pa.timestamp("us", tz="UTC"))
                continue
            try:
                columns[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in one column: keep them as text
                columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
        return pa.table(columns)


@atexit.register
def _close_all() -> None:
    for writer in list(_OPEN):
        writer.close()


#: ``sk.archive.write(source, path, ...)`` starts an :class:`ArchiveWriter`.
write = ArchiveWriter


def datasets(root: str | Path = "archive") -> dict[str, Path]:
    """The datasets under ``root`` by name (their folder's name); ``root`` itself when it is one.

    FileNotFoundError when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no archive at {root}: write one with sk.archive.write(source, '{root}/<name>')")
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and next(p.rglob("*.parquet"), None)}
    if not found and next(root.glob("date=*"), None):
        found = {root.name: root}
    if not found:
        raise FileNotFoundError(f"no datasets under {root}: write one with sk.archive.write(source, '{root}/<name>')")
    return found


def query(
    sql: str,
    *,
    root: str | Path = "archive",
    tables: Mapping[str, str | Path] | None = None,
    params: list[Any] | None = None,
) -> pd.DataFrame:
    """Run DuckDB SQL over archived datasets; each dataset under ``root`` is a table named after its folder.

    >>> import shutil, tempfile, reactivex, streamkit as sk
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> records = [{"name": "ap-1", "cpu_util": 7}, {"name": "ap-1", "cpu_util": 9}, {"name": "ap-2", "cpu_util": 4}]
    >>> sk.archive.write(reactivex.from_iterable(records), root / "devices").close()
    >>> sk.archive.query("select name, max(cpu_util) as cpu from devices where cpu_util > ? group by name", root=root,
    ...                  params=[5])
       name  cpu
    0  ap-1    9
    >>> shutil.rmtree(root)
    """
    duckdb = _needs("duckdb")
    named = dict(tables) if tables is not None else datasets(root)
    connection = duckdb.connect()
    try:
        connection.execute("set TimeZone = 'UTC'")  # times come back in UTC wherever the laptop is
        for name, path in named.items():
            glob = str(Path(path) / "**" / "*.parquet").replace("'", "''")
            identifier = '"' + name.replace('"', '""') + '"'
            connection.execute(
                f"create view {identifier} as select * from "
                f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
            )
        try:
            # through Arrow: DuckDB's own .df() uses pandas API that pandas 3.1 deprecates
            frame: pd.DataFrame = connection.sql(sql, params=params).to_arrow_table().to_pandas()
        except duckdb.CatalogException as exc:
            raise ValueError(f"{exc}\nTables in this archive: {', '.join(named) or 'none'}") from None
        return frame
    finally:
        connection.close()


def read(path: str | Path, *, where: str | None = None) -> pd.DataFrame:
    """A whole dataset (optionally filtered by a SQL ``where`` condition) as a DataFrame, in arrival order."""
    condition = f" where {where}" if where else ""
    return query(f"select * from dataset{condition} order by received", tables={"dataset": path})
