"""A seeded Forcepoint SMC estate that evolves tick by tick: engines and their nodes, VPNs, tunnels, endpoints.

Pure state, no I/O. Elements are addressed by their path below the API base
(``/7.2/elements/single_fw/1649/firewall_node/1650``); the server adds its own base URL to make hrefs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENGINE_CONTEXTS", "SmcWorld"]

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
class SmcLink:
    """A tunnel or one of its endpoints: the VPN health figures drift on every tick."""

    id: int
    name: str
    path: str
    health: float
    latency: float
    jitter: float
    loss: float
    traffic: float
    children: list[SmcLink] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class SmcVpn:
    id: int
    name: str
    path: str
    tunnels: list[SmcLink] = field(default_factory=list)


class SmcWorld:
    """A deterministic SMC estate.

    Args:
        seed: the scenario's seed.
        version: the API version in element paths.
        engines: single firewalls; clusters: firewall clusters of ``cluster_nodes`` nodes each.
        vpns: policy VPNs of ``tunnels`` tunnels each (two endpoints per tunnel).
        flap_rate: chance per node per tick of a state change (offline, fail-over ...).
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
        link_id = 20000 + self.rng.randrange(1000)
        for v in range(vpns):
            vpn = SmcVpn(5 + v, f"vpn-{v + 1}", f"{elements}/vpn/{5 + v}")
            for t in range(tunnels):
                tunnel = self._link(link_id, f"{vpn.name} tunnel {t + 1}", f"{vpn.path}/tunnels/{link_id}")
                for e in range(2):
                    eid = link_id + 1 + e
                    tunnel.children.append(
                        self._link(eid, f"{tunnel.name} endpoint {'ab'[e]}", f"{tunnel.path}/endpoints/{eid}")
                    )
                vpn.tunnels.append(tunnel)
                link_id += 3
            self.vpns.append(vpn)
        self._by_path: dict[str, Any] = {}
        for engine in self.engines:
            self._by_path[engine.path] = engine
            self._by_path.update((node.path, node) for node in engine.nodes)
        for vpn in self.vpns:
            self._by_path[vpn.path] = vpn
            for tunnel in vpn.tunnels:
                self._by_path[tunnel.path] = tunnel
                self._by_path.update((ep.path, ep) for ep in tunnel.children)

    def _link(self, id_: int, name: str, path: str) -> SmcLink:
        rng = self.rng
        return SmcLink(
            id_,
            name,
            path,
            health=rng.uniform(90, 100),
            latency=rng.uniform(5, 60),
            jitter=rng.uniform(0.5, 5),
            loss=rng.uniform(0, 20),
            traffic=rng.uniform(1e5, 5e7),
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

    def elements(self, kind: str) -> list[dict[str, str]]:
        """The REST listing of one element type: name, path and type of each."""
        if kind == "vpn":
            return [{"name": v.name, "path": v.path, "type": "vpn"} for v in self.vpns]
        return [{"name": e.name, "path": e.path, "type": e.type} for e in self.engines if e.type == kind]

    def status(self, path: str) -> dict[str, Any]:
        """The status object of one element (hrefs in ``result`` are paths; the server makes them absolute)."""
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
                "result": [{"href": t.path, "name": t.name, "type": "tunnel"} for t in obj.tunnels],
            }
        link: SmcLink = obj
        return {
            "name": link.name,
            "monitoring_state": "READY",
            "monitoring_status": _vpn_status(link.health),
            "vpn_status_code": _vpn_code(link.health),
            "health_in_percent": round(link.health),
            "traffic_in_bits_per_sec": round(link.traffic),
            "packet_loss_in_permyriad": round(link.loss),
            "latency_in_ms": round(link.latency, 1),
            "jitter_in_ms": round(link.jitter, 2),
            "result": [{"href": c.path, "name": c.name, "type": "tunnel_endpoint"} for c in link.children],
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


def _vpn_status(health: float) -> str:
    return "OK" if health >= 80 else "WARNING" if health >= 40 else "ERROR"


def _vpn_code(health: float) -> int:
    return 0 if health >= 80 else 1 if health >= 40 else 2
