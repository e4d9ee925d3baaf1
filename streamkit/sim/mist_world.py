"""A seeded Mist organisation that evolves tick by tick: sites, maps, APs, switches, gateways and clients.

Pure state, no I/O: :meth:`MistWorld.tick` advances the scenario and returns ``(channel, payload)`` pairs.
The evolution depends only on the seed and the number of ticks, never on who is subscribed, so two runs with
the same seed see the same organisation, the same roams, restarts and disconnects.
"""

from __future__ import annotations

import base64
import random
import struct
import uuid
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Located", "MistDevice", "MistSite", "MistWorld", "MxEdge", "PacketCapture", "WifiClient"]

MIST_OUI = "5c5b35"
AP_MODELS = ("AP43", "AP45", "AP34", "AP24")
CLIENT_KINDS = (
    # os, manufacture, family, model
    ("iOS 17.5", "Apple", "iPhone", "iPhone 15"),
    ("macOS 14.4", "Apple", "Mac", "MacBook Pro"),
    ("Android 14", "Samsung", "Galaxy", "Galaxy S24"),
    ("Windows 11", "Dell", "Windows", "Latitude 7440"),
    ("Windows 11", "Lenovo", "Windows", "ThinkPad X1"),
    ("ChromeOS", "Google", "Chromebook", "Pixelbook"),
)
ORG_NAMES = ("Acme Retail", "Globex Logistics", "Initech Campus", "Umbrella Clinics", "Stark Offices")
CITIES = (
    # city, country, timezone, lat, lng
    ("Sunnyvale", "US", "America/Los_Angeles", 37.37, -122.04),
    ("Amsterdam", "NL", "Europe/Amsterdam", 52.37, 4.90),
    ("Bangalore", "IN", "Asia/Kolkata", 12.97, 77.59),
    ("London", "GB", "Europe/London", 51.51, -0.13),
    ("Tokyo", "JP", "Asia/Tokyo", 35.68, 139.69),
    ("Austin", "US", "America/Chicago", 30.27, -97.74),
)
STREETS = ("Main Street", "Market Street", "Station Road", "Harbour Way", "Innovation Drive")
MAP_KINDS = ("assets", "sdkclients", "unconnected_clients", "discovered_assets")
LOCATED_KINDS = (
    ("assets", "tag", ("Kontakt.io", "Minew", "Blukii")),
    ("sdkclients", "app", ("Apple", "Samsung")),
    ("unconnected_clients", "wifi", ("Apple", "Samsung", "Intel", "Espressif")),
    ("discovered_assets", "ble", ("Apple", "Tile", "Google")),
)
MXEDGE_EVENTS = (
    ("ME_SERVICE_RESTARTED", "{name}: tunterm service restarted"),
    ("ME_TUNNEL_DOWN", "{name}: a tunnel from an AP went down"),
    ("ME_TUNNEL_UP", "{name}: a tunnel from an AP came up"),
    ("ME_CONFIG_CHANGED", "{name}: configuration changed"),
)
SSIDS = (("corp", "4a1c7b00-0000-4000-8000-000000000001"), ("guest", "4a1c7b00-0000-4000-8000-000000000002"))


def _draw(rng: random.Random, low: int, high: int) -> int:
    """An int in [low, high): ``randrange`` without its per-call argument checks (payloads are a hot path)."""
    return low + int(rng.random() * (high - low))


@dataclass(slots=True, eq=False)
class MistDevice:
    id: str
    mac: str
    name: str
    type: str  # "ap" | "switch" | "gateway"
    model: str
    serial: str
    site_id: str
    map_id: str | None
    x: float
    y: float
    ip: str
    version: str
    boot_time: float
    partition: int
    offset: int
    connected: bool = True
    down_ticks: int = 0
    cpu: float = 10.0
    mem_used_kb: int = 200_000
    tx_bytes: int = 0
    rx_bytes: int = 0
    ble_tx_pkts: int = 0
    ble_rx_pkts: int = 0
    ip_stat: dict[str, Any] = field(default_factory=dict)
    tx_bps: int = 0
    rx_bps: int = 0
    band_clients: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class WifiClient:
    mac: str
    hostname: str
    username: str
    os: str
    manufacture: str
    family: str
    model: str
    ip: str
    ap: MistDevice
    ssid: str
    wlan_id: str
    band: str
    channel: int
    rssi: float
    snr: float
    joined: float
    x: float
    y: float
    tx_bytes: int = 0
    rx_bytes: int = 0
    tx_packets: int = 0
    rx_packets: int = 0
    tx_retries: int = 0
    rx_retries: int = 0
    tx_bps: int = 0
    rx_bps: int = 0


@dataclass(slots=True, eq=False)
class MxEdge:
    """A Mist Edge appliance (tunnel termination for the APs of its site)."""

    id: str
    mac: str
    name: str
    model: str
    serial: str
    site_id: str
    boot_time: float
    cpu: float = 10.0
    mem: float = 30.0
    tunnels: int = 0
    tx_bytes: int = 0
    rx_bytes: int = 0


@dataclass(slots=True, eq=False)
class Located:
    """Something located on a map that is not a connected Wi-Fi client: a BLE asset, an SDK client, an
    unconnected Wi-Fi device or a discovered BLE asset (``kind``)."""

    kind: str  # "assets" | "sdkclients" | "unconnected_clients" | "discovered_assets"
    site_id: str
    id: str
    mac: str
    name: str
    map_id: str
    x: float
    y: float
    rssi: float
    manufacture: str


@dataclass(slots=True, eq=False)
class PacketCapture:
    """A packet capture started over REST: ``packets`` more to stream on ``channel``, then the end marker."""

    id: str
    channel: str
    packets: int
    macs: list[str]
    sent: int = 0


@dataclass(slots=True, eq=False)
class MistSite:
    id: str
    name: str
    index: int
    map_ids: list[str]
    aps: list[MistDevice] = field(default_factory=list)
    switches: list[MistDevice] = field(default_factory=list)
    gateways: list[MistDevice] = field(default_factory=list)
    clients: dict[str, WifiClient] = field(default_factory=dict)
    mxedges: list[MxEdge] = field(default_factory=list)
    located: list[Located] = field(default_factory=list)
    timezone: str = "UTC"
    country_code: str = "US"
    address: str = ""
    latlng: tuple[float, float] = (0.0, 0.0)

    @property
    def devices(self) -> list[MistDevice]:
        return [*self.aps, *self.switches, *self.gateways]


class MistWorld:
    """A deterministic Mist organisation.

    Args:
        seed: the scenario's seed.
        sites, aps, switches, gateways, clients: sizes (devices and clients are per site).
        maps: floor-plan maps per site (APs and clients are spread over them).
        restart_rate, disconnect_rate: chance per device per tick of a restart / a disconnect.
        roam_rate, churn_rate: chance per client per tick of roaming to another AP / leaving (a new one joins).
        mxedges: Mist Edges per site; mxedge_event_rate: chance per Mist Edge per tick of an event.
        located: per site, how many BLE assets, SDK clients, unconnected clients and discovered assets each.

    Pure: no server, no clock of its own. :meth:`tick` advances it and builds the wanted channels' messages:

    >>> world = MistWorld(seed=1, sites=1, aps=2, clients=3)
    >>> channel = world.channels(world.sites[0])["device_stats"]
    >>> messages = world.tick(world.now + 1, {channel})
    >>> len(messages), messages[0][0] == channel, "mac" in messages[0][1]
    (6, True, True)
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        sites: int = 2,
        aps: int = 8,
        switches: int = 1,
        gateways: int = 1,
        clients: int = 30,
        maps: int = 1,
        restart_rate: float = 0.002,
        disconnect_rate: float = 0.002,
        roam_rate: float = 0.03,
        churn_rate: float = 0.01,
        mxedges: int = 1,
        located: int = 3,
        mxedge_event_rate: float = 0.02,
        start: float = 1_700_000_000.0,
    ) -> None:
        if sites < 1 or aps < 1 or maps < 1 or min(switches, gateways, clients) < 0:
            raise ValueError("sizes: at least one site, one AP and one map per site; others zero or more")
        self.rng = random.Random(seed)
        self.noise = random.Random(f"noise-{seed}")  # payload jitter: kept apart so evolution never depends on it
        self.restart_rate = restart_rate
        self.disconnect_rate = disconnect_rate
        self.roam_rate = roam_rate
        self.churn_rate = churn_rate
        self.clients_per_site = clients
        self.ticks = 0
        self.now = start
        self.org_id = self._uuid()
        self.sites: list[MistSite] = []
        self._client_serial = 0
        for s in range(sites):
            site = MistSite(self._uuid(), f"site-{s + 1:02d}", s, [self._uuid() for _ in range(maps)])
            subnet = 10 + s
            for i in range(aps):
                site.aps.append(
                    self._device(
                        site,
                        "ap",
                        self.rng.choice(AP_MODELS),
                        f"{site.name}-ap{i + 1:02d}",
                        f"10.{subnet}.12.{20 + i}",
                        site.map_ids[i % maps],
                    )
                )
            for i in range(switches):
                site.switches.append(
                    self._device(
                        site,
                        "switch",
                        "EX4100-48P",
                        f"{site.name}-sw{i + 1}",
                        f"10.{subnet}.12.{2 + i}",
                        None,
                    )
                )
            for i in range(gateways):
                site.gateways.append(
                    self._device(site, "gateway", "SRX320", f"{site.name}-gw{i + 1}", f"10.{subnet}.12.1", None)
                )
            for _ in range(clients):
                self._join(site)
            self.sites.append(site)
        self.site_by_id = {site.id: site for site in self.sites}
        self.device_by_id = {d.id: d for site in self.sites for d in site.devices}
        # Everything added after the first release draws from its own generator, so the organisations and the
        # stories of existing seeds stay what they were.
        self.extra = random.Random(f"extras-{seed}")
        self.mxedge_event_rate = mxedge_event_rate
        self.org_name = f"{self.extra.choice(ORG_NAMES)} (simulated)"
        self.created = start - 400 * 86_400
        self.captures: list[PacketCapture] = []
        for site in self.sites:
            self._furnish(site, mxedges, located)
        self.mxedge_by_id = {m.id: m for site in self.sites for m in site.mxedges}

    # -- construction --------------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _mac(self, oui: str = MIST_OUI) -> str:
        return oui + f"{self.rng.getrandbits(24):06x}"

    def _device(self, site: MistSite, kind: str, model: str, name: str, ip: str, map_id: str | None) -> MistDevice:
        rng = self.rng
        return MistDevice(
            id=self._uuid(),
            mac=self._mac(),
            name=name,
            type=kind,
            model=model,
            serial=f"A{rng.getrandbits(40):010X}"[:12],
            site_id=site.id,
            map_id=map_id,
            x=round(rng.uniform(5, 95), 1),
            y=round(rng.uniform(5, 55), 1),
            ip=ip,
            version=rng.choice(("0.14.29313", "0.14.29543", "0.12.27452")) if kind == "ap" else "23.4R2-S2.1",
            boot_time=self.now - rng.uniform(3_600, 90 * 86_400),
            partition=rng.randrange(64),
            offset=rng.randrange(10**9, 5 * 10**9),
            cpu=rng.uniform(3, 30),
            mem_used_kb=rng.randrange(150_000, 400_000),
            tx_bytes=rng.randrange(10**9, 10**11),
            rx_bytes=rng.randrange(10**9, 10**11),
            ble_tx_pkts=rng.randrange(1_000, 20_000),
            ble_rx_pkts=rng.randrange(10**6, 10**9),
        )

    def _extra_uuid(self) -> str:
        return str(uuid.UUID(int=self.extra.getrandbits(128), version=4))

    def _furnish(self, site: MistSite, mxedges: int, located: int) -> None:
        """The site's address, Mist Edges and located things (drawn from :attr:`extra`)."""
        rng = self.extra
        city, country, tz, lat, lng = CITIES[site.index % len(CITIES)]
        site.address = f"{rng.randrange(1, 400)} {rng.choice(STREETS)}, {city}"
        site.country_code, site.timezone = country, tz
        site.latlng = (round(lat + rng.uniform(-0.05, 0.05), 5), round(lng + rng.uniform(-0.05, 0.05), 5))
        for i in range(mxedges):
            site.mxedges.append(
                MxEdge(
                    id=self._extra_uuid(),
                    mac=f"020000{rng.getrandbits(24):06x}",
                    name=f"{site.name}-mxedge{i + 1}",
                    model="ME-X1",
                    serial=f"ME{rng.getrandbits(40):010X}",
                    site_id=site.id,
                    boot_time=self.now - rng.uniform(3_600, 60 * 86_400),
                    cpu=rng.uniform(5, 25),
                    mem=rng.uniform(20, 50),
                )
            )
        for kind, prefix, makers in LOCATED_KINDS:
            for i in range(located):
                site.located.append(
                    Located(
                        kind=kind,
                        site_id=site.id,
                        id=self._extra_uuid(),
                        mac=f"{rng.getrandbits(48):012x}",
                        name=f"{prefix}-{site.index + 1:02d}{i + 1:02d}",
                        map_id=site.map_ids[i % len(site.map_ids)],
                        x=round(rng.uniform(5, 95), 1),
                        y=round(rng.uniform(5, 55), 1),
                        rssi=rng.uniform(-85, -50),
                        manufacture=rng.choice(makers),
                    )
                )

    def start_capture(self, channel: str, *, packets: int = 10, site: MistSite | None = None) -> PacketCapture:
        """Start a packet capture streamed on ``channel`` (``/sites/{id}/pcaps`` or ``/orgs/{id}/pcaps``).

        Its packets flow once the channel has a subscriber (so a capture started over REST is not over
        before the client watching it has subscribed), a few per tick, then ``pcap_dict: null`` ends it.
        """
        sites = [site] if site is not None else self.sites
        macs = [c.mac for s in sites for c in s.clients.values()][:50] or [d.mac for s in sites for d in s.aps]
        capture = PacketCapture(self._extra_uuid(), channel, max(1, packets), macs)
        self.captures.append(capture)
        return capture

    def _join(self, site: MistSite) -> WifiClient:
        rng = self.rng
        self._client_serial += 1
        os_, manufacture, family, model = rng.choice(CLIENT_KINDS)
        ssid, wlan_id = rng.choice(SSIDS)
        ap = rng.choice(site.aps)
        band = rng.choice(("24", "5", "5", "6"))
        client = WifiClient(
            mac=self._mac(f"{rng.getrandbits(24) & 0xFCFFFF:06x}"),
            hostname=f"host-{self._client_serial:04d}",
            username=f"user{self._client_serial:04d}@example.com" if ssid == "corp" else "",
            os=os_,
            manufacture=manufacture,
            family=family,
            model=model,
            ip=f"172.{16 + site.index}.{rng.randrange(1, 254)}.{rng.randrange(2, 254)}",
            ap=ap,
            ssid=ssid,
            wlan_id=wlan_id,
            band=band,
            channel=self._channel(band),
            rssi=rng.uniform(-80, -45),
            snr=rng.uniform(15, 45),
            joined=self.now,
            x=ap.x + rng.uniform(-8, 8),
            y=ap.y + rng.uniform(-8, 8),
        )
        site.clients[client.mac] = client
        return client

    def _channel(self, band: str) -> int:
        return self.rng.choice({"24": (1, 6, 11), "5": (36, 52, 100, 149), "6": (5, 37, 69)}[band])

    # -- identity helpers ----------------------------------------------------------------------------------

    def channels(self, site: MistSite) -> dict[str, str]:
        """The channels this site serves, by what they carry."""
        base = f"/sites/{site.id}"
        out = {
            "device_stats": f"{base}/stats/devices",
            "client_stats": f"{base}/stats/clients",
            "device_events": f"{base}/devices",
        }
        out["mxedge_stats"] = f"{base}/stats/mxedges"
        out["mxedge_events"] = f"{base}/mxedges"
        out["pcaps"] = f"{base}/pcaps"
        for map_id in site.map_ids:
            out[f"location:{map_id}"] = f"{base}/stats/maps/{map_id}/clients"
            for kind in MAP_KINDS:
                out[f"{kind}:{map_id}"] = f"{base}/stats/maps/{map_id}/{kind}"
        return out

    def org_channels(self) -> dict[str, str]:
        """The organisation's channels, by what they carry."""
        base = f"/orgs/{self.org_id}"
        return {
            "org_insights": f"{base}/insights/summary",
            "org_mxedge_stats": f"{base}/stats/mxedges",
            "org_mxedge_events": f"{base}/mxedges",
            "org_pcaps": f"{base}/pcaps",
        }

    # -- evolution -----------------------------------------------------------------------------------------

    def tick(self, now: float, wanted: Container[str]) -> list[tuple[str, Any]]:
        """Advance to ``now`` and return this tick's messages for the channels in ``wanted``.

        The state evolves the same whatever ``wanted`` holds; only the payloads nobody wants are not built.
        """
        dt = max(0.0, now - self.now)
        self.now = now
        self.ticks += 1
        out: list[tuple[str, Any]] = []
        for site in self.sites:
            base = f"/sites/{site.id}"
            events = list(self._evolve_devices(site, dt))
            self._evolve_clients(site, dt)
            stats_channel = f"{base}/stats/devices"
            if stats_channel in wanted:
                for device in site.devices:
                    if device.connected:
                        out.extend((stats_channel, p) for p in self._device_payloads(device))
            events_channel = f"{base}/devices"
            if events_channel in wanted:
                out.extend((events_channel, e) for e in events)
            clients_channel = f"{base}/stats/clients"
            if clients_channel in wanted:
                out.extend((clients_channel, self._client_payload(c)) for c in site.clients.values())
            for map_id in site.map_ids:
                location_channel = f"{base}/stats/maps/{map_id}/clients"
                if location_channel in wanted:
                    out.extend(
                        (location_channel, self._location_payload(c))
                        for c in site.clients.values()
                        if c.ap.map_id == map_id
                    )
        self._tick_extras(wanted, out)
        return out

    def _tick_extras(self, wanted: Container[str], out: list[tuple[str, Any]]) -> None:
        """Mist Edges, located things, insights and packet captures (all drawn from :attr:`extra`)."""
        rng = self.extra
        org = f"/orgs/{self.org_id}"
        org_stats, org_events = f"{org}/stats/mxedges", f"{org}/mxedges"
        insights = f"{org}/insights/summary"
        for site in self.sites:
            base = f"/sites/{site.id}"
            stats, events = f"{base}/stats/mxedges", f"{base}/mxedges"
            for edge in site.mxedges:
                edge.cpu = min(100.0, max(1.0, edge.cpu * 0.9 + rng.uniform(2, 30) * 0.1))
                edge.mem = min(95.0, max(10.0, edge.mem + rng.uniform(-1, 1)))
                edge.tunnels = len(site.aps) - (1 if rng.random() < 0.1 else 0)
                edge.tx_bytes += _draw(rng, 10**5, 10**7)
                edge.rx_bytes += _draw(rng, 10**5, 10**7)
                if rng.random() < self.mxedge_event_rate:
                    kind, text = rng.choice(MXEDGE_EVENTS)
                    event = {
                        "mxedge_id": edge.id,
                        "mac": edge.mac,
                        "site_id": site.id,
                        "type": kind,
                        "timestamp": round(self.now, 3),
                        "text": text.format(name=edge.name),
                    }
                    out.extend((channel, event) for channel in (events, org_events) if channel in wanted)
                if stats in wanted or org_stats in wanted:
                    payload = self._mxedge_payload(edge)
                    out.extend((channel, payload) for channel in (stats, org_stats) if channel in wanted)
            for thing in site.located:
                thing.x = min(100.0, max(0.0, thing.x + rng.gauss(0, 0.4)))
                thing.y = min(60.0, max(0.0, thing.y + rng.gauss(0, 0.4)))
                thing.rssi = min(-35.0, max(-95.0, thing.rssi + rng.gauss(0, 1.0)))
                channel = f"{base}/stats/maps/{thing.map_id}/{thing.kind}"
                if channel in wanted:
                    out.append((channel, self._located_payload(thing)))
            if insights in wanted:
                out.append((insights, self._insights_payload(site)))
        for capture in list(self.captures):
            if capture.channel not in wanted:
                continue  # waits for someone to watch it
            for _ in range(min(3, capture.packets - capture.sent)):
                out.append((capture.channel, self._packet(capture)))
            if capture.sent >= capture.packets:
                out.append((capture.channel, {"capture_id": capture.id, "pcap_dict": None, "pcap_raw": None}))
                self.captures.remove(capture)

    def _event(self, device: MistDevice, kind: str, text: str) -> dict[str, Any]:
        prefix = {"ap": "AP", "switch": "SW", "gateway": "GW"}[device.type]
        return {"mac": device.mac, "type": f"{prefix}_{kind}", "timestamp": round(self.now, 3), "text": text}

    def _evolve_devices(self, site: MistSite, dt: float) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for d in site.devices:
            roll = rng.random()
            if not d.connected:
                d.down_ticks -= 1
                if d.down_ticks <= 0:
                    d.connected = True
                    yield self._event(d, "CONNECTED", f"{d.name} reconnected to the cloud")
                continue
            if roll < self.restart_rate:
                d.boot_time = self.now
                d.cpu = 60.0
                yield self._event(d, "RESTARTED", f"{d.name} restarted (reason: power cycle)")
            elif roll < self.restart_rate + self.disconnect_rate:
                d.connected = False
                d.down_ticks = _draw(rng, 3, 12)
                yield self._event(d, "DISCONNECTED", f"{d.name} lost its connection to the cloud")
                continue
            d.cpu = min(100.0, max(1.0, d.cpu * 0.9 + rng.uniform(2, 30) * 0.1))
            d.mem_used_kb = max(100_000, d.mem_used_kb + _draw(rng, -2_000, 2_001))
            d.tx_bps = int(rng.uniform(8e5, 4e7))
            d.rx_bps = int(rng.uniform(8e5, 4e7))
            d.tx_bytes += int(d.tx_bps / 8 * max(dt, 1.0))
            d.rx_bytes += int(d.rx_bps / 8 * max(dt, 1.0))
            d.ble_tx_pkts += _draw(rng, 0, 4)
            d.ble_rx_pkts += _draw(rng, 100, 4_000)
            d.offset += _draw(rng, 50, 500)

    def _evolve_clients(self, site: MistSite, dt: float) -> None:
        rng = self.rng
        for client in list(site.clients.values()):
            if rng.random() < self.churn_rate:
                del site.clients[client.mac]
                continue
            if rng.random() < self.roam_rate and len(site.aps) > 1:
                client.ap = rng.choice([ap for ap in site.aps if ap is not client.ap])
                client.channel = self._channel(client.band)
                client.rssi = rng.uniform(-75, -50)
            client.rssi = min(-30.0, max(-90.0, client.rssi + rng.gauss(0, 1.5)))
            client.snr = min(60.0, max(5.0, client.snr + rng.gauss(0, 1.0)))
            client.x += rng.gauss(0, 0.5)
            client.y += rng.gauss(0, 0.5)
            client.tx_bps = int(rng.expovariate(1 / 200_000))
            client.rx_bps = int(rng.expovariate(1 / 800_000))
            step = max(dt, 1.0)
            client.tx_bytes += int(client.tx_bps / 8 * step)
            client.rx_bytes += int(client.rx_bps / 8 * step)
            client.tx_packets += int(client.tx_bps / 8 / 900 * step)
            client.rx_packets += int(client.rx_bps / 8 / 900 * step)
            client.tx_retries += rng.randrange(0, 5)
            client.rx_retries += rng.randrange(0, 3)
        while len(site.clients) < self.clients_per_site:
            self._join(site)
        for ap in site.aps:
            ap.band_clients = {"24": 0, "5": 0, "6": 0}
        for client in site.clients.values():
            client.ap.band_clients[client.band] += 1

    # -- payloads ------------------------------------------------------------------------------------------

    def _device_payloads(self, d: MistDevice) -> list[dict[str, Any]]:
        now = self.now
        common = {
            "mac": d.mac,
            "last_seen": int(now),
            "uptime": int(now - d.boot_time),
            "version": d.version,
            "_partition": d.partition,
        }
        if d.type == "ap":
            return [self._ap_basic(d, common), self._ap_full(d, common)]
        if d.type == "switch":
            return [self._switch(d, common)]
        return [self._gateway(d, common)]

    @staticmethod
    def _ip_stat(d: MistDevice) -> dict[str, Any]:
        if d.ip_stat:
            return d.ip_stat
        net = d.ip.rsplit(".", 1)[0]
        mac = d.mac
        ip6 = f"fe80:0:0:0:{int(mac[0:2], 16) ^ 2:x}{mac[2:4]}:{mac[4:6]}ff:fe{mac[6:8]}:{mac[8:12]}"
        d.ip_stat = {
            "dns": [f"{net}.11", f"{net}.12"],
            "ips": {"vlan12": f"{d.ip}/25,{ip6}/64"},
            "gateway": f"{net}.1",
            "ip6": ip6,
            "netmask6": "/64",
            "ip": d.ip,
            "netmask": "255.255.255.128",
            "dhcp_server": f"{net}.1",
        }
        return d.ip_stat

    def _ap_basic(self, d: MistDevice, common: dict[str, Any]) -> dict[str, Any]:
        return {
            **common,
            "_offset_apbasic": d.offset,
            "ip_stat": self._ip_stat(d),
            "ip": d.ip,
            "ble_stat": {
                "tx_pkts": d.ble_tx_pkts,
                "tx_bytes": d.ble_tx_pkts * 12,
                "rx_pkts": d.ble_rx_pkts,
                "rx_bytes": d.ble_rx_pkts * 7,
                "tx_resets": 0,
            },
            "_time": round(self.now, 5),
        }

    def _ap_full(self, d: MistDevice, common: dict[str, Any]) -> dict[str, Any]:
        noise = -92 - d.offset % 5
        radio = {
            f"band_{band}": {
                "channel": ch,
                "bandwidth": bw,
                "power": power,
                "num_clients": d.band_clients[band],
                "util_all": min(95, 5 + 9 * d.band_clients[band] + int(d.cpu) // 3),
                "noise_floor": noise,
                "tx_bytes": d.tx_bytes // 3,
                "rx_bytes": d.rx_bytes // 3,
            }
            for band, ch, bw, power in (("24", 6, 20, 10), ("5", 36, 40, 14), ("6", 37, 80, 12))
        }
        return {
            **common,
            "_offset_apstats": d.offset + 1,
            "name": d.name,
            "model": d.model,
            "type": "ap",
            "serial": d.serial,
            "status": "connected",
            "num_clients": sum(d.band_clients.values()),
            "radio_stat": radio,
            "port_stat": {
                "eth0": {
                    "up": True,
                    "speed": 1000,
                    "full_duplex": True,
                    "tx_bytes": d.tx_bytes,
                    "rx_bytes": d.rx_bytes,
                    "tx_pkts": d.tx_bytes // 900,
                    "rx_pkts": d.rx_bytes // 900,
                }
            },
            "cpu_util": round(d.cpu),
            "mem_used_kb": d.mem_used_kb,
            "mem_total_kb": 1_000_000,
            "tx_bps": d.tx_bps,
            "rx_bps": d.rx_bps,
            "map_id": d.map_id,
            "x": d.x,
            "y": d.y,
            "ip": d.ip,
            "_time": round(self.now, 5),
        }

    def _if_stat(self, d: MistDevice, ports: int) -> dict[str, Any]:
        rng = self.noise
        return {
            f"ge-0/0/{i}.0": {
                "port_id": f"ge-0/0/{i}",
                "up": (i + self.ticks // 50) % 7 != 0,
                "tx_bytes": d.tx_bytes // (i + 1),
                "rx_bytes": d.rx_bytes // (i + 1),
                "tx_pkts": d.tx_bytes // (900 * (i + 1)),
                "rx_pkts": d.rx_bytes // (900 * (i + 1)),
                "tx_bps": _draw(rng, 0, 10**8),
                "rx_bps": _draw(rng, 0, 10**8),
            }
            for i in range(ports)
        }

    def _switch(self, d: MistDevice, common: dict[str, Any]) -> dict[str, Any]:
        site = self.site_by_id[d.site_id]
        return {
            **common,
            "name": d.name,
            "model": d.model,
            "type": "switch",
            "serial": d.serial,
            "status": "connected",
            "ip": d.ip,
            "cpu_util": round(d.cpu),
            "if_stat": self._if_stat(d, 8),
            "module_stat": [
                {
                    "fpc_idx": 0,
                    "model": d.model,
                    "serial": d.serial,
                    "temperatures": [{"name": "CPU", "celsius": round(40 + d.cpu / 4, 1)}],
                    "poe": {"max_power": 740.0, "power_draw": round(8.5 * len(site.aps), 1)},
                }
            ],
            "clients": [
                {"mac": ap.mac, "port_id": f"ge-0/0/{i}", "vlan": 12, "hostname": ap.name}
                for i, ap in enumerate(site.aps)
            ],
            "_time": round(self.now, 5),
        }

    def _gateway(self, d: MistDevice, common: dict[str, Any]) -> dict[str, Any]:
        site = self.site_by_id[d.site_id]
        rng = self.noise
        return {
            **common,
            "name": d.name,
            "model": d.model,
            "type": "gateway",
            "serial": d.serial,
            "status": "connected",
            "ip": d.ip,
            "cpu_util": round(d.cpu),
            "if_stat": self._if_stat(d, 4),
            "spu_stat": [
                {
                    "spu_cpu": round(d.cpu),
                    "spu_sessions": _draw(rng, 200, 5_000),
                    "spu_max_sessions": 65_536,
                    "spu_memory": _draw(rng, 30, 60),
                }
            ],
            "dhcpd_stat": {"LAN": {"num_ips": 253, "num_leased": len(site.clients)}},
            "_time": round(self.now, 5),
        }

    def _client_payload(self, c: WifiClient) -> dict[str, Any]:
        now = self.now
        return {
            "mac": c.mac,
            "last_seen": int(now),
            "username": c.username,
            "hostname": c.hostname,
            "os": c.os,
            "manufacture": c.manufacture,
            "family": c.family,
            "model": c.model,
            "ip": c.ip,
            "ap_mac": c.ap.mac,
            "ap_id": c.ap.id,
            "ssid": c.ssid,
            "wlan_id": c.wlan_id,
            "uptime": int(now - c.joined),
            "idle_time": 1,
            "power_saving": c.family == "iPhone",
            "band": c.band,
            "proto": {"24": "n", "5": "ac", "6": "ax"}[c.band],
            "key_mgmt": "WPA2-PSK/CCMP",
            "channel": c.channel,
            "vlan_id": 12,
            "rssi": round(c.rssi),
            "snr": round(c.snr),
            "tx_rate": 866.7,
            "rx_rate": 780.0,
            "tx_bytes": c.tx_bytes,
            "tx_bps": c.tx_bps,
            "tx_packets": c.tx_packets,
            "tx_retries": c.tx_retries,
            "rx_bytes": c.rx_bytes,
            "rx_bps": c.rx_bps,
            "rx_packets": c.rx_packets,
            "rx_retries": c.rx_retries,
            "map_id": c.ap.map_id,
            "x": round(c.x, 1),
            "y": round(c.y, 1),
            "num_locating_aps": 3,
            "accuracy": 4,
            "is_guest": c.ssid == "guest",
            "_time": round(now, 5),
        }

    def _location_payload(self, c: WifiClient) -> dict[str, Any]:
        return {
            "mac": c.mac,
            "map_id": c.ap.map_id,
            "x": round(c.x * 10, 1),
            "y": round(c.y * 10, 1),
            "x_m": round(c.x, 2),
            "y_m": round(c.y, 2),
            "num_locating_aps": 3,
            "accuracy": 4,
            "_time": round(self.now, 5),
        }

    def _mxedge_payload(self, edge: MxEdge) -> dict[str, Any]:
        return {
            "id": edge.id,
            "mac": edge.mac,
            "name": edge.name,
            "model": edge.model,
            "serial": edge.serial,
            "site_id": edge.site_id,
            "org_id": self.org_id,
            "status": "connected",
            "uptime": int(self.now - edge.boot_time),
            "last_seen": int(self.now),
            "cpu_stat": {"usage": round(edge.cpu, 1)},
            "memory_stat": {"usage": round(edge.mem, 1)},
            "tunterm_stat": {"num_tunnels": edge.tunnels, "num_aps": edge.tunnels},
            "port_stat": {
                "port0": {"up": True, "speed": 10_000, "tx_bytes": edge.tx_bytes, "rx_bytes": edge.rx_bytes},
            },
            "_time": round(self.now, 5),
        }

    def _located_payload(self, thing: Located) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "mac": thing.mac,
            "map_id": thing.map_id,
            "x": round(thing.x * 10, 1),
            "y": round(thing.y * 10, 1),
            "x_m": round(thing.x, 2),
            "y_m": round(thing.y, 2),
            "_time": round(self.now, 5),
        }
        if thing.kind == "sdkclients":
            payload = {"id": thing.id, "name": thing.name, **payload, "accuracy": 3}
            del payload["mac"]
        elif thing.kind == "assets":
            payload.update(
                name=thing.name,
                rssi=round(thing.rssi),
                manufacture=thing.manufacture,
                battery_voltage=3000 - (int(self.now) // 3600) % 400,
            )
        else:  # unconnected_clients, discovered_assets
            payload.update(rssi=round(thing.rssi), manufacture=thing.manufacture)
            if thing.kind == "unconnected_clients":
                site = self.site_by_id[thing.site_id]
                payload["ap_mac"] = site.aps[int(thing.x) % len(site.aps)].mac
        return payload

    def _insights_payload(self, site: MistSite) -> dict[str, Any]:
        connected = [d for d in site.aps if d.connected]
        clients = site.clients.values()
        weak = sum(1 for c in clients if c.rssi < -72)
        return {
            "org_id": self.org_id,
            "site_id": site.id,
            "site_name": site.name,
            "num_aps": len(site.aps),
            "num_aps_connected": len(connected),
            "num_switches": len(site.switches),
            "num_gateways": len(site.gateways),
            "num_clients": len(site.clients),
            "num_guests": sum(1 for c in clients if c.ssid == "guest"),
            "tx_bps": sum(c.tx_bps for c in clients),
            "rx_bps": sum(c.rx_bps for c in clients),
            "sle": {
                "coverage": round(100 * (1 - weak / max(1, len(site.clients))), 1),
                "ap_availability": round(100 * len(connected) / len(site.aps), 1),
                "capacity": round(100 - min(60.0, 2.0 * len(site.clients) / len(site.aps)), 1),
            },
            "_time": round(self.now, 5),
        }

    def _packet(self, capture: PacketCapture) -> dict[str, Any]:
        """One captured packet: a small UDP datagram, as a summary (``pcap_dict``) and base64 bytes (``pcap_raw``)."""
        rng = self.extra
        capture.sent += 1
        src, dst = rng.choice(capture.macs), rng.choice(capture.macs)
        src_ip, dst_ip = f"172.16.{rng.randrange(1, 254)}.{rng.randrange(2, 254)}", f"10.10.12.{rng.randrange(2, 60)}"
        sport, dport = rng.randrange(1024, 65535), rng.choice((53, 123, 443, 5353))
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(16, 64)))
        udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45, 0, 20 + len(udp), capture.sent, 0, 64, 17, 0,
            bytes(int(o) for o in src_ip.split(".")), bytes(int(o) for o in dst_ip.split(".")),
        )  # fmt: skip
        frame = (
            bytes.fromhex(dst[-12:].rjust(12, "0")) + bytes.fromhex(src[-12:].rjust(12, "0")) + b"\x08\x00" + ip + udp
        )
        return {
            "capture_id": capture.id,
            "pcap_dict": {
                "num": capture.sent,
                "timestamp": round(self.now, 6),
                "len": len(frame),
                "caplen": len(frame),
                "src_mac": src,
                "dst_mac": dst,
                "src_ip": src_ip,
                "dst_ip": dst_ip,
                "protocol": "UDP",
                "src_port": sport,
                "dst_port": dport,
            },
            "pcap_raw": base64.b64encode(frame).decode(),
        }
