"""Shared fixtures: paths to the repository's inventories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_INVENTORY = REPO / "inventories" / "example"
LAB_INVENTORY = REPO / "inventories" / "lab"


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A private copy of inventories/example that a test may break."""
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE_INVENTORY, target)
    return target


# A lab test runs playbooks against containers (site.yml on a fresh lab converges every
# host): it gets this instead of pyproject's per-test timeout.
LAB_TEST_TIMEOUT = 3000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("lab") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(LAB_TEST_TIMEOUT))
