"""What `tenant export --with-data` fetches beside the inventory's record: the member's
recordings list (getRecordings at its gateway endpoint, with its own secret: the gateway
answers with that tenant's recordings only) and its own Greenlight's database
(playbooks/greenlight_dump.yml: pg_dump on its host in custom format, fetched here).
Each returns what it got, or why not, as the manifest's not_included says it."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from meetfleet.bbb.client import BbbClient, BbbEndpoint
from meetfleet.bbb.errors import BbbError
from meetfleet.fleet.model import Fleet, Gateway
from meetfleet.fleet.vault import read_fleet_secret
from meetfleet.greenlight import host_instances
from meetfleet.membership.archive import GREENLIGHT_DUMP, MAX_BYTES, PGDUMP_MAGIC, Recording
from meetfleet.membership.recordings import recording_of
from meetfleet.rollout.smoke import Route, transport

TIMEOUT = 60.0  # getRecordings of a member with many recordings is one long answer
ANSWER_MAX_BYTES = 64 * 1024 * 1024  # its XML, a few times the list the archive keeps
DUMP_TIMEOUT = 1800.0


class CollectError(RuntimeError):
    """The data could not be fetched (the message says which and why, never a secret)."""


class NotAvailable(CollectError):
    """There is no such data to fetch for this tenant (the manifest says why)."""


def recordings(fleet: Fleet, name: str, inventory_dir: Path, routes: Mapping[Route, Route],
               ca_file: str | None) -> tuple[Recording, ...]:
    """The tenant's recordings as its gateway endpoint lists them."""
    if fleet.gateway is None:
        raise NotAvailable("no gateway (fleet_gateway) to ask as the tenant: a BBB server lists every tenant's "
                           "recordings, so this export does not ask one")
    secret = read_fleet_secret(inventory_dir, Gateway.secret_variable(name))
    endpoint = BbbEndpoint(fleet.gateway.endpoint(name), secret)

    async def fetch() -> tuple[Recording, ...]:
        async with BbbClient(TIMEOUT, max_bytes=ANSWER_MAX_BYTES, transport=transport(routes, ca_file)) \
                as client:
            result = await client.get_recordings(endpoint)
        return tuple(recording_of(element) for element in result.recordings)

    try:
        return asyncio.run(fetch())
    except BbbError as exc:
        raise CollectError(f"getRecordings at {endpoint.api_url}: {exc}") from None


def greenlight_database(fleet: Fleet, name: str, inventory_dir: Path, playbooks_dir: Path,
                        ansible_playbook: Sequence[str]) -> bytes:
    """Its own Greenlight's database, dumped on its host (pg_dump, custom format)."""
    tenant = fleet.tenants[name]
    if tenant.greenlight is None:
        raise NotAvailable("it has no Greenlight of its own: its members' accounts are in the shared one")
    greenlight_hosts = {h for h, host in fleet.hosts.items() if "greenlight" in host.roles}
    instance = next(i for i in host_instances(tenant.greenlight, [tenant], None, greenlight_hosts) if i.name == name)
    with tempfile.TemporaryDirectory(prefix="meetfleet-export-") as scratch:
        target = Path(scratch) / GREENLIGHT_DUMP
        command = [*ansible_playbook, "-i", str(inventory_dir), "--limit", tenant.greenlight,
                   "-e", f"greenlight_dump_database={instance.db_name}", "-e", f"greenlight_dump_to={target}",
                   str(playbooks_dir / "greenlight_dump.yml")]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=DUMP_TIMEOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise CollectError(f"the dump on {tenant.greenlight} took longer than {DUMP_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-6:])
            raise CollectError(f"playbooks/greenlight_dump.yml on {tenant.greenlight} failed (exit "
                               f"{done.returncode}):\n{tail}")
        size = target.stat().st_size if target.exists() else 0
        if not size or size > MAX_BYTES[GREENLIGHT_DUMP]:
            raise CollectError(f"the dump of {instance.db_name} is {size} bytes (an archive holds 1 to "
                               f"{MAX_BYTES[GREENLIGHT_DUMP]})")
        data = target.read_bytes()
    if not data.startswith(PGDUMP_MAGIC):
        raise CollectError(f"the dump of {instance.db_name} is not in pg_dump's custom format")
    return data
