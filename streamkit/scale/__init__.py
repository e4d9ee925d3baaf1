"""Scale-out on Dask: subscriptions sharded over a cluster's workers, with the work next to the connections.

``sk.cluster()`` starts a LocalCluster (``sk.cluster("tcp://scheduler:8786")`` joins a running one); each shard of
``cluster.subscribe(sk.mist(...), channels, shards=4)`` is a long-lived task on a worker that holds its share of the
WebSockets, decodes, flattens, filters and pre-aggregates windows there, and sends the kernel bounded batches a few
times a second. The kernel merges them into one hot Observable. A worker's death is a reported gap: Dask reruns the
shard elsewhere (beyond Dask's ``allowed-failures`` the supervisor resubmits it), the kernel deduplicates by
incarnation and sequence number. An error of a shard's pipeline is no such loss: the subscription stops on every shard
and fails with a :class:`ShardError` that names the shard and carries its error's message.

Importing this package does not import Dask (``sk.cluster(...)`` does). What travels to a worker is a
picklable description of the client, its credentials sealed in a :class:`Secret` that never prints:

>>> import pickle, streamkit as sk
>>> from streamkit.scale import describe
>>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="s3cret") as mist:
...     spec = describe(mist)
>>> spec
ClientSpec(MistClient ws://127.0.0.1:9/api-ws/v1/stream headers=Secret(<redacted>))
>>> b"s3cret" in pickle.dumps(spec), "s3cret" in repr(spec)     # it travels, it never shows
(True, False)
"""

from __future__ import annotations

from ._cluster import Cluster, ClusterSubscription, cluster
from ._merge import FanIn, ShardGap
from ._reduce import MERGEABLE, Aggregation, aggregation
from ._shard import ShardError
from ._spec import ClientSpec, Secret, ShardSpec, describe
from ._tag import with_origin

__all__ = [
    "MERGEABLE",
    "Aggregation",
    "ClientSpec",
    "Cluster",
    "ClusterSubscription",
    "FanIn",
    "Secret",
    "ShardError",
    "ShardGap",
    "ShardSpec",
    "aggregation",
    "cluster",
    "describe",
    "with_origin",
]
