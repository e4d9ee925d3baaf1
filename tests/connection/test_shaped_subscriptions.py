"""``ops.flatten()`` on a client's subscription flattens as each payload is decoded: the same records, origins and
arrival times as flattening the subscription's Messages, one server subscription for every stream of a topic."""

from __future__ import annotations

from reactivex import operators as rx

from streamkit import ops
from streamkit._json import dumps
from streamkit.core import Stream
from streamkit.protocols import mist

from ..ops.test_flatten_fused import device_stats
from .test_memory_transport import A, B, Seen, client, in_virtual_time, mist_server, until


@in_virtual_time
async def test_flatten_on_a_subscription_gives_what_flattening_its_messages_gives():
    server = mist_server()
    mist_client = client(server)
    subscription = mist_client.subscribe(A)
    fused = subscription.pipe(ops.flatten())
    assert isinstance(fused, Stream) and fused is not subscription
    raw, flat, mapped = Seen(), Seen(), Seen()
    subscription.subscribe(raw)
    fused.subscribe(flat)
    subscription.pipe(rx.map(lambda m: m), ops.flatten()).subscribe(mapped)  # the operator path, for comparison
    await until(lambda: len(server.connections) == 1 and server.connections[0].sent)
    connection = server.connections[0]
    assert connection.sent == [dumps({"subscribe": A})]  # one subscription on the server for all three
    payloads = device_stats(30)
    connection.push(*(mist.data_frame(A, p) for p in payloads), mist.data_frame(B, {"n": 1}))
    await until(lambda: len(flat.items) == 30 and len(mapped.items) == 30)
    assert flat.items == mapped.items and [list(r) for r in flat.items] == [list(r) for r in mapped.items]
    assert [(r.origin, r.received) for r in flat.items] == [(m.origin, m.received) for m in raw.items]
    assert raw.items == payloads  # the subscription's own observers still get the Messages as decoded
    assert mist_client.stats.per_topic[A] == 30  # each message counted once, however many streams take it
    await mist_client.aclose()
    assert raw.completed and flat.completed and mapped.completed


@in_virtual_time
async def test_the_topic_is_left_when_its_last_stream_goes():
    server = mist_server()
    mist_client = client(server)
    subscription = mist_client.subscribe(A)
    flat = Seen()
    raw_disposable = subscription.subscribe(Seen())
    flat_disposable = subscription.pipe(ops.flatten()).subscribe(flat)
    await until(lambda: len(server.connections) == 1 and server.connections[0].sent)
    connection = server.connections[0]
    raw_disposable.dispose()
    connection.push(mist.data_frame(A, {"x": {"y": 1}}))
    await until(lambda: len(flat.items) == 1)
    assert flat.items == [{"x.y": 1}] and mist_client.topics == (A,)
    assert connection.sent == [dumps({"subscribe": A})]
    flat_disposable.dispose()
    await until(lambda: mist_client.topics == ())
    await until(lambda: dumps({"unsubscribe": A}) in connection.sent or not server.open)
    assert dumps({"subscribe": A}) in connection.sent
    again = Seen()
    subscription.pipe(ops.flatten()).subscribe(again)  # a flattened stream alone subscribes afresh
    await until(lambda: mist_client.topics == (A,))
    await mist_client.aclose()
