"""Load and validate an inventory directory: the one way Python reads the fleet.

The inventory is an ordinary Ansible inventory directory::

    hosts.yml                      hosts under role groups (bbb, greenlight, ...)
    group_vars/all/*.yml           fleet_regions, fleet_plans, fleet_tenants
    group_vars/GROUP[.yml|/*.yml]  group variables
    host_vars/HOST[.yml|/*.yml]    per-host variables (fleet_region, fleet_provider, ...)

Variables merge like Ansible's (all < groups < host), which is enough for the keys the
fleet model reads. Every problem found is reported, each with its file, key and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError

from meetfleet.fleet.errors import InventoryError, Problem
from meetfleet.fleet.model import (
    HCLOUD_LOCATIONS,
    ROLE_GROUPS,
    BbbServer,
    CapacitySource,
    Fleet,
    HcloudSource,
    Host,
    Plan,
    PlacementPolicy,
    Region,
    ServerState,
    StaticSource,
    Tenant,
)
from meetfleet.fleet.yamlio import YamlDoc, read_yaml

INVENTORY_FILES = ("hosts.yml", "hosts.yaml")
# Fleet-wide keys: each defined once, in group_vars/all/.
FLEET_KEYS = ("fleet_regions", "fleet_plans", "fleet_tenants", "fleet_capacity_source", "fleet_placement_policy")
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$")


@dataclass
class Sourced:
    """A value and where it was written."""

    value: Any
    file: Path
    line: int | None

    def problem(self, key: str, message: str) -> Problem:
        return Problem(self.file, _at(key, self.line), message)


def _at(key: str, line: int | None) -> str:
    return f"{key} (line {line})" if line else key


@dataclass
class _Raw:
    """Everything read from the directory, before validation."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    host_groups: dict[str, set[str]] = field(default_factory=dict)
    group_depth: dict[str, int] = field(default_factory=dict)
    # vars per group and per host, each value with its source
    group_vars: dict[str, dict[str, Sourced]] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Sourced]] = field(default_factory=dict)
    # fleet_* keys: where each top-level key was defined (to refuse two definitions)
    fleet: dict[str, tuple[Sourced, YamlDoc]] = field(default_factory=dict)
    # names that exist but failed validation: their own problem is reported, so
    # references to them are not reported again
    invalid: set[str] = field(default_factory=set)


def load_inventory(directory: str | Path) -> Fleet:
    """Read, merge and validate the inventory in `directory`. Raises InventoryError."""
    raw = _read(directory)
    fleet = _build(raw)
    if raw.problems or fleet is None:
        raise InventoryError(raw.problems)
    return fleet


def host_variables(directory: str | Path, keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """Each host's merged value of `keys` (templates rendered), for the Python tools that
    need more than the fleet model, e.g. pyinfra's connection data. Validates first."""
    load_inventory(directory)
    raw = _read(directory)
    result: dict[str, dict[str, Any]] = {}
    for host in sorted(raw.host_groups):
        hv = _merged_host_vars(raw, host)
        _render_templates(raw, host, hv, lambda key: key in keys)
        result[host] = {key: hv[key].value for key in keys if key in hv}
    if raw.problems:
        raise InventoryError(raw.problems)
    return result


def host_groups(directory: str | Path) -> dict[str, set[str]]:
    """Every host and the inventory groups it belongs to (its parents included)."""
    return _read(directory).host_groups


def _read(directory: str | Path) -> _Raw:
    root = Path(directory)
    if not root.is_dir():
        raise InventoryError([Problem(root, "(directory)", "is not an inventory directory")])
    raw = _Raw(root)
    _read_hosts_file(raw)
    _read_vars_dir(raw, raw.root / "group_vars", raw.group_vars)
    _read_vars_dir(raw, raw.root / "host_vars", raw.host_vars)
    for host in raw.host_vars:
        if host not in raw.host_groups:
            raw.problems.append(
                Problem(raw.root / "host_vars", host, "has host_vars but is not in any group of hosts.yml")
            )
    if raw.problems:  # do not cross-check a half-read inventory
        raise InventoryError(raw.problems)
    return raw


# --- reading -------------------------------------------------------------------------


def _read_hosts_file(raw: _Raw) -> None:
    path = next((raw.root / n for n in INVENTORY_FILES if (raw.root / n).is_file()), None)
    if path is None:
        raw.problems.append(Problem(raw.root / "hosts.yml", "(file)", "is missing"))
        return
    doc = read_yaml(path)
    if isinstance(doc, Problem):
        raw.problems.append(doc)
        return
    if not isinstance(doc.data, dict) or "all" not in doc.data:
        raw.problems.append(Problem(path, "all", "the inventory must start with an 'all' group"))
        return
    _walk_group(raw, doc, "all", doc.data["all"] or {}, depth=0, parents=())


def _walk_group(
    raw: _Raw, doc: YamlDoc, group: str, body: Any, depth: int, parents: tuple[str, ...]
) -> None:
    if not isinstance(body, dict):
        raw.problems.append(Problem(doc.path, group, "a group must be a mapping"))
        return
    unknown = set(body) - {"hosts", "children", "vars"}
    for key in sorted(unknown):
        raw.problems.append(
            Problem(doc.path, _at(f"{group}.{key}", doc.line_of(body, key)),
                    "unknown key in a group (expected hosts, children or vars)")
        )
    raw.group_depth[group] = max(raw.group_depth.get(group, 0), depth)
    for key, value in (body.get("vars") or {}).items():
        raw.group_vars.setdefault(group, {})[key] = Sourced(
            value, doc.path, doc.line_of(body["vars"], key)
        )
    lineage = (*parents, group)
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        raw.problems.append(Problem(doc.path, f"{group}.hosts", "must be a mapping of host names"))
        hosts = {}
    for host, host_body in hosts.items():
        raw.host_groups.setdefault(str(host), set()).update(lineage)
        for key, value in (host_body or {}).items():
            raw.host_vars.setdefault(str(host), {})[key] = Sourced(
                value, doc.path, doc.line_of(host_body, key)
            )
    for child, child_body in (body.get("children") or {}).items():
        _walk_group(raw, doc, str(child), child_body or {}, depth + 1, lineage)


def _var_files(directory: Path) -> Iterator[tuple[str, Path]]:
    """(owner, file) for NAME.yml, NAME.yaml, NAME and NAME/*.yml in group_vars/host_vars."""
    if not directory.is_dir():
        return
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            for sub in sorted(entry.iterdir()):
                if sub.is_file() and sub.suffix in (".yml", ".yaml", ""):
                    yield entry.name, sub
        elif entry.suffix in (".yml", ".yaml"):
            yield entry.stem, entry
        elif entry.is_file() and entry.suffix == "":
            yield entry.name, entry


def _read_vars_dir(raw: _Raw, directory: Path, into: dict[str, dict[str, Sourced]]) -> None:
    for owner, path in _var_files(directory):
        doc = read_yaml(path)
        if isinstance(doc, Problem):
            raw.problems.append(doc)
            continue
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            raw.problems.append(Problem(path, "(file)", "must be a mapping of variables"))
            continue
        for key, value in doc.data.items():
            sourced = Sourced(value, path, doc.line_of(doc.data, key))
            if key in FLEET_KEYS:
                if owner != "all":
                    raw.problems.append(sourced.problem(key, "belongs in group_vars/all"))
                    continue
                if key in raw.fleet:
                    first = raw.fleet[key][0]
                    raw.problems.append(
                        sourced.problem(key, f"is defined twice (also in {first.file}); "
                                             "Ansible would silently keep one")
                    )
                    continue
                raw.fleet[key] = (sourced, doc)
            into.setdefault(owner, {})[key] = sourced


# --- building and cross-checking ------------------------------------------------------


def _validate(raw: _Raw, model: type[BaseModel], data: dict[str, Any],
              origin: Sourced, key_prefix: str, doc: YamlDoc | None = None,
              node: Any = None) -> Any:
    """Validate one item; map pydantic's errors onto inventory keys and lines."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            field_name = loc[0] if loc else ""
            key = ".".join([key_prefix, *loc]) if loc else key_prefix
            line = origin.line
            if doc is not None and field_name:
                line = doc.line_of(node, field_name) or line
            msg = err["msg"]
            if err["type"] == "missing":
                msg = "is required but missing"
            elif err["type"] == "extra_forbidden":
                msg = "is not a known key (typo?)"
            elif "input" in err and err["type"] != "missing":
                msg = f"{msg} (got {err['input']!r})"
            raw.problems.append(Problem(origin.file, _at(key, line), msg))
        return None


def _fleet_map(raw: _Raw, key: str) -> tuple[dict[str, Any], Sourced | None, YamlDoc | None]:
    entry = raw.fleet.get(key)
    if entry is None:
        return {}, None, None
    sourced, doc = entry
    if sourced.value is None:
        return {}, sourced, doc
    if not isinstance(sourced.value, dict):
        raw.problems.append(sourced.problem(key, "must be a mapping of names to settings"))
        return {}, sourced, doc
    return sourced.value, sourced, doc


def _named_items(raw: _Raw, key: str, model: type[BaseModel]) -> dict[str, Any]:
    mapping, sourced, doc = _fleet_map(raw, key)
    if sourced is None:
        if key != "fleet_tenants":
            raw.problems.append(Problem(raw.root / "group_vars/all", key, "is required but missing"))
        return {}
    items: dict[str, Any] = {}
    for name, body in mapping.items():
        line = doc.line_of(mapping, name) if doc else None
        item_origin = Sourced(body, sourced.file, line)
        if body is not None and not isinstance(body, dict):
            raw.problems.append(item_origin.problem(f"{key}.{name}", "must be a mapping"))
            continue
        data = {"name": str(name), **dict(body or {})}
        item = _validate(raw, model, data, item_origin, f"{key}.{name}", doc, body)
        if item is None:
            raw.invalid.add(str(name))
        else:
            items[str(name)] = item
    return items


def _merged_host_vars(raw: _Raw, host: str) -> dict[str, Sourced]:
    groups = sorted(raw.host_groups.get(host, set()), key=lambda g: (raw.group_depth[g], g))
    merged: dict[str, Sourced] = {}
    for group in groups:
        merged.update(raw.group_vars.get(group, {}))
    merged.update(raw.host_vars.get(host, {}))
    return merged


_JINJA = SandboxedEnvironment(undefined=StrictUndefined)


def _render_templates(raw: _Raw, name: str, hv: dict[str, Sourced], wanted: Callable[[str], bool]) -> None:
    """Render `{{ ... }}` in the wanted keys' values the way Ansible would, in place.

    The context is inventory_hostname, inventory_dir and the host's untemplated
    variables: enough for per-host URLs and paths, and never evaluates vault lookups.
    """
    context = {"inventory_hostname": name, "inventory_dir": str(raw.root.resolve())}
    context.update({k: s.value for k, s in hv.items()
                    if not (isinstance(s.value, str) and "{{" in s.value)})
    for key, sourced in hv.items():
        if wanted(key) and isinstance(sourced.value, str) and "{{" in sourced.value:
            try:
                rendered = _JINJA.from_string(sourced.value).render(context)
            except TemplateError as exc:
                raw.problems.append(sourced.problem(f"{name}.{key}", f"template error: {exc}"))
                continue
            hv[key] = Sourced(rendered, sourced.file, sourced.line)


def _build_host(raw: _Raw, name: str) -> Host | None:
    hv = _merged_host_vars(raw, name)
    _render_templates(raw, name, hv, lambda key: key.startswith("fleet_"))
    here = Sourced(None, raw.root / "hosts.yml", None)

    def value(key: str, default: Any = None) -> Any:
        return hv[key].value if key in hv else default

    def origin(key: str) -> Sourced:
        return hv.get(key, here)

    ok = True
    if not _NAME_RE.match(name):
        raw.problems.append(here.problem(name, "host name must be a lowercase DNS name"))
        ok = False
    roles = frozenset(g for g in raw.host_groups[name] if g in ROLE_GROUPS)
    region = value("fleet_region")
    if region is None:
        raw.problems.append(Problem(raw.root / "host_vars", f"{name}.fleet_region",
                                    "is required but missing (which region is this host in?)"))
        ok = False

    provider = value("fleet_provider")
    source: HcloudSource | StaticSource | None = None
    if provider == "hcloud":
        location = value("fleet_hcloud_location")
        if location not in HCLOUD_LOCATIONS:
            raw.problems.append(origin("fleet_hcloud_location").problem(
                f"{name}.fleet_hcloud_location",
                f"{location!r} is not a Hetzner Cloud location (known: "
                f"{', '.join(sorted(HCLOUD_LOCATIONS))}); Hetzner has no Canadian location, "
                "make such a host fleet_provider: static",
            ))
            ok = False
        else:
            data = {"location": location}
            for key in ("server_type", "image"):
                if f"fleet_hcloud_{key}" in hv:
                    data[key] = value(f"fleet_hcloud_{key}")
            source = _validate(raw, HcloudSource, data, origin("fleet_hcloud_location"),
                               f"{name}.fleet_hcloud")
    elif provider == "static":
        source = StaticSource()
    else:
        raw.problems.append(origin("fleet_provider").problem(
            f"{name}.fleet_provider",
            f"must be 'hcloud' or 'static' (got {provider!r})",
        ))
        ok = False

    bbb = None
    if "bbb" in roles:
        bbb = _build_bbb(raw, name, hv, origin)
        ok = ok and bbb is not None
    if not ok or source is None:
        return None
    return _validate(raw, Host, {
        "name": name, "region": region, "roles": roles, "address": value("ansible_host"),
        "source": source, "bbb": bbb,
    }, origin("fleet_region"), name)


def _build_bbb(raw: _Raw, name: str, hv: dict[str, Sourced], origin: Any) -> BbbServer | None:
    capacity = hv["fleet_bbb_capacity"].value if "fleet_bbb_capacity" in hv else None
    cpus = hv["fleet_bbb_cpus"].value if "fleet_bbb_cpus" in hv else None
    if capacity is None:
        if isinstance(cpus, int) and not isinstance(cpus, bool) and cpus > 0:
            capacity = BbbServer.capacity_from_cpus(cpus)
        else:
            what = "is missing" if cpus is None else f"cannot come from fleet_bbb_cpus={cpus!r}"
            raw.problems.append(Problem(
                origin("fleet_bbb_capacity").file, f"{name}.fleet_bbb_capacity",
                f"{what}: a BBB server needs a capacity in load units (or fleet_bbb_cpus, "
                "a positive CPU count, to derive one)",
            ))
            return None
    state = hv["fleet_bbb_state"].value if "fleet_bbb_state" in hv else "active"
    if state not in {s.value for s in ServerState}:
        raw.problems.append(origin("fleet_bbb_state").problem(
            f"{name}.fleet_bbb_state",
            f"unknown state {state!r} (one of: {', '.join(s.value for s in ServerState)})",
        ))
        return None
    data = {
        "capacity": capacity,
        "state": state,
        "api_url": hv["fleet_bbb_api_url"].value if "fleet_bbb_api_url" in hv
        else f"https://{name}/bigbluebutton/api",
    }
    if "fleet_bbb_checksum_algorithm" in hv:
        data["checksum_algorithm"] = hv["fleet_bbb_checksum_algorithm"].value
    bbb = _validate(raw, BbbServer, data, origin("fleet_bbb_capacity"), f"{name}.fleet_bbb")
    return bbb


def _build(raw: _Raw) -> Fleet | None:
    regions: dict[str, Region] = _named_items(raw, "fleet_regions", Region)
    plans: dict[str, Plan] = _named_items(raw, "fleet_plans", Plan)
    tenants: dict[str, Tenant] = _named_items(raw, "fleet_tenants", Tenant)
    hosts: dict[str, Host] = {}
    for name in sorted(raw.host_groups):
        host = _build_host(raw, name)
        if host is None:
            raw.invalid.add(name)
        else:
            hosts[name] = host

    for host in hosts.values():
        if host.region not in regions:
            where = _merged_host_vars(raw, host.name)["fleet_region"]
            raw.problems.append(where.problem(
                f"{host.name}.fleet_region",
                f"unknown region {host.region!r} (fleet_regions has: {', '.join(sorted(regions))})",
            ))

    tenants_file, tenants_doc = (raw.fleet["fleet_tenants"][0], raw.fleet["fleet_tenants"][1]) \
        if "fleet_tenants" in raw.fleet else (None, None)
    for tenant in tenants.values():
        line = tenants_doc.line_of(tenants_file.value, tenant.name) if tenants_doc else None
        where = Sourced(None, tenants_file.file if tenants_file else raw.root, line)
        for problem in _tenant_problems(tenant, regions, plans, hosts):
            if getattr(tenant, problem[0]) in raw.invalid:
                continue
            raw.problems.append(where.problem(f"fleet_tenants.{tenant.name}.{problem[0]}", problem[1]))

    capacity_source = _fleet_setting(raw, "fleet_capacity_source", CapacitySource)
    policy = _fleet_policy(raw)
    if raw.problems:
        return None
    return Fleet(regions=regions, plans=plans, hosts=hosts, tenants=tenants,
                 capacity_source=capacity_source, placement_policy=policy)


def _fleet_setting(raw: _Raw, key: str, model: type[BaseModel]) -> Any:
    """A fleet-wide mapping validated as `model`; None when the key is absent."""
    entry = raw.fleet.get(key)
    if entry is None or entry[0].value is None:
        return None
    sourced, doc = entry
    if not isinstance(sourced.value, dict):
        raw.problems.append(sourced.problem(key, "must be a mapping"))
        return None
    return _validate(raw, model, dict(sourced.value), sourced, key, doc, sourced.value)


def _fleet_policy(raw: _Raw) -> PlacementPolicy:
    entry = raw.fleet.get("fleet_placement_policy")
    if entry is None or entry[0].value is None:
        return PlacementPolicy.MOST_SPARE
    value = entry[0].value
    if value not in {p.value for p in PlacementPolicy}:
        raw.problems.append(entry[0].problem("fleet_placement_policy", f"unknown policy {value!r} (one of: "
                                             f"{', '.join(p.value for p in PlacementPolicy)})"))
        return PlacementPolicy.MOST_SPARE
    return PlacementPolicy(value)


def _tenant_problems(tenant: Tenant, regions: dict[str, Region], plans: dict[str, Plan],
                     hosts: dict[str, Host]) -> Iterator[tuple[str, str]]:
    if tenant.plan not in plans:
        yield "plan", f"unknown plan {tenant.plan!r} (fleet_plans has: {', '.join(sorted(plans))})"
    if tenant.region not in regions:
        yield "region", f"unknown region {tenant.region!r} (fleet_regions has: {', '.join(sorted(regions))})"
    if tenant.bbb_server is not None:
        server = hosts.get(tenant.bbb_server)
        if server is None or server.bbb is None:
            yield "bbb_server", f"{tenant.bbb_server!r} is not a BBB server of this inventory"
        elif server.region != tenant.region:
            yield "bbb_server", (f"{tenant.bbb_server!r} is in region {server.region!r}, "
                                 f"the tenant in {tenant.region!r}")
        elif server.bbb.state == ServerState.RETIRED:
            yield "bbb_server", f"{tenant.bbb_server!r} is retired and can hold no tenant"
    if tenant.greenlight is not None:
        front = hosts.get(tenant.greenlight)
        if front is None or "greenlight" not in front.roles:
            yield "greenlight", f"{tenant.greenlight!r} is not a host in the greenlight group"
