"""A seeded Forcepoint SMC estate that evolves tick by tick: engines and their nodes, VPNs, tunnels, endpoints.

Pure state, no I/O. Elements are addressed by their path below the API base
(``/7.2/elements/single_fw/1649/firewall_node/1650``); the server adds its own base URL to make hrefs.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ELEMENT_KINDS", "ENGINE_CONTEXTS", "SmcWorld"]

#: Status-socket contexts for engine families (both spellings the protocol notes mention), by REST type.
ENGINE_CONTEXTS: dict[str, str] = {
    "fw_single": "single_fw",
    "single_fw": "single_fw",
    "fw_cluster": "fw_cluster",
    "cluster_fw": "fw_cluster",
    "virtual_fw": "virtual_fw",
    "fw_virtual": "virtual_fw",
    "single_ips": "single_ips",
    "virtual_ips": "virtual_ips",
    "single_layer2": "single_layer2",
    "layer2_cluster": "layer2_cluster",
    "master_engine": "master_engine",
    "cloud_single_fw": "cloud_single_fw",
}
NODE_OK = {
    "Online": "OK",
    "Standby": "OK",
    "Going Online": "WARNING",
    "Locked Online": "WARNING",
    "Offline": "ERROR",
    "No Policy Installed": "WARNING",
}
CITIES = ("berlin", "paris", "madrid", "oslo", "rome", "vienna", "lisbon", "dublin", "prague", "warsaw")
#: VPN gateway sites (the SMC API guide's example VPN has a Helsinki hub).
GATEWAY_SITES = (
    "Helsinki", "Paris", "Tunis", "Moscow", "London", "Beijing", "Milan", "Atlanta", "Algiers", "Mexico City",
    "Riyadh", "Madrid",
)  # fmt: skip
VPN_NAMES = ("Corporate VPN", "Partner VPN", "Branch VPN", "Lab VPN")
#: Engine element types the REST API lists (entry point names); composite filter contexts map to several.
ENGINE_KINDS = (
    "single_fw", "fw_cluster", "virtual_fw", "single_ips", "virtual_ips", "single_layer2", "layer2_cluster",
    "master_engine", "cloud_single_fw",
)  # fmt: skip
#: Every element listing the simulated REST API answers: entry points and ``filter_context`` values.
ELEMENT_KINDS = (*ENGINE_KINDS, "engine_clusters", "fw_clusters", "vpn")


def tunnel_id(*parts: int) -> str:
    """The SMC's id of a tunnel or endpoint: base64 of its parts joined by ``#`` (``MiM1OQ==`` is ``2#59``)."""
    return base64.b64encode("#".join(map(str, parts)).encode()).decode()


@dataclass(slots=True, eq=False)
class SmcNode:
    id: int
    name: str
    path: str
    state: str
    version: str
    dyn_up: str
    platform: str = "x86-64-small"


@dataclass(slots=True, eq=False)
class SmcEngine:
    id: int
    type: str
    name: str
    path: str
    nodes: list[SmcNode] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class SmcGateway:
    id: int
    name: str


@dataclass(slots=True, eq=False)
class SmcLink:
    """A gateway tunnel or one of its endpoints (at ``gateway``): the VPN health figures drift on every tick."""

    id: str
    name: str
    path: str
    health: float
    latency: float
    jitter: float
    loss: float
    traffic: float
    gateway: SmcGateway | None = None
    children: list[SmcLink] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class SmcVpn:
    id: int
    name: str
    path: str
    gateways: list[SmcGateway] = field(default_factory=list)
    tunnels: list[SmcLink] = field(default_factory=list)

    def tunnels_of(self, gateway: SmcGateway | None) -> list[SmcLink]:
        """The gateway tunnels one of whose endpoints is at ``gateway``."""
        return [t for t in self.tunnels if any(ep.gateway is gateway for ep in t.children)]


class SmcWorld:
    """A deterministic SMC estate.

    Args:
        seed: the scenario's seed.
        version: the API version in element paths.
        engines: single firewalls; clusters: firewall clusters of ``cluster_nodes`` nodes each.
        vpns: policy VPNs of ``tunnels`` gateway tunnels each, hub and spokes (two endpoints per tunnel, one
            at each gateway). Tunnel and endpoint ids are base64 as on an SMC (``tunnels/MiM1OQ==``).
        flap_rate: chance per node per tick of a state change (offline, fail-over ...).

    Pure: :meth:`tick` advances one step and says which elements' status changed.

    >>> world = SmcWorld(seed=1)
    >>> world.context_members("fw_single")[0]
    '/7.2/elements/single_fw/1617/firewall_node/1618'
    >>> world.status("/7.2/elements/single_fw/1617")["name"], isinstance(world.tick(), set)
    ('fw-berlin', True)
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        version: str = "7.2",
        engines: int = 3,
        clusters: int = 1,
        cluster_nodes: int = 2,
        vpns: int = 1,
        tunnels: int = 3,
        flap_rate: float = 0.01,
    ) -> None:
        if min(engines, clusters, vpns, tunnels) < 0 or cluster_nodes < 1:
            raise ValueError("sizes: zero or more engines, clusters, VPNs and tunnels; clusters need a node")
        self.rng = random.Random(seed)
        self.version = version
        self.flap_rate = flap_rate
        self.ticks = 0
        self.engines: list[SmcEngine] = []
        self.vpns: list[SmcVpn] = []
        next_id = 1600 + self.rng.randrange(100)
        elements = f"/{version}/elements"
        for i in range(engines + clusters):
            single = i < engines
            kind = "single_fw" if single else "fw_cluster"
            name = f"fw-{CITIES[i % len(CITIES)]}{'' if i < len(CITIES) else i}" + ("" if single else "-cluster")
            engine = SmcEngine(next_id, kind, name, f"{elements}/{kind}/{next_id}")
            for n in range(1 if single else cluster_nodes):
                nid = next_id + 1 + n
                state = "Online" if single or n == 0 else "Standby"
                engine.nodes.append(
                    SmcNode(
                        nid,
                        f"{name} node {n + 1}",
                        f"{engine.path}/firewall_node/{nid}",
                        state,
                        self.rng.choice(("7.1.2", "7.2.0", "7.2.1")),
                        str(self.rng.randrange(1000, 2000)),
                    )
                )
            self.engines.append(engine)
            next_id += 10 + self.rng.randrange(40)
        gateway_id = 50 + self.rng.randrange(20)
        endpoint_id = 100 + self.rng.randrange(50)
        for v in range(vpns):
            vpn = SmcVpn(5 + v, VPN_NAMES[v % len(VPN_NAMES)] + ("" if v < len(VPN_NAMES) else f" {v}"),
                         f"{elements}/vpn/{5 + v}")  # fmt: skip
            for g in range(tunnels + 1):  # a hub and one spoke per tunnel
                site = GATEWAY_SITES[(v + g) % len(GATEWAY_SITES)]
                vpn.gateways.append(SmcGateway(gateway_id, f"{site} VPN Gateway"))
                gateway_id += 1 + self.rng.randrange(3)
            hub = vpn.gateways[0]
            for spoke in vpn.gateways[1:]:
                first, second = sorted((hub, spoke), key=lambda gw: gw.id)
                tid = tunnel_id(first.id, second.id)
                tunnel = self._link(tid, f"Gateway Tunnel {first.name}-{second.name}", f"{vpn.path}/tunnels/{tid}")
                for side, gateway in enumerate((first, second), start=1):
                    eid = tunnel_id(side, endpoint_id)
                    endpoint_id += 1
                    endpoint = self._link(eid, f"{gateway.name} endpoint", f"{tunnel.path}/endpoints/{eid}")
                    endpoint.gateway = gateway
                    tunnel.children.append(endpoint)
                vpn.tunnels.append(tunnel)
            self.vpns.append(vpn)
        self._vpn_of: dict[str, SmcVpn] = {}
        self._by_path: dict[str, Any] = {}
        for engine in self.engines:
            self._by_path[engine.path] = engine
            self._by_path.update((node.path, node) for node in engine.nodes)
        for vpn in self.vpns:
            self._by_path[vpn.path] = vpn
            for tunnel in vpn.tunnels:
                self._by_path[tunnel.path] = tunnel
                self._by_path.update((ep.path, ep) for ep in tunnel.children)
                self._vpn_of.update((link.path, vpn) for link in (tunnel, *tunnel.children))

    def _link(self, id_: str, name: str, path: str) -> SmcLink:
        rng = self.rng
        return SmcLink(
            id_,
            name,
            path,
            health=rng.uniform(90, 100),
            latency=rng.uniform(5, 60),
            jitter=rng.uniform(0.5, 5),
            loss=rng.uniform(0, 20),
            traffic=rng.uniform(1e6, 2e9),
        )

    # -- lookups -------------------------------------------------------------------------------------------

    @property
    def paths(self) -> list[str]:
        return list(self._by_path)

    def exists(self, path: str) -> bool:
        return path in self._by_path

    def context_members(self, context: str) -> list[str] | None:
        """Paths of the nodes a context subscription reports on; ``None`` for an unknown context."""
        kind = ENGINE_CONTEXTS.get(context)
        if kind is None:
            return None
        return [node.path for engine in self.engines if engine.type == kind for node in engine.nodes]

    def elements(self, kind: str) -> list[dict[str, str]] | None:
        """The REST listing of an element type or composite filter context (``engine_clusters``, ``fw_clusters``):
        name, path and type of each; ``None`` for a kind the simulator does not know."""
        if kind == "vpn":
            return [{"name": v.name, "path": v.path, "type": "vpn"} for v in self.vpns]
        if kind == "engine_clusters":
            kinds: tuple[str, ...] = ENGINE_KINDS
        elif kind == "fw_clusters":
            kinds = ("fw_cluster",)
        elif kind in ENGINE_KINDS:
            kinds = (kind,)
        else:
            return None
        return [{"name": e.name, "path": e.path, "type": e.type} for e in self.engines if e.type in kinds]

    def document(self, path: str) -> dict[str, Any] | None:
        """The REST representation of one element (what ``GET href`` answers), hrefs as paths; ``None`` if there
        is no such element. Shaped as the SMC answers: the element's fields and a ``link`` list whose ``self``
        entry carries its type (what the official client reads to pick a class)."""
        obj = self._by_path.get(path)
        if obj is None:
            return None

        def link(href: str, type_: str) -> list[dict[str, str]]:
            return [{"href": href, "rel": "self", "type": type_}]

        if isinstance(obj, SmcEngine):
            node_type = "firewall_node"
            return {
                "name": obj.name,
                "key": obj.id,
                "comment": None,
                "nodes": [
                    {node_type: {"name": n.name, "nodeid": i, "key": n.id, "link": link(n.path, node_type)}}
                    for i, n in enumerate(obj.nodes, start=1)
                ],
                "link": link(obj.path, obj.type),
            }
        if isinstance(obj, SmcNode):
            return {"name": obj.name, "key": obj.id, "disabled": False, "link": link(obj.path, "firewall_node")}
        if isinstance(obj, SmcVpn):
            return {
                "name": obj.name,
                "key": obj.id,
                "vpn_profile": None,
                "link": link(obj.path, "vpn"),
            }
        kind = "tunnel_endpoint" if obj.gateway is not None else "gateway_tunnel"
        doc: dict[str, Any] = {"name": obj.name, "key": obj.id, "link": link(obj.path, kind)}
        if obj.children:
            doc["endpoints"] = [{"href": ep.path, "name": ep.name, "type": "tunnel_endpoint"} for ep in obj.children]
        return doc

    def status(self, path: str) -> dict[str, Any]:
        """The status object of one element (hrefs in ``result`` are paths; the server makes them absolute).

        Keys are sorted and figures are integers, as the SMC sends them (see the API guide's example);
        ``vpn_status_code`` is a status string (``"Idle"``, ``"Warning"``, ``"Error"``).
        """
        return dict(sorted(self._status(path).items()))

    def _status(self, path: str) -> dict[str, Any]:
        obj = self._by_path[path]
        if isinstance(obj, SmcNode):
            return {
                "name": obj.name,
                "monitoring_state": "READY",
                "monitoring_status": NODE_OK[obj.state],
                "engine_node_status": obj.state,
                "installed_policy": "Standard Firewall Policy",
                "configuration_status": "Installed" if obj.state != "No Policy Installed" else "Initial",
                "platform": obj.platform,
                "version": obj.version,
                "dyn_up": obj.dyn_up,
                "master_node": "mgmt-server",
                "result": [],
            }
        if isinstance(obj, SmcEngine):
            worst = max((NODE_OK[n.state] for n in obj.nodes), key=("OK", "WARNING", "ERROR").index)
            return {
                "name": obj.name,
                "monitoring_state": "READY",
                "monitoring_status": worst,
                "result": [{"href": n.path, "name": n.name, "type": "firewall_node"} for n in obj.nodes],
            }
        if isinstance(obj, SmcVpn):
            health = min((t.health for t in obj.tunnels), default=100.0)
            return {
                "name": obj.name,
                "monitoring_state": "READY",
                "monitoring_status": _vpn_status(health),
                "vpn_status_code": _vpn_code(health),
                "health_in_percent": round(health),
                "result": _gateway_tunnels(obj.tunnels),
            }
        link: SmcLink = obj
        if link.gateway is not None:  # an endpoint: named after its VPN, lists its gateway's tunnels (as the guide)
            vpn = self._vpn_of[link.path]
            name, result = vpn.name, _gateway_tunnels(vpn.tunnels_of(link.gateway))
        else:
            name = link.name
            result = [{"href": c.path, "name": c.name, "type": "tunnel_endpoint"} for c in link.children]
        return {
            "name": name,
            "monitoring_state": "READY",
            "monitoring_status": _vpn_status(link.health),
            "vpn_status_code": _vpn_code(link.health),
            "health_in_percent": round(link.health),
            "traffic_in_bits_per_sec": round(link.traffic),
            "packet_loss_in_permyriad": round(link.loss),
            "latency_in_ms": round(link.latency),
            "jitter_in_ms": round(link.jitter),
            "result": result,
        }

    # -- evolution -----------------------------------------------------------------------------------------

    def tick(self) -> set[str]:
        """Advance one step; returns the paths whose status changed."""
        self.ticks += 1
        rng = self.rng
        changed: set[str] = set()
        for engine in self.engines:
            for node in engine.nodes:
                roll = rng.random()
                before = node.state
                if node.state == "Offline":
                    node.state = "Going Online" if roll < 0.3 else "Offline"
                elif node.state == "Going Online" and roll < 0.5:  # back as the standby if a peer took over
                    active = any(n.state == "Online" for n in engine.nodes if n is not node)
                    node.state = "Standby" if active else "Online"
                elif roll < self.flap_rate:
                    if node.state == "Online" and len(engine.nodes) > 1:  # fail-over to the standby
                        node.state = "Offline"
                        for other in engine.nodes:
                            if other is not node and other.state == "Standby":
                                other.state = "Online"
                                changed.update((other.path, engine.path))
                                break
                    else:
                        node.state = "Offline"
                elif node.state == "Online" and len(engine.nodes) > 1 and rng.random() < 0.002:
                    node.state = "Standby"
                if node.state != before:
                    node.dyn_up = str(int(node.dyn_up) + 1)
                    changed.update((node.path, engine.path))
            if len(engine.nodes) > 1 and not any(n.state == "Online" for n in engine.nodes):
                for node in engine.nodes:
                    if node.state == "Standby":
                        node.state = "Online"
                        changed.update((node.path, engine.path))
                        break
        for vpn in self.vpns:
            for tunnel in vpn.tunnels:
                degraded = rng.random() < 0.02
                for link in (tunnel, *tunnel.children):
                    self._drift(link, degraded)
                    changed.add(link.path)
            changed.add(vpn.path)
        return changed

    def _drift(self, link: SmcLink, degraded: bool) -> None:
        rng = self.rng
        target = rng.uniform(20, 60) if degraded else 98.0
        link.health = min(100.0, max(0.0, link.health + (target - link.health) * 0.3 + rng.gauss(0, 1)))
        link.latency = max(0.5, link.latency + rng.gauss(0, 2) + (15 if degraded else 0))
        link.latency += (25 - link.latency) * 0.05
        link.jitter = max(0.05, link.jitter + rng.gauss(0, 0.3))
        link.loss = max(0.0, link.loss * 0.8 + (rng.uniform(100, 800) if degraded else rng.uniform(0, 5)))
        link.traffic = max(0.0, link.traffic * rng.uniform(0.85, 1.15))


def _gateway_tunnels(tunnels: list[SmcLink]) -> list[dict[str, str]]:
    return [{"href": t.path, "name": t.name, "type": "gateway_tunnel"} for t in tunnels]


def _vpn_status(health: float) -> str:
    return "OK" if health >= 60 else "WARNING" if health >= 30 else "ERROR"


def _vpn_code(health: float) -> str:
    # "Idle" for a healthy endpoint is what the API guide's example shows; the others are our reading
    return "Idle" if health >= 60 else "Warning" if health >= 30 else "Error"
