"""Fixtures shared by the base tests."""

import json
import subprocess

import pytest

CONTAINER = "meetfleet-molecule-base"
MONITOR = "meetfleet-molecule-base-monitor"


def address_of(container: str) -> str:
    """A container's address on the scenario's podman network."""
    out = subprocess.run(["podman", "inspect", container], capture_output=True, text=True, check=True, timeout=30)
    networks = json.loads(out.stdout)[0]["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


@pytest.fixture(scope="session")
def container_ip():
    """The container's address on its podman network, as the machine running molecule reaches it."""
    return address_of(CONTAINER)


@pytest.fixture(scope="session")
def monitor_ip():
    return address_of(MONITOR)
