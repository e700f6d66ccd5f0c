"""`tenant add --apply` and `tenant remove --apply` on a copy of the example inventory with a
gateway URL: the playbooks the change touches run (an ansible-playbook stand-in,
tests/rollout/ansible_standin.py, records each run's --limit), a failure keeps the record
and names the rerun, a rerun applies without placing again, and the smoke check calls the
tenant's gateway endpoint with the secret `tenant add` put in the vault, over TLS. The BBB
API stand-in plays the gateway's part here (it speaks the same API); the lab test
(tests/playbooks/test_lab_tenant_apply.py) runs the real playbooks and the real gateway."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from meetfleet.fleet.vault import read_fleet_secret
from meetfleet.rollout.smoke import SMOKE_PREFIX
from meetfleet.testing import bbb_standin
from meetfleet.testing.bbb_standin import TestServer
from tests.cli.conftest import CA1, Standin
from tests.conftest import LAB_INVENTORY
from tests.helpers import run, snapshot, with_gateway
from tests.rollout.ansible_standin import calls, fake_ansible
from tests.rollout.tls_servers import self_signed, tls

GATEWAY = "gw.example.invalid"
VARIABLE = "vault_gateway_secret_choir_quebec"


@pytest.fixture
def inventory(example_copy: Path) -> Path:
    return with_gateway(example_copy, f"https://{GATEWAY}", {"vault_coturn_secret": "abc123abc123abc123"})


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "site.yml").write_text("- ansible.builtin.import_playbook: sso.yml\n")
    return directory


@pytest.fixture
def ansible_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:{Path.cwd()}:/usr/bin:/bin")
    return directory


def _apply_args(playbooks: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--apply", "--playbooks", str(playbooks), "--logs", str(tmp_path / "logs"), *extra, "--json"]


def _add(inventory: Path, standin: Standin, *extra: str):
    return run("tenant", "add", "choir-quebec", "--plan", "small", "--region", "ca", "--exporter", standin.url,
               "--origin-server-name", "choir.example.coop", "--sso-domain", "choir.example.coop",
               "--inventory", str(inventory), *extra)


@pytest.fixture
def gateway_standin(tmp_path: Path, inventory: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """Started once the tenant's secret exists: the BBB API stand-in, with that secret, on TLS,
    serving the API where the gateway serves the tenant's (/t/TENANT/bigbluebutton/api)."""
    monkeypatch.setattr(bbb_standin, "API_PREFIX", "/t/choir-quebec/bigbluebutton/api")
    started: list[TestServer] = []
    cert = self_signed(tmp_path, GATEWAY)

    def start() -> TestServer:
        server = TestServer(read_fleet_secret(inventory, VARIABLE))
        tls(server.httpd, cert)
        started.append(server.start())
        return server

    yield start, cert[0]
    for server in started:
        server.stop()


def test_a_failed_playbook_keeps_the_record_and_a_rerun_applies_it_without_placing_again(
        inventory, standin, playbooks, ansible_bin, gateway_standin, tmp_path):
    fake_ansible(ansible_bin, fail="sso.yml")
    failed = _add(inventory, standin, *_apply_args(playbooks, tmp_path))
    assert failed.exit_code == 1, failed.output
    error = json.loads(failed.stdout)["error"]
    assert error["kind"] == "playbook_failed"
    assert "sso.yml failed" in error["message"] and "tenant add ... --apply" in error["message"]
    assert any("--limit sso.example.coop" in command and command.endswith(f"{playbooks}/sso.yml")
               for command in error["commands"])
    assert load_inventory(inventory).tenants["choir-quebec"].bbb_server == CA1  # the record stays
    # Exactly the hosts that read the tenant: Keycloak and Nextcloud (no gateway host in this
    # inventory, no Greenlight of its own, and a real BBB server reads no tenant); sso.yml
    # failed, so the monitoring host's wave was not started.
    assert sorted(line.split(" args: ")[0] for line in calls(ansible_bin)) == ["nextcloud.yml", "sso.yml"]
    assert error["not_run"] == ["monitoring.yml"]

    fake_ansible(ansible_bin)
    start, ca = gateway_standin
    gateway = start()
    asked = len(standin.requests)
    before = snapshot(inventory)
    rerun = _add(inventory, standin, *_apply_args(playbooks, tmp_path, "--connect-to",
                                                   f"{GATEWAY}:443:127.0.0.1:{gateway.port}", "--ca-file", str(ca)))
    assert rerun.exit_code == 0, rerun.output
    report = json.loads(rerun.stdout)
    assert report["recorded"] is False and report["bbb_server"] == CA1
    assert len(standin.requests) == asked  # not placed again: no capacity source asked
    assert snapshot(inventory) == before  # nothing written
    assert [(c["name"], c["ok"]) for c in report["apply"]["checks"]] == [("gateway", True)]
    assert report["apply"]["checks"][0]["target"] == f"https://{GATEWAY}/t/choir-quebec/bigbluebutton/api/"
    assert report["apply"]["checks"][0]["detail"].startswith(f"created and ended {SMOKE_PREFIX}")
    assert not gateway.state.meetings
    assert read_fleet_secret(inventory, VARIABLE) not in rerun.output


def test_a_rerun_that_asks_for_another_record_is_refused_as_existing(inventory, standin, playbooks, ansible_bin,
                                                                     tmp_path):
    fake_ansible(ansible_bin, fail="sso.yml")
    assert _add(inventory, standin, *_apply_args(playbooks, tmp_path)).exit_code == 1
    before = snapshot(inventory)
    other = run("tenant", "add", "choir-quebec", "--plan", "medium", "--region", "ca", "--exporter", standin.url,
                "--inventory", str(inventory), *_apply_args(playbooks, tmp_path))
    assert other.exit_code == 2, other.output
    assert json.loads(other.stdout)["error"]["kind"] == "tenant_exists"
    assert snapshot(inventory) == before


def test_a_failing_smoke_check_exits_1_and_says_which(inventory, standin, playbooks, ansible_bin, tmp_path):
    fake_ansible(ansible_bin)
    # No --connect-to: gw.example.invalid does not resolve (RFC 6761), so the gateway check fails.
    result = _add(inventory, standin, *_apply_args(playbooks, tmp_path))
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "smoke_check_failed"
    assert [(c["name"], c["ok"]) for c in error["checks"]] == [("gateway", False)]
    assert "choir-quebec" in load_inventory(inventory).tenants


def test_remove_apply_runs_the_same_playbooks_and_no_smoke_check(inventory, standin, playbooks, ansible_bin,
                                                                 tmp_path):
    fake_ansible(ansible_bin)
    assert _add(inventory, standin).exit_code == 0
    removed = run("tenant", "remove", "choir-quebec", "--force", "--inventory", str(inventory),
                  *_apply_args(playbooks, tmp_path))
    assert removed.exit_code == 0, removed.output
    report = json.loads(removed.stdout)
    assert [p["playbook"] for p in report["apply"]["playbooks"]] == ["sso.yml", "nextcloud.yml", "monitoring.yml"]
    assert report["apply"]["checks"] == []
    assert "choir-quebec" not in load_inventory(inventory).tenants


def test_apply_without_the_playbooks_directory_is_refused_before_anything_is_written(inventory, standin, tmp_path):
    before = snapshot(inventory)
    result = _add(inventory, standin, "--apply", "--playbooks", str(tmp_path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["kind"] == "no_playbooks"
    assert snapshot(inventory) == before and standin.requests == []


def test_plan_apply_runs_what_reads_the_plan_and_a_rerun_runs_it_again(tmp_path, ansible_bin, playbooks,
                                                                       monkeypatch):
    """On a copy of the lab inventory (a gateway host, lab BBB servers): a smaller plan asks no
    capacity source; the gateway and the lab's synthetic load follow, then the smoke check."""
    inventory = tmp_path / "lab"
    shutil.copytree(LAB_INVENTORY, inventory, ignore=shutil.ignore_patterns("vault.yml"))
    vault = inventory / "group_vars/all/vault.yml"
    vault.write_text(f"vault_gateway_secret_printshop_cooperative: {'ab' * 32}\n")
    vault.chmod(0o600)
    monkeypatch.setattr(bbb_standin, "API_PREFIX", "/t/printshop-cooperative/bigbluebutton/api")
    cert = self_signed(tmp_path, "gw.lab")
    gateway = TestServer("ab" * 32)
    tls(gateway.httpd, cert)
    gateway.start()
    fake_ansible(ansible_bin)
    args = ["tenant", "plan", "printshop-cooperative", "--plan", "small", "--inventory", str(inventory),
            *_apply_args(playbooks, tmp_path, "--connect-to", f"gw.lab:443:127.0.0.1:{gateway.port}",
                         "--ca-file", str(cert[0]), "--no-site-check")]
    try:
        changed = run(*args)
        again = run(*args)
    finally:
        gateway.stop()
    assert changed.exit_code == 0, changed.output
    report = json.loads(changed.stdout)
    assert report["changed"] is True
    server = load_inventory(inventory).tenants["printshop-cooperative"].bbb_server
    assert {p["playbook"]: p["hosts"] for p in report["apply"]["playbooks"]} == {
        "gateway.yml": ["gw.lab"], "bbb.yml": [server], "monitoring.yml": ["monitor.lab"]}
    assert [(c["name"], c["ok"]) for c in report["apply"]["checks"]] == [("gateway", True)]
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert rerun["changed"] is False
    assert [p["playbook"] for p in rerun["apply"]["playbooks"]] == ["gateway.yml", "bbb.yml", "monitoring.yml"]
