"""``streamkit list``: what there is to subscribe to (Mist orgs, sites, devices, maps; SMC engines, elements)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ._common import add_command, console, terminal_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["WHAT", "add_parser", "run"]

#: What ``streamkit list`` lists: name -> (source, needs an argument, help).
WHAT: dict[str, tuple[str, str | None, str]] = {
    "orgs": ("mist", None, "the Mist organisations the token sees"),
    "sites": ("mist", None, "the sites of the organisation (--org when the token sees several)"),
    "devices": ("mist", "SITE", "the devices of one site (id or name)"),
    "maps": ("mist", "SITE", "the floor maps of one site (id or name)"),
    "engines": ("smc", None, "the SMC's engines (firewalls, IPS, layer 2, clusters ...)"),
    "elements": ("smc", "KIND", "the SMC's elements of one kind (an entry point: vpn, single_fw, host ...)"),
}

#: The columns shown unless ``--all`` is given (those present, in this order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("name", "id"),
    "sites": ("name", "id", "timezone", "country_code", "address"),
    "devices": ("name", "type", "model", "mac", "id"),
    "maps": ("name", "id", "type", "width", "height"),
    "engines": ("name", "type", "href"),
    "elements": ("name", "type", "href"),
}

#: The next command to try after each listing (``{first}``: the first row's id, href or name).
NEXT: dict[str, str] = {
    "sites": "streamkit tail /sites/{first}/stats/devices",
    "devices": "streamkit tail /sites/{site}/stats/devices",
    "maps": "streamkit tail /sites/{site}/stats/maps/{first}/clients",
    "engines": "streamkit tail 'element:{first}'",
    "elements": "streamkit tail 'element:{first}'",
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``list`` to the command line."""
    listing = "\n".join(f"  {name:9}{arg or '':6}{text}" for name, (_, arg, text) in WHAT.items())
    parser = add_command(
        commands,
        "list",
        run,
        help="list Mist orgs, sites, devices and maps, or SMC engines and elements",
        description="Find what to subscribe to, over the vendor's REST API with the stream's credentials "
        "($MIST_API_TOKEN; $SMC_URL and $SMC_API_KEY).",
        epilog=f"what:\n{listing}\n\nexamples:\n  streamkit list sites\n  streamkit list devices 'HQ Paris'\n"
        "  streamkit list engines --url http://127.0.0.1:8082\n  streamkit list sites --json | jq -r .id",
    )
    parser.add_argument("what", choices=tuple(WHAT), metavar="WHAT", help=", ".join(WHAT))
    parser.add_argument("argument", nargs="?", metavar="SITE_OR_KIND", help="devices/maps: a site; elements: a kind")
    parser.add_argument("--url", help="Mist: the stream URL (default from --region); SMC: the REST base ($SMC_URL)")
    parser.add_argument("--region", help="Mist cloud region, e.g. global01, emea01")
    parser.add_argument("--org", help="Mist sites: the organisation (id or name)")
    parser.add_argument("--insecure", action="store_true", help="SMC: do not verify the server's certificate")
    parser.add_argument("--all", action="store_true", help="every column (default: the ones that say what it is)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line (every column)")


def run(args: argparse.Namespace) -> None:
    """List what ``args.what`` names, as a table (or JSON lines), and say what to try next."""
    source, needs, _ = WHAT[args.what]
    if needs is not None and not args.argument:
        raise ValueError(f"streamkit list {args.what} needs {needs}, e.g. streamkit list {args.what} <{needs.lower()}>")
    if needs is None and args.argument:
        raise ValueError(f"streamkit list {args.what} takes no argument (got {args.argument!r})")
    table = _mist(args) if source == "mist" else _smc(args)
    if args.json:
        sys.stdout.write(table.to_json(orient="records", lines=True, date_format="iso"))
        return
    names = None if args.all else [c for c in COLUMNS[args.what] if c in table.columns]
    caption = f"{len(table):,} {args.what}" + ("" if args.all else " (--all: every column; --json: for scripts)")
    console().print(terminal_table(table.to_dict("records"), names, caption=caption, fold=True))
    if len(table) and args.what in NEXT:
        first = next(str(table[c].iloc[0]) for c in ("id", "href", "name") if c in table.columns)
        site = str(table["site_id"].iloc[0]) if "site_id" in table.columns else args.argument  # an id, not a name
        hint = NEXT[args.what].format(first=first, site=site)
        print(f"next: {hint}", file=sys.stderr)


def _mist(args: argparse.Namespace) -> pd.DataFrame:
    from ..connection import mist

    with mist(url=args.url, region=args.region) as client:
        if args.what == "orgs":
            return client.orgs()
        if args.what == "sites":
            return client.sites(args.org)
        if args.what == "devices":
            return client.devices(args.argument)
        return client.maps(args.argument)


def _smc(args: argparse.Namespace) -> pd.DataFrame:
    from ..connection import smc

    with smc(url=args.url, verify=not args.insecure) as client:
        if args.what == "engines":
            return client.engines()
        return client.elements(args.argument)
