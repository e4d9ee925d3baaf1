"""The ``streamkit`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .errors import AuthenticationError, StreamkitError

__all__ = ["main"]

EPILOG = """\
examples:
  streamkit demo                      start the Mist simulator and print decoded device stats
  streamkit sim mist --port 8765      serve a simulated Mist stream until Ctrl-C
  streamkit sim smc --interval 0.5    serve a simulated SMC (REST + status socket)
  streamkit tail /sites/$SITE/stats/devices                 live table of a Mist channel ($MIST_API_TOKEN)
  streamkit record /sites/$SITE/stats/devices -o devices.jsonl.gz --seconds 60
  streamkit replay devices.jsonl.gz --speed 20 > records.jsonl
  streamkit report devices.jsonl.gz -o devices.html

exit codes: 0 done, 1 the stream failed (connection lost, refused subscription), 2 bad arguments or input,
3 credentials refused, 130 interrupted (Ctrl-C).
credentials come from the environment: MIST_API_TOKEN (MIST_REGION / MIST_HOST), SMC_URL and SMC_API_KEY.
"""

SOURCE_HELP = """\
topics: Mist channels (/sites/<site_id>/stats/devices ...), SMC context:<name> or element:<href>,
or a generic feed's topic keys (none: everything it sends)."""


def _add_sim_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    p.add_argument("--seed", type=int, default=0, help="scenario seed (default: %(default)s)")
    p.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between updates of each device (0: flat out; default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the connection details as one JSON line")
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--drop-every", type=float, metavar="S", help="abort every connection every S seconds")
    faults.add_argument(
        "--malformed",
        type=float,
        default=0.0,
        metavar="P",
        help="replace a data frame by a broken one with probability P",
    )
    faults.add_argument("--stall-every", type=float, metavar="S", help="every S seconds stop sending and reading")
    faults.add_argument("--stall-for", type=float, default=5.0, metavar="S", help="length of a stall (default: 5)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamkit",
        description="Explore live network telemetry streams.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streamkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run the Mist simulator and print a few decoded device-stats records",
        description="Start the built-in Mist simulator, subscribe to one site's device stats "
        "and print decoded records.",
        epilog="example:\n  streamkit demo --count 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--count", type=int, default=8, help="records to print (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="scenario seed (default: %(default)s)")

    sim = sub.add_parser(
        "sim",
        help="serve a simulated vendor stream on loopback",
        description="Serve a simulated Mist stream or SMC (REST + status socket) until Ctrl-C.",
        epilog="examples:\n  streamkit sim mist --port 8765 --sites 3\n  streamkit sim smc --drop-every 30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = sim.add_subparsers(dest="kind", metavar="KIND", required=True)
    mist = kinds.add_parser("mist", help="Juniper Mist stream (token, basic or cookie auth)")
    _add_sim_options(mist)
    size = mist.add_argument_group("scenario size")
    size.add_argument("--sites", type=int, default=2)
    size.add_argument("--aps", type=int, default=8, help="access points per site")
    size.add_argument("--clients", type=int, default=30, help="wireless clients per site")
    smc = kinds.add_parser("smc", help="Forcepoint SMC: REST session and status socket")
    _add_sim_options(smc)
    size = smc.add_argument_group("scenario size")
    size.add_argument("--engines", type=int, default=3, help="single firewalls")
    size.add_argument("--clusters", type=int, default=1, help="firewall clusters")
    size.add_argument("--tunnels", type=int, default=3, help="tunnels per VPN")
    _add_stream_commands(sub)
    return parser


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("topics", nargs="*", metavar="TOPIC", help="what to subscribe to (see below)")
    where = p.add_argument_group("source")
    where.add_argument("--source", choices=("mist", "smc", "feed"), help="default: smc for context:/element: topics")
    where.add_argument("--url", help="stream URL (Mist: default from --region or $MIST_REGION; SMC: $SMC_URL)")
    where.add_argument("--region", help="Mist cloud region, e.g. global01, emea01")
    where.add_argument("--insecure", action="store_true", help="SMC: do not verify the server's certificate")
    p.add_argument("--seconds", type=float, help="stop after this long")
    p.add_argument("--count", type=int, help="stop after this many records")


def _add_stream_commands(sub: Any) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    tail = sub.add_parser(
        "tail",
        help="live table of one or more subscriptions in the terminal",
        description="Subscribe and show the latest record per device/key as a live table (JSON lines when the "
        "output is not a terminal, for jq and friends).",
        epilog=SOURCE_HELP + "\n\nexamples:\n  export MIST_API_TOKEN=...\n"
        "  streamkit tail /sites/$SITE/stats/devices --columns name,cpu_util,num_clients\n"
        "  SMC_URL=https://smc:8082 SMC_API_KEY=... streamkit tail context:fw_single --key name\n"
        "  streamkit tail /sites/$SITE/stats/clients --jsonl --count 100 | jq .rssi",
        formatter_class=raw,
    )
    _add_source_options(tail)
    tail.add_argument("--columns", help="comma-separated columns to show (default: the first scalar ones)")
    tail.add_argument("--key", help="one row per value of this field (default: mac, name, id or href)")
    tail.add_argument("--jsonl", action="store_true", help="print one JSON line per record instead of a table")

    record = sub.add_parser(
        "record",
        help="record raw frames to a .jsonl.gz file, with a progress line",
        description="Record what the server sends (and what streamkit sends it) with receive times, for replay "
        "and reports. Credentials are never written.",
        epilog=SOURCE_HELP + "\n\nexample:\n  streamkit record /sites/$SITE/stats/devices -o devices.jsonl.gz "
        "--seconds 600 --max-bytes 100000000",
        formatter_class=raw,
    )
    record.add_argument("-o", "--output", metavar="FILE.jsonl.gz", required=True, help="the recording to write")
    _add_source_options(record)
    record.add_argument("--max-bytes", type=int, help="start a new file after this many (uncompressed) bytes")
    record.add_argument("--max-seconds", type=float, help="start a new file after this many seconds")

    replay = sub.add_parser(
        "replay",
        help="replay a recording as JSON lines, with a progress bar",
        description="Replay a recording through the same protocol adapter as live and write one JSON line per "
        'record: {"topic", "received", "record"}.',
        epilog="examples:\n  streamkit replay devices.jsonl.gz --speed 0 -o records.jsonl\n"
        "  streamkit replay devices.jsonl.gz /sites/$SITE/stats/devices --flatten | jq .record.cpu_util",
        formatter_class=raw,
    )
    replay.add_argument("recording", metavar="FILE.jsonl.gz")
    replay.add_argument("topics", nargs="*", metavar="TOPIC", help="only these subscriptions (default: all)")
    replay.add_argument("--speed", type=float, default=0, help="1: real time, 20: faster, 0: flat out (default)")
    replay.add_argument("-o", "--output", help="write here instead of stdout")
    replay.add_argument("--flatten", action="store_true", help="flatten nested fields (ip_stat.gateway ...)")

    report = sub.add_parser(
        "report",
        help="write a standalone HTML report from a recording or an archive",
        description="Render a report that opens offline in a browser: per-subscription tables and counts from a "
        "recording, or dataset summaries and SQL query results from an archive folder.",
        epilog="examples:\n  streamkit report devices.jsonl.gz -o devices.html\n"
        "  streamkit report archive/ --sql 'select name, avg(cpu_util) from devices group by 1' -o cpu.html",
        formatter_class=raw,
    )
    report.add_argument("input", metavar="RECORDING_OR_ARCHIVE")
    report.add_argument("-o", "--output", default="report.html", help="default: %(default)s")
    report.add_argument("--title", help="default: from the input's name")
    report.add_argument("--sql", action="append", help="archive: a DuckDB query to include (repeatable)")


def _simulator(args: argparse.Namespace) -> Any:
    from .sim import Faults, MistSimulator, SmcSimulator

    faults = Faults(
        drop_every=args.drop_every,
        malformed=args.malformed,
        stall_every=args.stall_every,
        stall_for=args.stall_for,
    )
    common = {
        "host": args.host,
        "port": args.port,
        "seed": args.seed,
        "interval": args.interval,
        "faults": faults,
    }
    if args.kind == "mist":
        return MistSimulator(sites=args.sites, aps=args.aps, clients=args.clients, **common)
    return SmcSimulator(engines=args.engines, clusters=args.clusters, tunnels=args.tunnels, **common)


def _describe(sim: Any) -> dict[str, Any]:
    from .sim import MistSimulator

    if isinstance(sim, MistSimulator):
        return {
            "kind": "mist",
            "url": sim.url,
            "token": sim.token,
            "email": sim.email,
            "password": sim.password,
            "org_id": sim.org_id,
            "site_ids": sim.site_ids,
            "map_ids": sim.map_ids,
            "channels": {
                kind: sim.channel(kind) for kind in ("device_stats", "client_stats", "device_events", "location")
            },
        }
    return {
        "kind": "smc",
        "url": sim.url,
        "socket_url": sim.socket_url,
        "api_key": sim.api_key,
        "login": sim.login,
        "password": sim.password,
        "hrefs": sim.hrefs,
    }


def _print_details(info: dict[str, Any]) -> None:
    if info["kind"] == "mist":
        print(
            textwrap.dedent(f"""\
            Mist simulator listening on {info["url"]}
              token     {info["token"]}   (header  Authorization: Token ...)
              basic     {info["email"]} / {info["password"]}
              org       {info["org_id"]}
              sites     {", ".join(info["site_ids"])}
              channels  {info["channels"]["device_stats"]}
                        {info["channels"]["client_stats"]}
                        {info["channels"]["device_events"]}
                        {info["channels"]["location"]}
            Point a client at it:  export MIST_API_TOKEN={info["token"]}""")
        )
    else:
        print(
            textwrap.dedent(f"""\
            SMC simulator listening on {info["url"]}   (status socket {info["socket_url"]})
              api key   {info["api_key"]}
              lms login {info["login"]} / {info["password"]}
              nodes     {", ".join(info["hrefs"]["nodes"][:2])} ...
              endpoints {", ".join(info["hrefs"]["endpoints"][:1])} ...
            Point a client at it:  export SMC_URL={info["url"]} SMC_API_KEY={info["api_key"]}""")
        )
    print("Ctrl-C stops it.", flush=True)


async def _serve(sim: Any, as_json: bool) -> None:
    from ._json import dumps

    async with sim:
        info = _describe(sim)
        if as_json:
            print(dumps(info), flush=True)
        else:
            _print_details(info)
        await asyncio.Future()


def _demo(count: int, seed: int) -> None:
    from . import collect, mist
    from .sim import MistSimulator

    with MistSimulator(seed=seed, interval=0.5, sites=1) as sim:
        channel = sim.channel("device_stats")
        print(f"Mist simulator at {sim.url} (seed {seed}); subscribing to {channel}", flush=True)
        client = mist(url=sim.url, token=sim.token)
        try:
            for n, record in enumerate(collect(client.subscribe(channel), count=count, timeout=30), 1):
                print(_summary(n, record), flush=True)
        finally:
            client.close()


def _summary(n: int, record: dict[str, Any]) -> str:
    kind = record.get("type") or "ap (basic)"
    facts: dict[str, Any] = {k: record[k] for k in ("name", "ip", "uptime", "cpu_util", "num_clients") if k in record}
    ble = record.get("ble_stat")
    if ble:
        facts["ble_rx_pkts"] = ble.get("rx_pkts")
    text = "  ".join(f"{k}={v}" for k, v in facts.items())
    return f"{n:3d}  {record.get('mac', '?'):12}  {kind:10}  {text}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            _demo(args.count, args.seed)
        elif args.command == "sim":
            asyncio.run(_serve(_simulator(args), args.json))
        else:
            from . import commands

            getattr(commands, f"{args.command}_command")(args)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except AuthenticationError as exc:
        print(f"streamkit: {exc}", file=sys.stderr)
        return 3
    except StreamkitError as exc:
        print(f"streamkit: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, ImportError) as exc:
        print(f"streamkit: {exc}", file=sys.stderr)
        return 2
    return 0
