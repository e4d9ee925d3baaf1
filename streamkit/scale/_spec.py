"""What travels to a worker: each shard's share of the work, with the client described by
:meth:`Client.spec() <streamkit.connection.Client.spec>` (its credentials in a :class:`Secret` that never shows
itself)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reactivex import Observable

    from ..connection.client import Client
    from ..connection.policy import Reconnect
    from ..connection.spec import ClientSpec
    from ._reduce import Aggregation

log = logging.getLogger("streamkit.scale")

#: What a shard subscribes to: a channel as the client's ``subscribe`` takes it (Mist, JSON feeds), or its keyword
#: arguments (SMC: ``{"context": "fw_single"}``, ``{"element": "fw-berlin"}``).
Channel = str | Mapping[str, Any]

__all__ = ["ShardSpec"]


@dataclass(frozen=True)
class ShardSpec:
    """One shard's share of a cluster subscription: what a worker needs to run it (and nothing it prints shows
    a credential: the client's repr redacts). ``cluster.subscribe(...)`` makes one per shard.

    >>> import streamkit as sk
    >>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="s3cret") as mist:
    ...     client = mist.spec()
    >>> spec = ShardSpec(run="r1", shard=0, shards=2, client=client, channels=("/sites/s1/stats/devices",),
    ...                  channels_per_connection=None)
    >>> repr(spec).split(" client=")[0], "s3cret" in repr(spec)
    ("ShardSpec(run='r1' shard=0/2 channels=1", False)
    """

    run: str  # the id of one run of the subscription (its observers from first to last): names its topic and stop event
    shard: int
    shards: int
    client: ClientSpec
    channels: tuple[Channel, ...]
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


async def subscribe(client: Client, channel: Channel) -> Observable[Any]:
    """The client's subscription to ``channel``: ``client.subscribe(channel)``, or for a mapping
    ``client.subscribe(**channel)``, awaiting ``client.asubscribe(**channel)`` where the client has it (SMC: an
    element's name is looked up over REST, which must not block the worker's loop)."""
    if not isinstance(channel, Mapping):
        return client.subscribe(channel)  # type: ignore[attr-defined,no-any-return]
    asubscribe = getattr(client, "asubscribe", None)
    if asubscribe is not None:
        return await asubscribe(**channel)  # type: ignore[no-any-return]
    return client.subscribe(**channel)  # type: ignore[attr-defined,no-any-return]


#: Tries of a shard's subscriptions (an SMC element's name lookup over REST) when the server is unreachable.
LOOKUP_TRIES = 5


async def subscribe_all(client: Client, channels: tuple[Channel, ...], reconnect: Reconnect | None) -> list[Any]:
    """Every channel's subscription (:func:`subscribe`). A failure worth another try by the client's ``reconnect``
    policy (the server unreachable, rate limited) is tried again after its backoff, :data:`LOOKUP_TRIES` times in
    all; a name the server does not know (ValueError) or refused credentials end the shard at once."""
    from ..connection.policy import Decision
    from ..connection.policy import Reconnect as Policy

    policy = reconnect or Policy()
    delays = policy.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return [await subscribe(client, channel) for channel in channels]
        except ValueError:
            raise
        except Exception as exc:
            decision = policy.classify(exc)
            if decision is Decision.FATAL or attempt == LOOKUP_TRIES:
                raise
            delay = policy.wait(decision, exc, delays)
            log.warning("subscribing failed (%s); trying again in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)


def check_channels(client: Client, channels: tuple[Channel, ...]) -> None:
    """Raise ValueError, in the kernel, for a channel that ``client.subscribe`` does not take (rather than on every
    shard later), saying what it takes.

    >>> import streamkit as sk
    >>> with sk.smc(url="http://127.0.0.1:9", api_key="key") as smc:
    ...     check_channels(smc, ({"context": "fw_single"}, {"element": "fw-berlin"}))   # fine
    ...     check_channels(smc, ("fw_single",))  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: SmcClient.subscribe does not take the channel 'fw_single': give each channel as the keyword
    arguments it takes (context, element), e.g. {'context': 'fw_single'}
    """
    import inspect

    signature = inspect.signature(client.subscribe)  # type: ignore[attr-defined]
    keywords = [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
    for channel in channels:
        try:
            if isinstance(channel, Mapping):
                signature.bind(**channel)
            else:
                signature.bind(channel)
        except TypeError as exc:
            what = f"{type(client).__name__}.subscribe does not take the channel {channel!r}"
            if keywords and not isinstance(channel, Mapping):
                hint = f"give each channel as the keyword arguments it takes ({', '.join(keywords)})"
                raise ValueError(f"{what}: {hint}, e.g. {{{keywords[0]!r}: {channel!r}}}") from None
            raise ValueError(f"{what} ({exc})") from None
