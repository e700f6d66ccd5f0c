"""A small fleet of BBB API test servers (stand-ins for BBB) and an inventory pointing at them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from capacity_exporter.config import WebConfig, build_targets
from capacity_exporter.metrics import render
from capacity_exporter.poller import ExporterState, poll_all
from capacity_exporter.web import MetricsServer
from meetfleet.bbb import BbbClient
from meetfleet.fleet import load_inventory
from meetfleet.testing.bbb_standin import TestServer
from tests.bbb.conftest import Clock

# server -> (capacity, checksum algorithm, state)
SERVERS = {
    "bbb-a.test": (200, "sha1", "active"),
    "bbb-b.test": (400, "sha256", "cordoned"),
    "bbb-c.test": (100, "sha512", "active"),
}
RETIRED = "bbb-old.test"

FLEET_YML = """\
fleet_regions:
  eu: {timezone: Europe/Berlin}
  ca: {timezone: America/Toronto}
fleet_plans:
  small: {max_concurrent_users: 50, max_rooms: 5, max_meeting_minutes: 120}
  large: {max_concurrent_users: 600, max_rooms: 50, max_meeting_minutes: 480}
fleet_tenants:
  acme: {plan: small, region: eu, bbb_server: bbb-a.test, origin_server_names: [rooms.acme.test]}
  coop: {plan: large, region: eu, bbb_server: bbb-b.test}
  idle: {plan: small, region: ca, bbb_server: bbb-c.test}
"""

# The known meetings (see test_metric_values.py for the expected figures, worked by hand).
MEETINGS = {
    "bbb-a.test": {"meetings": [
        {"id": "acme-1", "participants": 10, "listen_only": 2, "voice": 6, "video": 3, "age_minutes": 30,
         "metadata": {"tenant": "acme"}, "breakouts": [{"id": "acme-1-b1", "participants": 3, "voice": 3}]},
        {"id": "acme-2", "participants": 4, "voice": 4, "video": 1, "age_minutes": 90,
         "metadata": {"bbb-origin-server-name": "rooms.acme.test"}},
        {"id": "stray", "participants": 2, "age_minutes": 5, "metadata": {"tenant": "not-a-tenant"}},
    ]},
    "bbb-b.test": {"meetings": [
        {"id": "coop-1", "participants": 20, "listen_only": 10, "voice": 10, "video": 2, "age_minutes": 10,
         "metadata": {"tenant": "coop"}},
    ]},
    "bbb-c.test": {"meetings": []},
}


def secret_of(server: str) -> str:
    return f"secret-of-{server}-4f9c2a"


@dataclass
class FleetLab:
    inventory: Path
    secrets_file: Path
    servers: dict[str, TestServer]
    clock: Clock

    def state(self) -> ExporterState:
        fleet = load_inventory(self.inventory)
        secrets = {name: secret_of(name) for name in SERVERS}
        return ExporterState(fleet, build_targets(fleet, secrets, self.secrets_file), render)


def write_inventory(root: Path, servers: dict[str, TestServer]) -> None:
    (root / "group_vars/all").mkdir(parents=True)
    (root / "host_vars").mkdir()
    hosts = "".join(f"        {name}:\n" for name in [*SERVERS, RETIRED])
    (root / "hosts.yml").write_text(
        f"all:\n  children:\n    bbb:\n      hosts:\n{hosts}    greenlight:\n      hosts:\n        rooms.test:\n")
    (root / "group_vars/all/fleet.yml").write_text(FLEET_YML)
    for name, (capacity, algorithm, state) in SERVERS.items():
        region = "ca" if name == "bbb-c.test" else "eu"
        (root / f"host_vars/{name}.yml").write_text(
            f"fleet_region: {region}\nfleet_provider: static\nfleet_bbb_capacity: {capacity}\n"
            f"fleet_bbb_checksum_algorithm: {algorithm}\nfleet_bbb_state: {state}\n"
            f"fleet_bbb_api_url: {servers[name].api_url}\n")
    (root / f"host_vars/{RETIRED}.yml").write_text(
        "fleet_region: eu\nfleet_provider: static\nfleet_bbb_capacity: 300\nfleet_bbb_state: retired\n"
        "fleet_bbb_api_url: http://127.0.0.1:9/bigbluebutton/api\n")
    (root / "host_vars/rooms.test.yml").write_text("fleet_region: eu\nfleet_provider: static\n")


def write_secrets(path: Path, secrets: dict[str, str]) -> Path:
    path.write_text("bbb_secrets:\n" + "".join(f"  {k}: {v}\n" for k, v in secrets.items()))
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[FleetLab]:
    clock = Clock()
    servers = {name: TestServer(secret_of(name), clock=clock).start() for name in SERVERS}
    try:
        for name, server in servers.items():
            server.seed(MEETINGS[name])
        write_inventory(tmp_path / "inventory", servers)
        secrets = write_secrets(tmp_path / "secrets.yml", {name: secret_of(name) for name in SERVERS})
        yield FleetLab(tmp_path / "inventory", secrets, servers, clock)
    finally:
        for server in servers.values():
            server.stop()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str, **kwargs) -> Samples:
    response = httpx.get(url, timeout=5, **kwargs)
    response.raise_for_status()
    return parse_metrics(response.text)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def poll(lab: FleetLab, state: ExporterState, timeout: float = 2.0) -> None:
    async def once() -> None:
        async with BbbClient(timeout) as client:
            await poll_all(client, state, lab.clock)

    asyncio.run(once())


@pytest.fixture
def served(lab: FleetLab) -> Iterator[tuple[ExporterState, str]]:
    state = lab.state()
    server = MetricsServer(("127.0.0.1", 0), lambda: state.payload, WebConfig())
    server.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()
