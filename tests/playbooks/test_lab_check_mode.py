"""The lab configured by `meetfleet lab apply` (site.yml's playbooks side by side, as
`scripts/lab.sh` does), then site.yml itself in check mode: every play connects, every
role's checks pass, and the check run finds nothing left to change, so what the
side-by-side apply made is exactly what site.yml makes.

Check mode needs a converged host: on a fresh container apt has no package lists yet
(check mode does not refresh them), so the real run comes first.

bbb.yml on its own (limited to one host) is run by test_regional_server.py and
test_lab_gateway.py; site.yml covers every BBB host, so no separate BBB-only pass here.

The example inventory's hosts do not exist, so a check run there cannot connect; the
playbooks are syntax-checked against it in test_playbooks.py instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LAB_INVENTORY, REPO

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}


@pytest.fixture(scope="module")
def lab_is_up() -> None:
    up = subprocess.run([str(BIN / "meetfleet"), "lab", "up", "--inventory", str(LAB_INVENTORY)],
                        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, up.stdout + up.stderr


def site(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(LAB_INVENTORY), *extra,
                           str(REPO / "playbooks" / "site.yml")],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=3600)


def test_lab_apply_then_site_check_mode_on_the_lab(lab_is_up: None, tmp_path: Path):
    applied = subprocess.run([str(BIN / "meetfleet"), "lab", "apply", "--inventory", str(LAB_INVENTORY),
                              "--logs", str(tmp_path)], cwd=REPO, env=ENV, capture_output=True, text=True,
                             timeout=3600)
    logs = "".join(f"\n--- {log.name}\n" + log.read_text()[-4000:] for log in sorted(tmp_path.glob("*.log")))
    assert applied.returncode == 0, applied.stdout + applied.stderr + logs
    result = site("--check")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    recaps = {host: (int(changed), int(unreachable)) for host, changed, unreachable in re.findall(
        r"^(\S+)\s*: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)", result.stdout, re.MULTILINE)}
    hosts = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(LAB_INVENTORY), "--graph"],
                           cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120).stdout
    expected = set(re.findall(r"--(\S+\.lab)$", hosts, re.MULTILINE))
    assert set(recaps) == expected
    assert {host: counts for host, counts in recaps.items() if counts != (0, 0)} == {}, result.stdout[-6000:]

