"""The lab configured by `meetfleet lab apply` (site.yml's playbooks side by side, as
`scripts/lab.sh` does), then `lab apply --check`, site.yml's check mode with the same
playbooks side by side: every play connects, every role's checks pass, and the check run
finds nothing left to change on any host, so what the side-by-side apply made is what
site.yml makes. (site.yml is only these imports: lab apply refuses any other site.yml, and
test_playbooks.py checks that it reaches every host. The serial `site.yml --check` took
17 min of this lane under CI load; side by side about half.)

Check mode needs a converged host: on a fresh container apt has no package lists yet
(check mode does not refresh them), so the real run comes first.

The apply is the session's one (conftest.applied_lab), which the other lab tests read too;
bbb.yml on its own (limited to a new host) is run by test_regional_server.py.

The example inventory's hosts do not exist, so a check run there cannot connect; the
playbooks are syntax-checked against it in test_playbooks.py instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LAB_INVENTORY, REPO, lab_logs

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}


def test_site_check_mode_after_lab_apply_changes_nothing(applied_lab: Path, tmp_path: Path):
    checked = subprocess.run([str(BIN / "meetfleet"), "lab", "apply", "--inventory", str(LAB_INVENTORY),
                              "--logs", str(tmp_path), "--check", "--json"], cwd=REPO, env=ENV,
                             capture_output=True, text=True, timeout=3600)
    assert checked.returncode == 0, checked.stdout + checked.stderr + lab_logs(tmp_path)
    runs = json.loads(checked.stdout)["playbooks"]
    hosts = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(LAB_INVENTORY), "--graph"],
                           cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120).stdout
    expected = set(re.findall(r"--(\S+\.lab)$", hosts, re.MULTILINE))
    assert {host for run in runs for host in run["hosts"]} == expected
    would_change = {run["playbook"]: run["changed_hosts"] for run in runs if run["changed_hosts"]}
    assert would_change == {}, lab_logs(tmp_path)
    assert [run["failed_hosts"] for run in runs if run["failed_hosts"]] == []

