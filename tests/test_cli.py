"""The command line, run as a user runs it: subprocesses against the simulators on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
from websockets.asyncio.client import connect

STREAMKIT = [sys.executable, "-m", "streamkit"]


def test_help_explains_each_command_with_an_example():
    for args in ([], ["sim"], ["sim", "mist"], ["demo"]):
        out = subprocess.run([*STREAMKIT, *args, "--help"], capture_output=True, text=True, check=True).stdout
        assert "usage: streamkit" in out
    top = subprocess.run([*STREAMKIT, "--help"], capture_output=True, text=True, check=True).stdout
    assert "streamkit demo" in top and "streamkit sim mist --port" in top


def test_usage_errors_exit_2():
    result = subprocess.run([*STREAMKIT, "sim", "nope"], capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_demo_prints_decoded_device_stats():
    result = subprocess.run([*STREAMKIT, "demo", "--count", "4"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Mist simulator at ws://127.0.0.1:")
    records = [line for line in lines[1:] if line.strip()]
    assert len(records) == 4
    assert all(line.split()[1].startswith("5c5b35") for line in records)  # Mist MACs, decoded from data strings


@contextlib.contextmanager
def simulator(kind: str, *extra: str) -> Iterator[dict]:
    """``streamkit sim KIND --json`` in a subprocess: yields the connection details it prints."""
    with subprocess.Popen(
        [*STREAMKIT, "sim", kind, "--json", "--interval", "0.05", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            yield json.loads(proc.stdout.readline())
        finally:
            proc.terminate()
            proc.wait(10)


def test_sim_mist_serves_until_stopped():
    with simulator("mist", "--sites", "1") as info:
        assert info["url"].startswith("ws://127.0.0.1:")

        async def one_record() -> dict:
            async with connect(info["url"], additional_headers={"Authorization": f"Token {info['token']}"}) as ws:
                await ws.send(json.dumps({"subscribe": info["channels"]["device_stats"]}))
                assert json.loads(await ws.recv())["event"] == "channel_subscribed"
                return json.loads(json.loads(await asyncio.wait_for(ws.recv(), 5))["data"])

        assert asyncio.run(one_record())["mac"].startswith("5c5b35")


def test_sim_smc_serves_rest_login():
    with simulator("smc") as info:
        r = httpx.post(f"{info['url']}/7.2/login", json={"authenticationkey": info["api_key"]})
        assert r.status_code == 200 and "JSESSIONID" in r.cookies


def test_port_in_use_is_a_clear_error():
    with simulator("mist") as info:
        port = info["url"].split(":")[2].split("/")[0]
        result = subprocess.run([*STREAMKIT, "sim", "mist", "--port", port], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "port=0" in result.stderr
