"""The inbound ports base's nftables firewall opens on a host of a kind, read as base reads
them (roles/base/templates/firewall_declared.yml.j2, roles/base/README.md "How a role
declares its ports"): SSH (`base_ssh_port`, `base_ssh_allowed_sources`), the node exporter
for the monitoring hosts, and every `ROLE_firewall_ports` of the play's roles' defaults and
vars, with the inventory's values of those roles' variables over the defaults.

Which roles a kind's play runs is read from the playbooks (the play on `hosts: KIND` in
playbooks/*.yml; roles applied only in the lab, `when: fleet_lab ...`, left out); a kind no
play names gets base alone (playbooks/base.yml). The declarations are Jinja expressions: they
are evaluated here with Jinja's native types and the few Ansible filters they use
(combine, community.general.dict_kv, bool). Reading role files is the only I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, meta
from jinja2.nativetypes import NativeEnvironment

ANY_SOURCE = ("0.0.0.0/0", "::/0")
DECLARATION = re.compile(r"^[a-z][a-z0-9_]*_firewall_ports$")


class PortsError(Exception):
    """A declaration that cannot be read (a role file, an expression, a malformed entry)."""


@dataclass(frozen=True)
class PortRule:
    """One inbound rule: `port` a number or LOW-HIGH (a string, as Hetzner takes it)."""

    protocol: str
    port: str | None
    sources: tuple[str, ...]
    declared_by: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "port": self.port, "sources": list(self.sources),
                "declared_by": list(self.declared_by)}


@dataclass
class KindPorts:
    kind: str
    roles: tuple[str, ...]
    rules: list[PortRule]
    notes: list[str] = field(default_factory=list)


def _combine(*dicts: Any) -> dict:
    out: dict = {}
    for d in dicts:
        out.update(d or {})
    return out


def _environment() -> NativeEnvironment:
    env = NativeEnvironment(undefined=StrictUndefined)
    env.filters["combine"] = _combine
    env.filters["community.general.dict_kv"] = lambda value, key: {key: value}
    env.filters["bool"] = lambda v: v if isinstance(v, bool) else str(v).strip().lower() in ("yes", "true", "1", "on")
    return env


class Variables:
    """Variables as Ansible resolves them lazily: a templated value is rendered when read."""

    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.env = _environment()
        self._done: dict[str, Any] = {}
        self._busy: set[str] = set()

    def get(self, name: str) -> Any:
        if name in self._done:
            return self._done[name]
        if name not in self.values:
            raise PortsError(f"variable {name} is not defined")
        if name in self._busy:
            raise PortsError(f"variable {name} refers to itself")
        self._busy.add(name)
        try:
            value = self.resolve(self.values[name], name)
        finally:
            self._busy.discard(name)
        self._done[name] = value
        return value

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            try:
                tree = self.env.parse(value)
                context = {n: self.get(n) for n in meta.find_undeclared_variables(tree) if n in self.values}
                return self.env.from_string(value).render(**context)
            except PortsError:
                raise
            except Exception as exc:  # a Jinja error of any kind: name the variable
                raise PortsError(f"{where}: cannot evaluate {value[:80]!r}: {exc}") from None
        if isinstance(value, list):
            return [self.resolve(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v, where) for k, v in value.items()}
        return value


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is not None and not isinstance(data, dict):
        raise PortsError(f"{path}: must be a mapping of variables")
    return data or {}


def play_roles(project: Path, kind: str) -> tuple[str, ...]:
    """The roles of the play on `hosts: KIND` in playbooks/*.yml (lab-only roles left out;
    playbooks/KIND.yml first); base alone when no playbook has one."""
    playbooks = sorted((project / "playbooks").glob("*.yml"), key=lambda p: (p.stem != kind, p.name))
    for path in playbooks:
        plays = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for play in plays if isinstance(plays, list) else []:
            if not (isinstance(play, dict) and play.get("hosts") == kind):
                continue
            names = []
            for entry in play.get("roles") or []:
                role = entry if isinstance(entry, dict) else {"role": entry}
                if "fleet_lab" in str(role.get("when", "")):
                    continue
                names.append(str(role.get("role") or role.get("name")))
            return tuple(names) if "base" in names else ("base", *names)
    return ("base",)


def role_variables(project: Path, roles: tuple[str, ...]) -> dict[str, Any]:
    """Every role's defaults, then every role's vars (higher precedence in Ansible)."""
    merged: dict[str, Any] = {}
    for role in roles:
        merged.update(_load_yaml(project / "roles" / role / "defaults" / "main.yml"))
    return merged


def role_vars(project: Path, roles: tuple[str, ...]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for role in roles:
        merged.update(_load_yaml(project / "roles" / role / "vars" / "main.yml"))
    return merged


def _network(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise PortsError(f"{where}: {str(value)[:80]!r} is not an IP address or CIDR") from None


def kind_ports(project: Path, kind: str, inventory_values: Callable[[list[str]], dict[str, Any]],
               monitoring_addresses: list[str]) -> KindPorts:
    """What base opens on a host of `kind`. `inventory_values(keys)`: the inventory's values of
    those keys for the host (they override role defaults; role vars override them)."""
    roles = play_roles(project, kind)
    defaults = role_variables(project, roles)
    fixed = role_vars(project, roles)
    from_inventory = inventory_values(sorted(set(defaults) | set(fixed)))
    values = {**defaults, **from_inventory, **fixed}
    given = values.get("base_node_exporter_allowed_sources")
    if given is None:
        # base's check phase sets it from the monitoring hosts (resolved on the host); other
        # roles read it too (keycloak's management port)
        values["base_node_exporter_allowed_sources"] = list(monitoring_addresses)
    variables = Variables(values)
    notes: list[str] = []

    entries: list[tuple[str, dict[str, Any]]] = []
    ssh: dict[str, Any] = {"port": variables.get("base_ssh_port"), "proto": "tcp"}
    if variables.get("base_ssh_allowed_sources"):
        ssh["sources"] = variables.get("base_ssh_allowed_sources")
    entries.append(("base_ssh_port", ssh))
    if variables.get("base_node_exporter_enabled"):
        sources = variables.get("base_node_exporter_allowed_sources")
        if sources:
            entries.append(("base_node_exporter_port", {"port": variables.get("base_node_exporter_port"),
                                                        "proto": "tcp", "sources": sources}))
        else:
            notes.append("node exporter port not opened: no monitoring host with an IP address as ansible_host "
                         "(base resolves them on the host; give base_node_exporter_allowed_sources)")
    for name in sorted(n for n in values if DECLARATION.match(n) and n != "base_firewall_ports"):
        declared = variables.get(name)
        if not isinstance(declared, list):
            raise PortsError(f"{name}: is not a list of {{port, proto, sources}} entries")
        entries.extend((name, entry) for entry in declared)
    for entry in variables.get("base_firewall_ports") or []:
        entries.append(("base_firewall_ports", entry))

    rules: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for by, entry in entries:
        if not isinstance(entry, dict) or "port" not in entry:
            raise PortsError(f"{by}: an entry is not a mapping with a port: {str(entry)[:80]}")
        proto = str(entry.get("proto", "tcp"))
        if proto not in ("tcp", "udp"):
            raise PortsError(f"{by}: proto {proto!r} is not tcp or udp")
        port = str(entry["port"]).strip()
        if not re.fullmatch(r"\d{1,5}(-\d{1,5})?", port):
            raise PortsError(f"{by}: port {port[:80]!r} is not a number or LOW-HIGH")
        sources = tuple(sorted({_network(s, by) for s in entry.get("sources") or []})) or ANY_SOURCE
        rules.setdefault((proto, port, sources), [])
        if by not in rules[(proto, port, sources)]:
            rules[(proto, port, sources)].append(by)
    ordered = [PortRule(p, port, s, tuple(by)) for (p, port, s), by in rules.items()]
    # base accepts ICMP and ICMPv6 from anywhere
    ordered.append(PortRule("icmp", None, ANY_SOURCE, ("base (icmp)",)))
    return KindPorts(kind, roles, ordered, notes)
