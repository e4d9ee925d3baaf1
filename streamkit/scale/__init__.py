"""Scale-out on Dask: subscriptions sharded over a cluster's workers, with the work next to the connections.

``sk.cluster()`` starts a LocalCluster (``sk.cluster("tcp://scheduler:8786")`` joins a running one); each shard of
``cluster.subscribe(sk.mist(...), channels, shards=4)`` is a long-lived task on a worker that holds its share of the
WebSockets, decodes, flattens, filters and pre-aggregates windows there, and sends the kernel bounded batches a few
times a second. The kernel merges them into one hot Observable. A worker's death is a reported gap: Dask reruns the
shard elsewhere (beyond Dask's ``allowed-failures`` the supervisor resubmits it), the kernel deduplicates by
incarnation and sequence number. An error of a shard's pipeline is no such loss: the subscription stops on every shard
and fails with a :class:`ShardError` that names the shard and carries its error's message.

Importing this package does not import Dask (``sk.cluster(...)`` does). What travels to a worker is the client's
:meth:`~streamkit.connection.Client.spec`, a picklable description whose credentials never print (see
:class:`~streamkit.connection.ClientSpec`).

An SMC client travels too: each shard logs in on its worker with the same credentials; its channels are the
keyword arguments of ``smc.subscribe``, e.g. ``cluster.subscribe(smc, [{"context": "fw_single"}, {"element":
"fw-berlin"}])``. Its description holds the API key, never shows it, and logs in nowhere:

>>> import streamkit as sk
>>> with sk.smc(url="http://127.0.0.1:9", api_key="k3y-0123456789") as smc:
...     spec = smc.spec()
>>> spec, "k3y-0123456789" in repr(spec)
(ClientSpec(SmcClient http://127.0.0.1:9 secret=Secret(<redacted>)), False)
"""

from __future__ import annotations

from ._cluster import Cluster, ClusterSubscription, cluster
from ._merge import FanIn, ShardGap
from ._reduce import MERGEABLE, Aggregation, aggregation
from ._shard import ShardError
from ._spec import ShardSpec
from ._tag import with_origin

__all__ = [
    "MERGEABLE",
    "Aggregation",
    "Cluster",
    "ClusterSubscription",
    "FanIn",
    "ShardError",
    "ShardGap",
    "ShardSpec",
    "aggregation",
    "cluster",
    "with_origin",
]
