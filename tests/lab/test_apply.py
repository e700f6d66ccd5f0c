"""`meetfleet lab apply`: site.yml's playbooks side by side, the fleet-watching ones after.

The plan is checked against the repository's own site.yml; the command with a stand-in
for ansible-playbook (tests/rollout/ansible_standin.py; the runner's own tests are in
tests/rollout/test_run.py). The real playbooks run in tests/playbooks/test_lab_check_mode.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meetfleet.lab.apply import READS_THE_FLEET, PlanError, plan_waves
from meetfleet.rollout.run import Job
from tests.conftest import REPO
from tests.rollout.ansible_standin import fake_ansible

SITE = REPO / "playbooks" / "site.yml"
MEETFLEET = Path(sys.executable).parent / "meetfleet"

def test_the_plan_runs_every_import_of_site_yml_once_and_monitoring_last():
    imports = [play["ansible.builtin.import_playbook"] for play in yaml.safe_load(SITE.read_text())]
    waves = plan_waves(SITE.read_text())
    assert sorted(job.playbook for wave in waves for job in wave) == sorted(imports)
    assert waves[-1] == [Job("monitoring.yml")]
    assert Job("monitoring.yml") not in waves[0] and len(waves) == 2
    assert all((REPO / "playbooks" / job.playbook).is_file() and not job.hosts for wave in waves for job in wave)


def test_a_site_of_only_kind_playbooks_is_one_wave():
    site = "- ansible.builtin.import_playbook: a.yml\n- ansible.builtin.import_playbook: b.yml\n"
    assert plan_waves(site) == [[Job("a.yml"), Job("b.yml")]]
    assert READS_THE_FLEET == ("monitoring.yml",)


@pytest.mark.parametrize(("text", "says"), [
    ("- hosts: all\n  roles: [base]\n", "play 1 is not an ansible.builtin.import_playbook"),
    ("- ansible.builtin.import_playbook: a.yml\n- name: x\n", "play 2 is not"),
    ("{}", "expected a list of plays"),
    ("- [unclosed\n", "not YAML"),
])
def test_a_site_yml_it_cannot_split_is_refused_naming_the_file_and_play(text, says):
    with pytest.raises(PlanError, match=says) as raised:
        plan_waves(text, "playbooks/site.yml")
    assert str(raised.value).startswith("playbooks/site.yml: ")


def test_the_command_reports_a_failed_playbook_as_json_with_exit_1(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = fake_ansible(bin_dir, fail="bbb.yml")[0]
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "site.yml").write_text("- ansible.builtin.import_playbook: bbb.yml\n"
                                        "- ansible.builtin.import_playbook: turn.yml\n"
                                        "- ansible.builtin.import_playbook: monitoring.yml\n")
    env = {**os.environ, "PATH": f"{Path(fake).parent}:{os.environ['PATH']}"}
    result = subprocess.run([str(MEETFLEET), "lab", "apply", "--inventory", str(REPO / "inventories" / "lab"),
                             "--playbooks", str(playbooks), "--logs", str(tmp_path / "logs"), "--json"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "playbook_failed"
    assert error["not_run"] == ["monitoring.yml"]
    assert {p["playbook"]: p["ok"] for p in error["playbooks"]} == {"bbb.yml": False, "turn.yml": True}
    assert str(tmp_path / "logs" / "bbb.log") in error["message"]


def test_check_passes_check_mode_to_every_playbook_and_names_the_hosts_that_would_change(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = fake_ansible(bin_dir)[0]
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "site.yml").write_text("- ansible.builtin.import_playbook: bbb.yml\n"
                                        "- ansible.builtin.import_playbook: monitoring.yml\n")
    env = {**os.environ, "PATH": f"{Path(fake).parent}:{os.environ['PATH']}"}
    result = subprocess.run([str(MEETFLEET), "lab", "apply", "--check",
                             "--inventory", str(REPO / "inventories" / "lab"), "--playbooks", str(playbooks),
                             "--logs", str(tmp_path / "logs"), "--json"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["check"] is True
    assert {p["playbook"]: p["changed_hosts"] for p in report["playbooks"]} == {
        "bbb.yml": ["bbb.yml.host"], "monitoring.yml": ["monitoring.yml.host"]}
    args = (bin_dir / "args").read_text().splitlines()
    assert len(args) == 2 and all(" --check " in line for line in args)


def test_the_command_refuses_a_directory_without_site_yml_with_exit_2(tmp_path):
    result = subprocess.run([str(MEETFLEET), "lab", "apply", "--playbooks", str(tmp_path), "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["kind"] == "no_site"
    assert f"{tmp_path}/site.yml: no such file" in result.stderr
