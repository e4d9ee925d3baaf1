"""A Mist-compatible WebSocket sender faster than any client: pre-built frames written with ``sendall``.

Client benchmarks compare receive loops with each other; if the server sets the pace (the simulator builds each
frame as it goes: ~35-47k msg/s), every client looks alike. This sender captures real device-stats frames from
the simulator once, pre-builds them as server WebSocket frames in one block, and then writes that block again
and again on a thread per connection, so a client gets frames as fast as it can read them. It speaks enough of
the protocol for ``sk.mist``: the upgrade (any ``Authorization``), ``channel_subscribed`` for every subscribe,
pongs for pings, and the close handshake. A connection with several channels gets the captured frames with their
channels taken in turn, so every channel flows.

    python bench/flat_sender.py            # serves until interrupted; prints {"url", "token", "channel"}

From another bench: ``with flat_out_sender() as info: ...`` runs it in its own process.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TOKEN = "flat-out-token"
FRAMES = 2000  # frames captured from the simulator, sent in one block


def capture(count: int = FRAMES, aps: int = 50) -> tuple[str, list[bytes]]:
    """``count`` device-stats data frames as the Mist simulator sends them, and their channel."""
    import asyncio

    from websockets.asyncio.client import connect

    from streamkit.sim import MistSimulator

    async def read(url: str, token: str, channel: str) -> list[bytes]:
        frames: list[bytes] = []
        async with connect(url, additional_headers={"Authorization": f"Token {token}"}) as ws:
            await ws.send(json.dumps({"subscribe": channel}))
            while len(frames) < count:
                frame = await ws.recv(decode=False)
                if b'"event":"data"' in frame.replace(b" ", b""):
                    frames.append(frame)
        return frames

    with MistSimulator(seed=1, interval=0.0, sites=1, aps=aps, clients=10) as sim:
        channel = sim.channel("device_stats")
        return channel, asyncio.run(read(sim.url, sim.token, channel))


def server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """One (masked) client frame: (opcode, payload), or None when the socket ended."""

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    try:
        first, second = exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", exactly(8))
        mask = exactly(4) if second & 0x80 else b"\0\0\0\0"
        data = exactly(length)
    except (EOFError, OSError):
        return None
    return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def handshake(sock: socket.socket) -> bool:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        request += chunk
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    return True


def block_for(channel: str, frames: list[bytes], channels: list[str]) -> bytes:
    """The captured ``frames`` (of ``channel``) as one block of server frames, their channels taken in turn."""
    old = json.dumps(channel).encode()
    return b"".join(
        server_frame(frame.replace(old, json.dumps(channels[i % len(channels)]).encode(), 1))
        for i, frame in enumerate(frames)
    )


def serve_one(sock: socket.socket, channel: str, frames: list[bytes]) -> None:
    """Upgrade, acknowledge subscriptions, then send the frames of the subscribed channels flat out until the
    client closes."""
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not handshake(sock):
            return
        lock = threading.Lock()
        done = threading.Event()
        subscribed = threading.Event()
        channels: list[str] = []
        block = [b""]

        def reader() -> None:
            with contextlib.suppress(OSError):  # the client went away
                read_loop()
            done.set()
            subscribed.set()

        def read_loop() -> None:
            while (frame := read_frame(sock)) is not None:
                opcode, payload = frame
                with lock:
                    if opcode == 0x1:
                        asked = json.loads(payload).get("subscribe")
                        if asked is not None:
                            ack = json.dumps({"event": "channel_subscribed", "channel": asked}).encode()
                            sock.sendall(server_frame(ack))
                            channels.append(asked)
                            block[0] = block_for(channel, frames, channels)
                            subscribed.set()
                    elif opcode == 0x9:
                        sock.sendall(server_frame(payload, 0xA))
                    elif opcode == 0x8:
                        sock.sendall(server_frame(payload[:2], 0x8))
                        break

        threading.Thread(target=reader, daemon=True).start()
        subscribed.wait()
        with contextlib.suppress(OSError):
            while not done.is_set():
                with lock:
                    if done.is_set():
                        break
                    sock.sendall(block[0])
        done.wait(5)


def serve(port: int = 0) -> None:
    channel, frames = capture()
    size = sum(len(frame) for frame in frames)
    listener = socket.create_server(("127.0.0.1", port))
    info = {
        "url": f"ws://127.0.0.1:{listener.getsockname()[1]}/api-ws/v1/stream",
        "token": TOKEN,
        "channel": channel,
        "frames_per_block": len(frames),
        "bytes_per_frame": round(size / len(frames)),
    }
    print(json.dumps(info), flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve_one, args=(sock, channel, frames), daemon=True).start()


@contextlib.contextmanager
def flat_out_sender() -> Iterator[dict[str, Any]]:
    """Run the sender in its own process; yields its ``url``, ``token`` and ``channel``."""
    with subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            yield json.loads(proc.stdout.readline())
        finally:
            proc.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        serve(parser.parse_args().port)
