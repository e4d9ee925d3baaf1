"""The command line, run as a user runs it: subprocesses against the simulators on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect

from streamkit.sim import MistSimulator, SmcSimulator

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
        stderr=subprocess.DEVNULL,  # nothing reads it: a full pipe would block the simulator
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


# -- stream commands against simulators in this process ------------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MIST_", "SMC_"))}
    return subprocess.run(
        [*STREAMKIT, *args], capture_output=True, text=True, timeout=timeout, env={**environment, **(env or {})}
    )


@pytest.fixture(scope="module")
def mist_sim():
    with MistSimulator(seed=12, interval=0.05, sites=1, aps=3) as sim:
        yield sim


def test_every_subcommand_has_help_with_an_example():
    top = run("--help")
    assert top.returncode == 0 and "exit codes" in top.stdout
    for command in ("demo", "sim", "tail", "record", "replay", "report"):
        result = run(command, "--help")
        assert result.returncode == 0, result.stderr
        assert f"usage: streamkit {command}" in result.stdout
        assert "example" in result.stdout and f"  streamkit {command} " in result.stdout.split("example")[-1]
        assert f"streamkit {command}" in top.stdout  # listed in the overview's examples too


def test_tail_prints_json_lines_when_piped(mist_sim):
    channel = mist_sim.channel("device_stats")
    result = run("tail", "--url", mist_sim.url, channel, "--count", "5", env={"MIST_API_TOKEN": mist_sim.token})
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and all(row["mac"].startswith("5c5b35") for row in rows)


def test_tail_credentials_errors_have_their_own_exit_codes(mist_sim):
    channel = mist_sim.channel("device_stats")
    refused = run("tail", "--url", mist_sim.url, channel, "--count", "1", env={"MIST_API_TOKEN": "not-the-token"})
    assert refused.returncode == 3 and "MIST_API_TOKEN" in refused.stderr and "not-the-token" not in refused.stderr
    missing = run("tail", "--url", mist_sim.url, channel, "--count", "1")
    assert missing.returncode == 2 and "no Mist API token" in missing.stderr


def test_tail_smc_context_from_environment():
    with SmcSimulator(seed=3, interval=0.05, engines=2, clusters=0) as sim:
        result = run("tail", "context:fw_single", "--count", "2", env={"SMC_URL": sim.url, "SMC_API_KEY": sim.api_key})
    assert result.returncode == 0, result.stderr
    assert {json.loads(line)["name"] for line in result.stdout.splitlines()} <= {
        n.name for e in sim.world.engines for n in e.nodes
    }


def test_record_replay_report_from_the_shell(mist_sim, tmp_path):
    channel = mist_sim.channel("device_stats")
    recording = tmp_path / "dev.jsonl.gz"
    recorded = run(
        "record", channel, "--url", mist_sim.url, "--seconds", "1.5", "-o", str(recording),
        env={"MIST_API_TOKEN": mist_sim.token},
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    match = re.search(r"recorded ([\d,]+) frames \(([\d,]+) records", recorded.stderr)
    assert match and int(match.group(2).replace(",", "")) > 10
    assert mist_sim.token.encode() not in gzip.decompress(recording.read_bytes())

    out = tmp_path / "records.jsonl"
    replayed = run("replay", str(recording), "--flatten", "-o", str(out))
    assert replayed.returncode == 0, replayed.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == int(match.group(2).replace(",", ""))
    assert {line["topic"] for line in lines} == {channel} and "ip_stat.ip" in lines[0]["record"]
    assert f"{len(lines):,} records written" in replayed.stderr

    page = tmp_path / "r.html"
    reported = run("report", str(recording), "-o", str(page))
    assert reported.returncode == 0, reported.stderr
    html = page.read_text()
    assert channel in html and "Records per second" in html and mist_sim.token not in html


def test_replay_and_report_refuse_what_is_not_theirs(tmp_path):
    bogus = tmp_path / "bogus.jsonl.gz"
    bogus.write_text("hello")
    result = run("replay", str(bogus))
    assert result.returncode == 2 and "not a streamkit recording" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("report", str(empty))
    assert result.returncode == 2 and "no datasets" in result.stderr


def test_report_from_an_archive_with_sql(tmp_path):
    import reactivex

    from streamkit.sinks import archive

    rows = [{"name": f"ap{i % 3}", "cpu": i} for i in range(30)]
    archive.write(reactivex.from_iterable(rows), tmp_path / "arch" / "devices")
    page = tmp_path / "a.html"
    result = run(
        "report", str(tmp_path / "arch"), "-o", str(page),
        "--sql", "select name, max(cpu) as top from devices group by name order by name",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<td>ap2</td>" in html and "<td>29</td>" in html and "devices" in html


def test_list_shows_what_to_subscribe_to_and_the_command_to_try():
    with MistSimulator(seed=1, sites=3, aps=2) as mist_sim, SmcSimulator(seed=1) as smc_sim:
        env = {**os.environ, "MIST_API_TOKEN": mist_sim.token, "SMC_API_KEY": smc_sim.api_key, "COLUMNS": "160"}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*STREAMKIT, "list", *args], capture_output=True, text=True, env=env, timeout=60)

        sites = run("sites", "--url", mist_sim.url)
        assert sites.returncode == 0, sites.stderr
        assert all(site in sites.stdout for site in mist_sim.site_ids) and "3 sites" in sites.stdout
        assert f"next: streamkit tail /sites/{mist_sim.site_ids[0]}/stats/devices" in sites.stderr
        lines = run("sites", "--url", mist_sim.url, "--json").stdout.splitlines()
        assert [json.loads(line)["id"] for line in lines] == mist_sim.site_ids
        devices = run("devices", "site-02", "--url", mist_sim.url)  # a site by name
        assert devices.returncode == 0 and "site-02-ap01" in devices.stdout
        assert f"/sites/{mist_sim.site_ids[1]}/stats/devices" in devices.stderr  # the hint names the site's id
        unknown = run("devices", "site-9", "--url", mist_sim.url)
        assert unknown.returncode == 2 and "no site named 'site-9'" in unknown.stderr and "site-01" in unknown.stderr
        assert run("devices", "--url", mist_sim.url).returncode == 2
        engines = run("engines", "--url", smc_sim.url)
        assert engines.returncode == 0 and "fw-berlin" in engines.stdout and "element:http" in engines.stderr
        vpns = run("elements", "vpn", "--url", smc_sim.url, "--json")
        assert [json.loads(line)["type"] for line in vpns.stdout.splitlines()] == ["vpn"]
        every = run("devices", "site-01", "--all", "--url", mist_sim.url)  # API objects' epoch times read as times
        assert every.returncode == 0 and "4 devices; times UTC" in every.stdout, every.stderr
        assert re.search(r"│ \d{4}-\d\d-\d\d", every.stdout) and not re.search(r"\b1\d{9}\b", every.stdout)
        refused = subprocess.run(
            [*STREAMKIT, "list", "sites", "--url", mist_sim.url],
            capture_output=True,
            text=True,
            env={**env, "MIST_API_TOKEN": "wrong"},
            timeout=60,
        )
        assert refused.returncode == 3 and "wrong" not in refused.stderr


# -- a CLI that says what it is doing ------------------------------------------------------------------------


def test_the_simulator_banner_prints_commands_that_work_when_pasted():
    with subprocess.Popen(
        [*STREAMKIT, "sim", "mist", "--sites", "1", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            banner = []
            while not banner or banner[-1] != "Ctrl-C stops it.":
                banner.append(proc.stdout.readline().strip())
            exports = [line for line in banner if line.startswith("export ")]
            commands = [shlex.split(line) for line in banner if line.startswith("streamkit ")]
            assert len(exports) == 1 and [c[:2] for c in commands] == [["streamkit", "list"], ["streamkit", "tail"]]
            name, _, token = exports[0].removeprefix("export ").partition("=")
            assert name == "MIST_API_TOKEN" and all("--url" in c for c in commands)
            sites = run(*commands[0][1:], env={name: token})
            assert sites.returncode == 0 and "1 sites" in sites.stdout, sites.stderr
            tail = run(*commands[1][1:], "--count", "3", env={name: token})
            assert tail.returncode == 0, tail.stderr
            assert len(tail.stdout.splitlines()) == 3 and "connected to ws://127.0.0.1:" in tail.stderr
        finally:
            proc.terminate()
            proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tail_says_where_it_connects_and_gives_up_after_max_attempts():
    url = f"ws://127.0.0.1:{free_port()}/api-ws/v1/stream"
    started = time.monotonic()
    result = run("tail", "/sites/x/stats/devices", "--url", url, "--max-attempts", "2", env={"MIST_API_TOKEN": "t"})
    assert result.returncode == 1 and time.monotonic() - started < 30
    lines = result.stderr.splitlines()
    assert lines[0] == f"streamkit: connecting to {url} (attempt 1 of 2)"
    assert lines[1].startswith("streamkit: attempt 1 of 2 failed: ") and "retrying in" in lines[1]
    assert lines[2] == f"streamkit: connecting to {url} (attempt 2 of 2)"
    assert lines[-1].startswith(f"streamkit: gave up on {url} after 2 attempts: ")
    assert result.stdout == ""


def test_tail_refuses_unknown_columns_with_the_fields_that_exist(mist_sim):
    channel = mist_sim.channel("device_stats")
    env = {"MIST_API_TOKEN": mist_sim.token}
    result = run("tail", channel, "--url", mist_sim.url, "--columns", "nmae,cpu_util", "--count", "50", env=env)
    assert result.returncode == 2 and result.stdout == ""
    message = result.stderr.splitlines()[-1]
    assert message.startswith("streamkit: --columns: no field 'nmae' in the records so far; they have: name, ")
    assert "_partition" not in message and re.search(r"and \d+ more$", message)  # the closest 20, then a count


def test_tail_piped_honours_columns_and_hides_internal_fields(mist_sim):
    channel = mist_sim.channel("device_stats")
    env = {"MIST_API_TOKEN": mist_sim.token}
    chosen = run("tail", channel, "--url", mist_sim.url, "--columns", "name,cpu_util", "--count", "30", env=env)
    assert chosen.returncode == 0, chosen.stderr
    rows = [json.loads(line) for line in chosen.stdout.splitlines()]
    assert rows and all(row and set(row) <= {"name", "cpu_util"} for row in rows)
    assert any(set(row) == {"name", "cpu_util"} for row in rows)
    plain = run("tail", channel, "--url", mist_sim.url, "--count", "20", env=env)
    fields = {k for line in plain.stdout.splitlines() for k in json.loads(line)}
    assert "_time" in fields and not {k for k in fields if k.startswith("_") and k != "_time"}
    everything = run("tail", channel, "--url", mist_sim.url, "--count", "20", "--internal", env=env)
    assert "_partition" in {k for line in everything.stdout.splitlines() for k in json.loads(line)}


def test_the_tail_table_aligns_numbers_and_shows_times(mist_sim):
    from rich.console import Console

    import streamkit as sk
    from streamkit.cli._common import ConnectionStatus
    from streamkit.cli.tail import Columns, _table

    with sk.mist(url=mist_sim.url, token=mist_sim.token) as client:
        rows = sk.collect(client.subscribe(mist_sim.channel("device_stats")), count=30, timeout=20)
        latest = {row["mac"]: dict(row) for row in rows}
        status = ConnectionStatus(client, lines=False)
        default = _table(latest, Columns(None, show_internal=False), len(rows), client, status)
        columns = Columns("mac,uptime,_time", show_internal=False)
        for row in rows:
            columns.see(row)
        columns.check()
        chosen = _table(latest, columns, len(rows), client, status)
    for table in (default, chosen):
        screen = Console(width=250, record=True, file=io.StringIO())
        screen.print(table)
        text = screen.export_text()
        assert "_partition" not in text and "_offset" not in text
    assert re.search(r"│ \d\d:\d\d:\d\d(\.\d{3})? +│", text) and "times UTC" in text  # _time as a time, not 1.79e9
    assert [(column.header, column.justify) for column in chosen.columns] == [
        ("mac", "left"), ("uptime", "right"), ("_time", "left")
    ]  # fmt: skip


def test_terminal_tables_show_numbers_times_and_missing_values_to_be_read():
    from rich.console import Console

    from streamkit.cli._common import terminal_table

    rows = [
        {"name": "ap1", "cpu": 12.5, "clients": 5.0, "rx_bytes": 1234567, "_partition": 0, "t": 1_795_455_844.25,
         "last_seen": 1_795_455_800, "tags": ["a", "b"], "note": "[bold]not markup[/bold]", "up": True},
        {"name": "ap2", "cpu": 3.125, "clients": float("nan"), "rx_bytes": 12, "_partition": 1, "t": 1_795_455_845,
         "last_seen": None, "tags": None, "note": None, "up": False},
    ]  # fmt: skip

    def shown(table: object) -> list[list[str]]:
        screen = Console(width=200, record=True, file=io.StringIO())
        screen.print(table)
        lines = screen.export_text().splitlines()
        return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.startswith("│")]

    table = terminal_table(rows, caption="2 devices")
    assert [column.header for column in table.columns] == [
        "name", "cpu", "clients", "rx_bytes", "t", "last_seen", "tags", "note", "up"
    ]  # internal fields hidden, found by value (t) or by name (last_seen) as times  # fmt: skip
    assert [column.justify for column in table.columns] == ["left", "right", "right", "right", *["left"] * 5]
    assert shown(table) == [
        ["ap1", "12.500", "5", "1,234,567", "17:44:04.250", "17:43:20", '["a","b"]', "[bold]not markup[/bold]", "True"],
        ["ap2", "3.125", "-", "12", "17:44:05.000", "-", "-", "-", "False"],
    ]  # one number of decimals per column, whole numbers (made floats by a NaN) as integers
    assert table.caption == "2 devices; times UTC, 2026-11-23"
    asked = terminal_table(rows, ["name", "_partition"])  # asked for: shown
    assert shown(asked) == [["ap1", "0"], ["ap2", "1"]] and asked.caption is None
    days = terminal_table([{"created": 1_700_000_000, "modified": 1_795_455_844}, {"created": 1_700_000_000.5}])
    assert shown(days) == [
        ["2023-11-14 22:13:20.000", "2026-11-23 17:44:04"], ["2023-11-14 22:13:20.500", "-"]
    ] and days.caption == "times UTC"  # a date when the times span days  # fmt: skip
    odd = terminal_table([{"ts": "soon", "tiny": 1e-9, "huge": 2e18}, {"ts": 1_795_455_844, "tiny": 0.5, "huge": 1}])
    assert shown(odd) == [["soon", "1e-09", "2e+18"], ["17:44:04", "0.5", "1"]]  # not a time: as it is


def test_replay_names_the_subscriptions_a_recording_holds(mist_sim, tmp_path):
    recording = tmp_path / "dev.jsonl.gz"
    channel = mist_sim.channel("device_stats")
    env = {"MIST_API_TOKEN": mist_sim.token}
    assert run("record", channel, "--url", mist_sim.url, "--count", "10", "-o", str(recording), env=env).returncode == 0
    result = run("replay", str(recording), "/sites/typo/stats/devices")
    assert result.returncode == 2 and result.stdout == ""
    assert "holds no data for /sites/typo/stats/devices; it holds data for:" in result.stderr
    assert f"  {channel}\n" in result.stderr


def test_messages_speak_the_command_lines_words():
    result = run("tail", "context:fw_single", "--count", "1", env={"SMC_API_KEY": "k"})
    assert result.returncode == 2 and "--url" in result.stderr and "url=" not in result.stderr
    result = run("tail", "context:fw_single", "--count", "1", "--url", "http://127.0.0.1:1")
    assert result.returncode == 2 and "SMC_API_KEY" in result.stderr and "api_key=" not in result.stderr


def test_the_report_of_a_recording_covers_its_recorded_time(mist_sim, tmp_path):
    recording = tmp_path / "dev.jsonl.gz"
    channel = mist_sim.channel("device_stats")
    env = {"MIST_API_TOKEN": mist_sim.token}
    recorded = run("record", channel, "--url", mist_sim.url, "--seconds", "2", "-o", str(recording), env=env)
    seconds = float(re.search(r" in ([\d.]+) s to ", recorded.stderr).group(1))  # type: ignore[union-attr]
    time.sleep(2)  # a report written later still covers the recording's time
    page = tmp_path / "r.html"
    reported = run("report", str(recording), "-o", str(page))
    assert reported.returncode == 0, reported.stderr
    html = page.read_text()
    span = re.search(r"<th>Time range</th><td>(\S+)Z to (\S+)Z \(([\d.]+) s\)", html)
    assert span and 1.0 < float(span.group(3)) <= seconds + 0.1
    assert "Records per second" in html and "Latest values per mac" in html and "fields merged" in html
    assert html.count('class="plotly-graph-div"') == 2  # counts over time and cpu_util per device
    table = html.split("Latest values per mac")[1].split("</table>")[0]
    header = re.findall(r"<th>([^<]*)</th>", table)
    assert header[:3] == ["mac", "name", "type"] and "" not in header and "_partition" not in header
    cells = re.findall(r"<tr>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", table)
    assert len(cells) == 5 and all(name for _, name in cells)  # merged: every device has its name
    assert re.search(r"<td>\d\d:\d\d:\d\d\.\d{3}</td>", table)  # times as times of day (UTC)
