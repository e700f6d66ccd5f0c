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
