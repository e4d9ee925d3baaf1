"""sk.archive: Parquet datasets partitioned by date and key, read back and queried with DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
import reactivex
from reactivex.subject import Subject

import streamkit as sk
from streamkit.core import Message

from ..connection.test_mist_client import wait_for

DAY1 = datetime(2026, 11, 21, 23, 59, 59, tzinfo=timezone.utc).timestamp()
DAY2 = DAY1 + 2


def records(n: int, at: float = DAY1) -> list[Message]:
    return [
        Message({"seq": i, "site_id": f"site-{i % 2}", "cpu": i * 1.5, "radio": {"band": "5"}}, "/sites/x", at + i % 3)
        for i in range(n)
    ]


def test_rows_come_back_partitioned_by_date_and_key(tmp_path):
    subject: Subject = Subject()
    writer = sk.archive.write(subject, tmp_path / "devices", partition_by="site_id", batch_rows=4)
    for record in records(10):
        subject.on_next(record)
    subject.on_completed()  # the end of the source flushes and closes
    assert writer.closed and writer.rows == 10 and writer.pending == 0
    folders = {p.parent.relative_to(tmp_path / "devices").as_posix() for p in writer.files}
    assert folders == {
        "date=2026-11-21/site_id=site-0",
        "date=2026-11-21/site_id=site-1",
        "date=2026-11-22/site_id=site-0",
        "date=2026-11-22/site_id=site-1",
    }
    df = sk.archive.read(tmp_path / "devices")
    assert sorted(df["seq"]) == list(range(10))
    assert set(df["site_id"]) == {"site-0", "site-1"}
    assert df["radio"].iloc[0] == '{"band":"5"}'  # nested values are JSON text
    assert str(df["received"].dtype) == "datetime64[us, UTC]" and df["received"].min().timestamp() == DAY1
    assert set(df["origin"]) == {"/sites/x"}


def test_query_names_tables_after_their_folders(tmp_path):
    for name, n in (("devices", 6), ("clients", 3)):
        writer = sk.archive.write(reactivex.from_iterable(records(n)), tmp_path / name)
        assert writer.closed
    out = sk.archive.query("select count(*) as n from devices where cpu >= 3", root=tmp_path)
    assert out["n"].iloc[0] == 4
    joined = sk.archive.query("select d.seq from devices d join clients c using (seq) order by 1", root=tmp_path)
    assert list(joined["seq"]) == [0, 1, 2]
    with pytest.raises(ValueError, match="Tables in this archive: clients, devices"):
        sk.archive.query("select * from nothing_here", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"sk\.archive\.write"):
        sk.archive.query("select 1", root=tmp_path / "missing")


def test_batches_flush_without_close_and_mixed_types_survive(tmp_path):
    subject: Subject = Subject()
    writer = sk.archive.write(subject, tmp_path / "mixed", batch_rows=1000, flush_seconds=0.1)
    subject.on_next({"value": 1, "received": DAY1})
    subject.on_next({"value": "one", "received": DAY1})
    wait_for(lambda: writer.rows == 2)
    assert writer.pending == 0 and not writer.closed
    assert sorted(sk.archive.read(tmp_path / "mixed")["value"]) == ["1", "one"]
    writer.close()
    assert "rows=2" in repr(writer)


def test_a_live_frame_is_archived_with_what_it_receives(tmp_path):
    subject: Subject = Subject()
    frame = sk.LiveFrame(subject, key="seq")
    writer = sk.archive.write(frame, tmp_path / "frame")
    for record in records(5):
        subject.on_next(record)
    writer.close()
    assert sorted(sk.archive.read(tmp_path / "frame")["seq"]) == list(range(5))
    assert len(frame) == 5
    frame.close()


def test_a_killed_writer_loses_at_most_the_unflushed_batch(tmp_path):
    """A process archiving 1,000 rows/s in batches of 200 is killed: every file is whole, and what is missing is
    only the tail it had not flushed."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from reactivex.subject import Subject
        import streamkit as sk
        subject = Subject()
        writer = sk.archive.write(subject, {str(tmp_path / "killed")!r}, batch_rows=200, flush_seconds=60)
        for seq in range(100_000):
            subject.on_next({{"seq": seq}})
            print(seq, flush=True)
            time.sleep(0.001)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        last = -1
        while last < 1_100:
            last = int(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read().split()
    sent = int(rest[-1]) if rest else last
    df = sk.archive.read(tmp_path / "killed")
    kept = sorted(df["seq"])
    assert kept == list(range(len(kept)))  # whole batches, in order, nothing half-written
    assert len(kept) % 200 == 0 and sent + 1 - len(kept) <= 200 + 1
    assert not list(Path(tmp_path / "killed").rglob("*.tmp"))


def test_time_field_picks_the_partition(tmp_path):
    rows = [{"seq": 1, "timestamp": DAY2 * 1000}, {"seq": 2, "timestamp": "2026-11-20T10:00:00+00:00"}]
    writer = sk.archive.write(reactivex.from_iterable(rows), tmp_path / "t", time_field="timestamp")
    assert {p.parent.name for p in writer.files} == {"date=2026-11-22", "date=2026-11-20"}
