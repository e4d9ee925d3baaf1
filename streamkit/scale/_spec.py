"""What travels to a worker: a picklable description of a client (how ``sk.mist(...)`` was called) with its
credentials in a :class:`Secret` that never shows itself, and each shard's share of the work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._redact import REDACTED, redact
from ..errors import StreamkitError

if TYPE_CHECKING:
    from ..connection.client import Client
    from ..connection.policy import Reconnect
    from ..connection.transport import Connector, TransportOptions
    from ..protocols.base import Adapter
    from ._reduce import Aggregation

__all__ = ["ClientSpec", "Secret", "ShardSpec", "describe"]


class Secret:
    """Credentials (a client's headers) on their way to a worker: pickled with the task, never shown.

    The repr, str and format say ``<redacted>`` so that nothing Dask prints or logs about a task (its
    arguments in a failed task's log, the dashboard) can carry them.

    >>> secret = Secret({"Authorization": "Token abc"})
    >>> secret, str(secret), f"{secret}"
    (Secret(<redacted>), 'Secret(<redacted>)', 'Secret(<redacted>)')
    >>> secret.reveal()["Authorization"]
    'Token abc'
    """

    __slots__ = ("_value",)

    def __init__(self, value: Mapping[str, str]) -> None:
        self._value = dict(value)

    def reveal(self) -> dict[str, str]:
        """The headers themselves (for the worker that opens the connection)."""
        return dict(self._value)

    def scrub(self, text: str) -> str:
        """``text`` (an error's message, a traceback) with these credentials replaced by ``<redacted>``: each
        header's value and the credential after its scheme (``Token ...``), then what :func:`redact` finds
        (cookies, ``token=`` ...).

        >>> Secret({"Authorization": "Token abc123"}).scrub("refused abc123 (Token abc123)")
        'refused <redacted> (<redacted>)'
        """
        for value in self._value.values():
            for credential in (value, value.partition(" ")[2]):
                if len(credential) >= 4:  # (shorter strings would blot out ordinary words, and are no credential)
                    text = text.replace(credential, REDACTED)
        return redact(text)

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(type(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))

    def __dask_tokenize__(self) -> str:
        return "streamkit-secret"  # a token that does not depend on the credentials


@dataclass(frozen=True)
class ClientSpec:
    """How to build a client again on a worker: its class and constructor options; the headers (credentials)
    in a :class:`Secret`. Made by :func:`describe` from a client such as ``sk.mist(...)``.

    >>> import streamkit as sk
    >>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="s3cret") as mist:
    ...     spec = describe(mist)
    >>> again = spec.build()                          # what a worker does with it
    >>> type(again).__name__, again.url == mist.url
    ('MistClient', True)
    >>> again.close()
    """

    kind: type[Client]
    adapter: Adapter
    url: str
    connector: Connector
    headers: Secret
    options: TransportOptions
    reconnect: Reconnect
    name: str
    channels_per_connection: int | None
    subscribe_timeout: float | None

    def build(self, *, channels_per_connection: int | None = None) -> Client:
        """A new client like the one described (on the calling thread's loop: a worker's)."""
        return self.kind(
            self.adapter.fresh(),
            url=self.url,
            connector=self.connector,
            headers=self.headers.reveal(),
            options=self.options,
            reconnect=self.reconnect,
            name=self.name,
            channels_per_connection=channels_per_connection or self.channels_per_connection,
            subscribe_timeout=self.subscribe_timeout,
        )

    def __repr__(self) -> str:
        return f"ClientSpec({self.kind.__name__} {self.url} headers={self.headers!r})"


def describe(client: Client) -> ClientSpec:
    """The picklable description of ``client`` a worker builds its shard's client from.

    Raises StreamkitError for what cannot travel: an SMC client (its REST login is not described yet), a
    recording client (``record=``), a replay, or a client with a custom ``ssl=`` context.

    >>> import streamkit as sk
    >>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="s3cret") as mist:
    ...     describe(mist).kind.__name__
    'MistClient'
    >>> with sk.smc(url="http://127.0.0.1:9", api_key="key") as smc:
    ...     describe(smc)
    Traceback (most recent call last):
    ...
    streamkit.errors.StreamkitError: an SMC client cannot be sharded yet (its REST login runs in the kernel); ...
    """
    from ..connection.client import Client
    from ..connection.smc_client import SmcClient

    if not isinstance(client, Client):
        raise TypeError(f"subscribe takes a client such as sk.mist(...) or sk.feed(...), not {type(client).__name__}")
    if isinstance(client, SmcClient):
        raise StreamkitError(
            "an SMC client cannot be sharded yet (its REST login runs in the kernel); use one sk.smc(...) client "
            "in the kernel, or shard Mist and JSON feed clients"
        )
    if client.recorder is not None:
        raise StreamkitError(
            "a recording client (record=) cannot be sharded: each shard would need its own file; record in the "
            "kernel from a client without a cluster, or drop record="
        )
    if client.clock is not None:
        raise StreamkitError("a replay cannot be sharded: it is one file on this machine; replay it in the kernel")
    options = client._options
    if options.ssl is not None:
        raise StreamkitError(
            "a client with a custom ssl= context cannot be sharded (an SSLContext does not travel to workers); "
            "install the CA on the workers and drop ssl="
        )
    return ClientSpec(
        kind=type(client),
        adapter=client._adapter.fresh(),
        url=client.url,
        connector=client._connector,
        headers=Secret(client._headers),
        options=options,
        reconnect=client._reconnect,
        name=client.name,
        channels_per_connection=client.channels_per_connection,
        subscribe_timeout=client.subscribe_timeout,
    )


@dataclass(frozen=True)
class ShardSpec:
    """One shard's share of a cluster subscription: what a worker needs to run it (and nothing it prints shows
    a credential: the client's repr redacts). ``cluster.subscribe(...)`` makes one per shard.

    >>> import streamkit as sk
    >>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="s3cret") as mist:
    ...     client = describe(mist)
    >>> spec = ShardSpec(run="r1", shard=0, shards=2, client=client, channels=("/sites/s1/stats/devices",),
    ...                  channels_per_connection=None)
    >>> repr(spec).split(" client=")[0], "s3cret" in repr(spec)
    ("ShardSpec(run='r1' shard=0/2 channels=1", False)
    """

    run: str  # the subscription's id: names its topic and stop event
    shard: int
    shards: int
    client: ClientSpec
    channels: tuple[str, ...]
    channels_per_connection: int | None
    pipe: tuple[Any, ...] = ()
    windows: Any = None
    aggregate: Aggregation | None = None
    latest: str | None = None
    flush_every: float = 0.25
    batch_size: int = 1000
    max_pending: int = 100_000
    archive: str | None = None  # a folder every worker can write: the shard archives its records there
    archive_by: str | None = None
    floor: int = 0  # incarnations below this are a predecessor's (a resubmitted shard starts above)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return f"streamkit-{self.run}"

    @property
    def stop_event(self) -> str:
        return f"streamkit-stop-{self.run}"

    def __repr__(self) -> str:
        return (
            f"ShardSpec(run={self.run!r} shard={self.shard}/{self.shards} channels={len(self.channels)} "
            f"client={self.client!r})"
        )
