"""The cloud the tests run against: by default the STAND-IN (tests/cloud/hcloud_standin.py),
started for each test; the real Hetzner Cloud API only when asked for twice, with
HCLOUD_TOKEN set AND MEETFLEET_TEST_REAL_HCLOUD=1 (a token exported for a production
project must never make a test create VMs in it). Real runs cost money; every VM, firewall
and SSH key labelled with the test's fleet is deleted afterwards (docs/cloud.md)."""

from __future__ import annotations

import base64
import os
import shutil
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hcloud import Client

from tests.cloud import hcloud_standin
from tests.conftest import EXAMPLE_INVENTORY
from tests.helpers import edit

REAL = bool(os.environ.get("HCLOUD_TOKEN")) and os.environ.get("MEETFLEET_TEST_REAL_HCLOUD") == "1"
# The example's eu region, given a Hetzner location for new VMs (its ca region has none).
EU_HCLOUD = "    hcloud:\n      location: fsn1\n      server_type: cx22\n      server_types: {bbb: cx32}\n"


def ed25519_key(seed: str, comment: str) -> str:
    """A well-formed OpenSSH ed25519 public key (the example's are placeholders, not base64 keys)."""
    kind = b"ssh-ed25519"
    point = (seed.encode() * 32)[:32]
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", len(point)) + point
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


ALICE = ed25519_key("alice", "alice@example.coop")


TEST_LABEL = "meetfleet-test"  # on every VM a test makes itself, even another fleet's: all are cleaned up


@dataclass
class Backend:
    env: dict[str, str]
    client: Client
    standin: hcloud_standin.Cloud | None  # None against the real API
    mark: dict[str, str]  # the label a test puts on the VMs it makes behind meetfleet's back


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    """A copy of inventories/example under a fresh name (its `fleet` label), eu with hcloud defaults."""
    target = tmp_path / f"mftest-{uuid.uuid4().hex[:8]}"
    shutil.copytree(EXAMPLE_INVENTORY, target)
    edit(target / "group_vars" / "all" / "fleet.yml", "    timezone: Europe/Berlin\n",
         "    timezone: Europe/Berlin\n" + EU_HCLOUD)
    fleet = target / "group_vars" / "all" / "fleet.yml"
    lines = fleet.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("- ssh-ed25519 "):
            who = line.rsplit(" ", 1)[-1].strip()
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}- {ed25519_key(who.split('@')[0], who)}\n"
    fleet.write_text("".join(lines))
    return target


@pytest.fixture
def backend(fleet_dir: Path) -> Iterator[Backend]:
    if REAL:
        token = os.environ["HCLOUD_TOKEN"]
        client = Client(token=token, poll_interval=2.0, timeout=(10, 60))
        try:
            yield Backend({"HCLOUD_TOKEN": token, "HCLOUD_ENDPOINT": ""}, client, None, {TEST_LABEL: fleet_dir.name})
        finally:
            selector = f"managed-by=meetfleet,fleet={fleet_dir.name}"
            for marked in (selector, f"{TEST_LABEL}={fleet_dir.name}"):
                for server in client.servers.get_all(label_selector=marked):
                    server.delete().wait_until_finished()
            for firewall in client.firewalls.get_all(label_selector=selector):
                firewall.delete()
            for key in client.ssh_keys.get_all(label_selector=selector):
                key.delete()
        return
    with hcloud_standin.serve() as cloud:
        client = Client(token=hcloud_standin.TOKEN, api_endpoint=cloud.url, poll_interval=0.01, timeout=(5, 10))
        yield Backend({"HCLOUD_TOKEN": hcloud_standin.TOKEN, "HCLOUD_ENDPOINT": cloud.url,
                       "MEETFLEET_HCLOUD_POLL_INTERVAL": "0.01"}, client, cloud, {TEST_LABEL: fleet_dir.name})
