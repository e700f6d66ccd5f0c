"""`lab up`: make whatever the lab is missing, then wait until every host answers SSH.

Each step reports `present` (nothing to do), `created`, `started`, `updated` or
`recreated`, so a second run shows at a glance that it changed nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from meetfleet.greenlight import fleet_secret_variables
from meetfleet.lab.containers_conf import ensure_containers_conf
from meetfleet.lab.hosts import SECRETS_LABEL, LabHost, LabInventory
from meetfleet.lab.image import ensure_image
from meetfleet.lab.podman import STALE, LabError, container_state, exists, inspect_container, podman, require_tool
from meetfleet.lab.settings import LABEL_KEY, MOLECULE_CONTAINER_PREFIX, LabSettings
from meetfleet.lab.ssh import answers_ssh, ensure_key_pair, public_key_of
from meetfleet.lab.trust import install_trust, machine_pip_bundle
from meetfleet.lab.vault import ensure_vault, required_keys, secrets_id
from meetfleet.sso.realm import realm_of

Progress = Callable[[str], None]

# Appends the key read on stdin to authorized_keys unless it is there; says which.
_INSTALL_KEY = (
    'umask 077; mkdir -p "$HOME/.ssh"; f="$HOME/.ssh/authorized_keys"; touch "$f"; k="$(cat)"; '
    'if grep -qxF "$k" "$f"; then echo present; else printf "%s\\n" "$k" >> "$f"; echo added; fi'
)


@dataclass(frozen=True)
class Step:
    item: str
    outcome: str  # present, created, started, updated, recreated, removed
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"item": self.item, "outcome": self.outcome, "detail": self.detail}


def lab_up(inventory: LabInventory, settings: LabSettings, progress: Progress,
           wait_seconds: float = 180.0) -> list[Step]:
    steps = prepare_machine(settings, progress)
    for key in sorted({h.ssh_key for h in inventory.hosts}):
        steps.append(Step(f"ssh key {_short(key)}", ensure_key_pair(key)))
    bbb_hosts = [h.name for h in inventory.hosts if h.is_bbb]
    roles = {role for host in inventory.fleet.hosts.values() for role in host.roles}
    realm = realm_of(inventory.fleet)
    clients = [client["secret_variable"] for client in realm["clients"]] if realm else []
    greenlight = fleet_secret_variables(inventory.fleet.tenants.values(), inventory.fleet.sso)
    keys = required_keys(bbb_hosts, roles, clients, inventory.fleet.tenants, greenlight)
    vault_outcome = ensure_vault(inventory.vault_file, keys)
    steps.append(Step(f"secrets {_short(inventory.vault_file)}", vault_outcome))
    steps.append(Step(f"network {settings.network}", _ensure_network(settings)))
    steps.extend(ensure_containers(inventory.hosts, settings, progress, secrets_id(inventory.vault_file)))
    wait_for_ssh(inventory.hosts, wait_seconds, progress)
    return steps


def ensure_containers(hosts: list[LabHost], settings: LabSettings, progress: Progress,
                      secrets: str = "") -> list[Step]:
    """All hosts at once (podman serialises what must be); every failure is reported, not just the first.
    `secrets`: the lab vault's lab_secrets_id."""
    def one(host: LabHost) -> Step:
        try:
            outcome = _ensure_container(host, settings, secrets)
        except LabError as exc:
            hint = (f" (another program holds port {host.ssh_port}: `ss -ltnp 'sport = :{host.ssh_port}'` "
                    "shows which; free it or change ansible_port)") if "address already in use" in str(exc) else ""
            raise LabError(f"host {host.name}: {exc}{hint}; `meetfleet lab up` can be rerun") from exc
        detail = f"ssh 127.0.0.1:{host.ssh_port}"
        detail += "".join(f", 127.0.0.1:{outside} -> {inside}" for outside, inside in host.published_ports)
        if outcome == "recreated":
            detail += (" (was stale, its published ports changed, or it was made for another lab vault's "
                       "secrets: rerun the playbooks)")
        progress(f"{host.name}: container {outcome}")
        return Step(f"host {host.name}", outcome, detail)

    steps: list[Step] = []
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(hosts)))) as pool:
        for future in [pool.submit(one, h) for h in hosts]:
            try:
                steps.append(future.result())
            except LabError as exc:
                errors.append(str(exc))
    if errors:
        raise LabError("\n".join(errors))
    return steps


def prepare_machine(settings: LabSettings, progress: Progress) -> list[Step]:
    """What any lab container needs, molecule's included: podman settings and the base image."""
    require_tool("podman")
    changed = ensure_containers_conf(settings.containers_conf)
    return [
        Step(_short(settings.containers_conf), "updated" if changed else "present", ", ".join(changed)),
        Step(f"image {settings.image}", ensure_image(settings, progress)),
        *remove_stale_molecule_containers(),
    ]


def remove_stale_molecule_containers() -> list[Step]:
    """Molecule instances left stale by a killed run: molecule's own destroy may be refused on them."""
    names = podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    steps = []
    for name in names:
        info = inspect_container(name) if name.startswith(MOLECULE_CONTAINER_PREFIX) else None
        if info is not None and container_state(info) == STALE:
            _remove_stale(name)
            steps.append(Step(f"container {name}", "removed", "stale: its processes had died outside podman"))
    return steps


def _short(path: Path) -> str:
    """Paths under the working directory shown relative to it, for readable tables."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _ensure_network(settings: LabSettings) -> str:
    if exists("network", settings.network):
        return "present"
    podman("network", "create", "--label", settings.label, settings.network)
    return "created"


def _ensure_container(host: LabHost, settings: LabSettings, secrets: str) -> str:
    info = inspect_container(host.name)
    if info is None:
        _create_container(host, settings, secrets)
        return "created"
    mismatch = container_mismatch(info, host, settings)
    if mismatch:
        raise LabError(f"container {host.name} exists but {mismatch}; remove it "
                       f"(`podman rm -f {host.name}`, or `meetfleet lab down` for the whole lab) and rerun")
    state = container_state(info)
    if state == STALE or published_ports(info) != set(host.published_ports) or made_for_other_secrets(info, secrets):
        # podman can only remove a stale container, and can change no published port of a
        # live one; a host configured with another vault's secrets keeps state they made
        # (Keycloak's admin, database roles). What was deployed on it goes with it, so the
        # playbooks must run again: the step's detail says so.
        _remove_stale(host.name)
        _create_container(host, settings, secrets)
        return "recreated"
    outcome = "present"
    if state != "running":
        podman("start", host.name, timeout=120)
        outcome = "started"
    key_added = _install_key(host) == "added"
    trust_added = _install_machine_trust(host) == "added"
    if (key_added or trust_added) and outcome == "present":
        outcome = "updated"
    return outcome


@retry(retry=retry_if_exception_type(LabError), stop=stop_after_attempt(4), wait=wait_fixed(1), reraise=True)
def _remove_stale(name: str) -> None:
    # Right after the processes died, podman may still be settling the state and refuse
    # ("container state improper"); a moment later the same removal goes through.
    podman("rm", "--force", "--time", "0", name, timeout=120)


def made_for_other_secrets(info: dict[str, Any], secrets: str) -> bool:
    """Whether the container was made for another lab vault than the one whose id is `secrets`."""
    labels = (info.get("Config") or {}).get("Labels") or {}
    return labels.get(SECRETS_LABEL, "") != secrets


def _create_container(host: LabHost, settings: LabSettings, secrets: str) -> None:
    podman(*host.run_args(settings, secrets), timeout=120)
    _install_key(host)
    _install_machine_trust(host)


def _install_machine_trust(host: LabHost) -> str:
    bundle = machine_pip_bundle()
    return install_trust(host.name, bundle) if bundle else "present"


def container_mismatch(info: dict[str, Any], host: LabHost, settings: LabSettings) -> str:
    """Why an existing container is not the one the inventory asks for ("" when it is)."""
    labels = (info.get("Config") or {}).get("Labels") or {}
    if labels.get(LABEL_KEY) != settings.label_value:
        return f"is not this lab's (label {LABEL_KEY}={labels.get(LABEL_KEY)!r}, want {settings.label_value!r})"
    bindings = ((info.get("HostConfig") or {}).get("PortBindings") or {}).get("22/tcp") or []
    published = {(b.get("HostIp"), str(b.get("HostPort"))) for b in bindings}
    if ("127.0.0.1", str(host.ssh_port)) not in published:
        return f"publishes sshd on {sorted(published) or 'no port'}, the inventory says 127.0.0.1:{host.ssh_port}"
    capabilities = set((info.get("HostConfig") or {}).get("CapAdd") or [])
    if not capabilities & {"NET_ADMIN", "CAP_NET_ADMIN"}:
        return "lacks CAP_NET_ADMIN (made by an older `lab up`; the firewall cannot load without it)"
    networks = set(((info.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    if settings.network not in networks:
        return f"is on network(s) {sorted(networks)}, not {settings.network}"
    return ""


def published_ports(info: dict[str, Any]) -> set[tuple[int, int]]:
    """(127.0.0.1 port, container port) of every published port but sshd's."""
    bindings = (info.get("HostConfig") or {}).get("PortBindings") or {}
    return {(int(b["HostPort"]), int(spec.split("/")[0]))
            for spec, entries in bindings.items() if spec != "22/tcp"
            for b in entries or () if b.get("HostIp") == "127.0.0.1" and str(b.get("HostPort", "")).isdigit()}


def _install_key(host: LabHost) -> str:
    result = podman("exec", "-i", host.name, "sh", "-c", _INSTALL_KEY,
                    input_text=public_key_of(host.ssh_key) + "\n", timeout=30)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "added"


def wait_for_ssh(hosts: list[LabHost], wait_seconds: float, progress: Progress) -> None:
    """Poll every host concurrently until it answers SSH or the deadline passes."""
    start = time.monotonic()
    deadline = start + wait_seconds

    def wait_one(host: LabHost) -> tuple[LabHost, bool]:
        while True:
            if answers_ssh(host.ssh_port, host.ssh_user, host.ssh_key):
                return host, True
            if time.monotonic() >= deadline:
                return host, False
            time.sleep(0.5)

    late: list[str] = []
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(hosts)))) as pool:
        for future in as_completed([pool.submit(wait_one, h) for h in hosts]):
            host, ok = future.result()
            elapsed = time.monotonic() - start
            if ok:
                progress(f"{host.name}: answers SSH on 127.0.0.1:{host.ssh_port} ({elapsed:.1f} s)")
            else:
                progress(f"{host.name}: no SSH answer on 127.0.0.1:{host.ssh_port} after {elapsed:.0f} s")
                late.append(host.name)
    if late:
        first = late[0]
        raise LabError(f"no SSH answer within {wait_seconds:g} s from: {', '.join(sorted(late))}. "
                       f"Look at `podman exec {first} systemctl status ssh` and `podman logs {first}`; "
                       "rerun `meetfleet lab up` (it only adds what is missing)")
