"""Shared fixtures: paths to the repository's inventories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
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


CI_WALL_SECONDS = 90 * 60  # what CI gives `bash .ci/run` in all


def ci_seconds_left() -> float | None:
    """Seconds left of CI's wall when scripts/test.sh started this run (MEETFLEET_CI_STARTED),
    else None: a test that needs a long stretch can say it did not fit instead of failing CI."""
    started = os.environ.get("MEETFLEET_CI_STARTED", "")
    return CI_WALL_SECONDS - (time.time() - int(started)) if started.isdigit() else None


def lab_logs(log_dir: Path) -> str:
    return "".join(f"\n--- {log.name}\n" + log.read_text()[-4000:] for log in sorted(log_dir.glob("*.log")))


@pytest.fixture(scope="session")
def applied_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab brought up and configured once per session by `meetfleet lab apply` (site.yml's
    playbooks side by side, as scripts/lab.sh does). The lab tests that read what the playbooks
    made share this one run; each re-running its own playbooks was a quarter of the lab lane.
    Returns the directory of the apply's logs."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}
    run = {"cwd": REPO, "env": env, "capture_output": True, "text": True}
    up = subprocess.run([str(bin_dir / "meetfleet"), "lab", "up", "--inventory", str(LAB_INVENTORY)],
                        **run, timeout=900)
    assert up.returncode == 0, up.stdout + up.stderr
    logs = tmp_path_factory.mktemp("lab-apply")
    applied = subprocess.run([str(bin_dir / "meetfleet"), "lab", "apply", "--inventory", str(LAB_INVENTORY),
                              "--logs", str(logs)], **run, timeout=3600)
    assert applied.returncode == 0, applied.stdout + applied.stderr + lab_logs(logs)
    return logs
