"""``streamkit sim``: serve a simulated Mist stream or SMC (REST + status socket) on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import textwrap
from typing import Any

from ._common import add_command

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sim mist`` and ``sim smc`` to the command line."""
    parser = add_command(
        commands,
        "sim",
        run,
        help="serve a simulated vendor stream on loopback",
        description="Serve a simulated Mist stream or SMC (REST + status socket) until Ctrl-C.",
        epilog="examples:\n  streamkit sim mist --port 8765 --sites 3\n  streamkit sim smc --drop-every 30",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    mist = kinds.add_parser("mist", help="Juniper Mist stream (token, basic or cookie auth)")
    _add_server_options(mist)
    size = mist.add_argument_group("scenario size")
    size.add_argument("--sites", type=int, default=2)
    size.add_argument("--aps", type=int, default=8, help="access points per site")
    size.add_argument("--clients", type=int, default=30, help="wireless clients per site")
    smc = kinds.add_parser("smc", help="Forcepoint SMC: REST session and status socket")
    _add_server_options(smc)
    size = smc.add_argument_group("scenario size")
    size.add_argument("--engines", type=int, default=3, help="single firewalls")
    size.add_argument("--clusters", type=int, default=1, help="firewall clusters")
    size.add_argument("--tunnels", type=int, default=3, help="tunnels per VPN")


def _add_server_options(p: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> None:
    """Serve the simulator the options describe and print how to connect to it."""
    asyncio.run(_serve(_simulator(args), args.json))


def _simulator(args: argparse.Namespace) -> Any:
    from ..sim import Faults, MistSimulator, SmcSimulator

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
    from ..sim import MistSimulator

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
            "commands": [
                f"streamkit list sites --url {sim.url}",
                f"streamkit tail {sim.channel('device_stats')} --url {sim.url}",
            ],
        }
    return {
        "kind": "smc",
        "url": sim.url,
        "socket_url": sim.socket_url,
        "api_key": sim.api_key,
        "login": sim.login,
        "password": sim.password,
        "hrefs": sim.hrefs,
        "commands": [
            f"streamkit list engines --url {sim.url}",
            f"streamkit tail context:fw_single --url {sim.url}",
        ],
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
            Try it in another terminal (copy and paste):
              export MIST_API_TOKEN={info["token"]}
              {info["commands"][0]}
              {info["commands"][1]}""")
        )
    else:
        print(
            textwrap.dedent(f"""\
            SMC simulator listening on {info["url"]}   (status socket {info["socket_url"]})
              api key   {info["api_key"]}
              lms login {info["login"]} / {info["password"]}
              nodes     {", ".join(info["hrefs"]["nodes"][:2])} ...
              endpoints {", ".join(info["hrefs"]["endpoints"][:1])} ...
            Try it in another terminal (copy and paste):
              export SMC_URL={info["url"]} SMC_API_KEY={info["api_key"]}
              {info["commands"][0]}
              {info["commands"][1]}""")
        )
    print("Ctrl-C stops it.", flush=True)


async def _serve(sim: Any, as_json: bool) -> None:
    from .._json import dumps

    async with sim:
        info = _describe(sim)
        if as_json:
            print(dumps(info), flush=True)
        else:
            _print_details(info)
        await asyncio.Future()
