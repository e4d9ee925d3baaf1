"""A shard whose pipeline raises, on a real in-process cluster: the subscription fails in the kernel with the shard's
error (what happened, on which shard), the shard is not run again, and close() leaves nothing running."""

from __future__ import annotations

import logging
import pickle
import time

import pytest

import streamkit as sk
from streamkit import ops
from streamkit.scale import Cluster, ShardError
from streamkit.scale._shard import failure
from streamkit.scale._spec import ShardSpec
from streamkit.sim import MistSimulator

TOKEN = "sim-secret-token-0123456789abcdef"


def shard_tasks(cluster: Cluster) -> dict[str, str]:
    """The scheduler's shard tasks: key -> state (a resubmission would be a key of its own)."""
    return cluster.dask.run_on_scheduler(
        lambda dask_scheduler: {
            key: ts.state for key, ts in dask_scheduler.tasks.items() if str(key).startswith("streamkit-shard-")
        }
    )


@pytest.mark.timeout(60)
def test_an_aggregate_on_a_missing_field_fails_the_subscription_with_its_message_and_is_not_rerun(caplog):
    caplog.set_level(logging.INFO)
    with MistSimulator(seed=1, interval=0.05, sites=2, aps=1) as sim:
        with sk.cluster(workers=1, processes=False) as cluster:
            stats = cluster.subscribe(
                sk.mist(url=sim.url, token=sim.token),
                [sim.channel("device_stats", site=i) for i in range(2)],
                shards=2,
                flush_every=0.1,
                windows=ops.tumbling(0.3),
                aggregate={"n": ("mac", "count")},
                by="site_id",  # no with_origin("site_id", ...) in pipe=: the records have no such field
            )
            started = time.monotonic()
            with pytest.raises(ShardError, match=r"KeyError: aggregate: \['site_id'\] not in the window's records"):
                sk.collect(stats, count=1, timeout=10)
            failed_after = time.monotonic() - started
            assert failed_after < 5

            time.sleep(1.0)  # four looks of the supervisor: a resubmission would have happened by now
            health = cluster.health()
            sub = health["subscriptions"][0]
            error = sub["error"]
            assert health["errors"] == [error]
            assert error.startswith("shard ") and " of 2 failed on inproc://" in error
            assert "the first has: [" in error and "'mac'" in error  # the fields the records do have
            assert "subscribe again" in error
            assert sub["status"] == "failed" and sorted(row["status"] for row in sub["shards"]) == ["failed", "stopped"]
            view = sk.health(cluster)  # the cluster's health view says it where the user looks
            table = view._repr_html_()
            assert str(view.status) == "error" and view.error == error
            assert ">failed</b> · 1 worker" in table and "not in the window&#x27;s records" in table
            assert "2 shards: 1 failed, 1 stopped" in table
            assert sub["resubmissions"] == 0 and sub["restarts"] == 0
            tasks = shard_tasks(cluster)
            assert len(tasks) == 2 and all(key.endswith("-0") for key in tasks)  # each shard ran once
            assert "processing" not in tasks.values()  # the other shard stopped too
            assert sim.open_connections == 0
        assert cluster.dask.status == "closed" and sim.open_connections == 0

    assert not [r for r in caplog.records if r.name == "asyncio"]  # no "Exception in callback" on the worker
    assert "not in the window's records" in caplog.text  # the worker logged the traceback
    assert sim.token not in caplog.text + str(health)


def test_a_shard_error_names_the_shard_scrubs_credentials_and_travels():
    with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token=TOKEN) as mist:
        spec = ShardSpec(run="r", shard=1, shards=3, client=mist.spec(), channels=("/a",), channels_per_connection=None)
    error = failure(spec, RuntimeError(f"upgrade refused: Authorization: Token {TOKEN}; cookie token={TOKEN}"), "w1")
    assert error.shard == 1 and error.kind == "RuntimeError" and str(error).startswith("shard 1 of 3 failed on w1")
    assert TOKEN not in str(error) and TOKEN not in repr(error) and error.message.count("<redacted>") == 2
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.shard, again.kind) == (ShardError, str(error), 1, "RuntimeError")
    assert failure(spec, error) is error
    assert failure(spec, KeyError("site")).message == "'site'"  # a key keeps its quotes; a sentence loses them
    assert len(failure(spec, ValueError("x" * 10_000)).message) < 2100
