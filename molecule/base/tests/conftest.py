"""Fixtures shared by the base tests."""

import json
import subprocess

import pytest

CONTAINER = "meetfleet-molecule-base"


@pytest.fixture(scope="session")
def container_ip():
    """The container's address on its podman network, as the machine running molecule reaches it."""
    out = subprocess.run(["podman", "inspect", CONTAINER], capture_output=True, text=True, check=True, timeout=30)
    networks = json.loads(out.stdout)[0]["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]
