"""Health is all three: container running, systemd running, SSH answering; exit 1 otherwise."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from meetfleet.cli import lab as lab_cli
from meetfleet.cli.main import cli
from meetfleet.lab.status import STATUS_COLUMNS, HostStatus, status_rows
from tests.conftest import LAB_INVENTORY

HEALTHY = HostStatus("a.lab", 2221, "running", "running", ssh=True)


@pytest.mark.parametrize("status", [
    HostStatus("a.lab", 2221, "missing", "-", ssh=False),
    HostStatus("a.lab", 2221, "exited", "-", ssh=False),
    HostStatus("a.lab", 2221, "running", "degraded", ssh=True),
    HostStatus("a.lab", 2221, "running", "starting", ssh=True),
    HostStatus("a.lab", 2221, "running", "running", ssh=False),
    HostStatus("a.lab", 2221, "not the lab's", "-", ssh=False),
])
def test_anything_short_of_all_three_is_unhealthy(status: HostStatus) -> None:
    assert not status.healthy


def test_rows_follow_the_columns() -> None:
    rows = status_rows([HEALTHY, HostStatus("b.lab", 2222, "running", "degraded", ssh=False)])
    assert STATUS_COLUMNS == ("host", "container", "systemd", "ssh", "port", "healthy")
    assert rows == [("a.lab", "running", "running", "ok", "2221", "yes"),
                    ("b.lab", "running", "degraded", "no", "2222", "NO")]


def test_json_has_healthy_per_host() -> None:
    assert HEALTHY.as_dict() == {"host": "a.lab", "port": 2221, "container": "running",
                                 "systemd": "running", "ssh": True, "healthy": True}


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch):
    """Replace the probing (podman, ssh) by given results: this tests the command's output only."""
    def use(statuses: list[HostStatus]) -> None:
        monkeypatch.setattr(lab_cli, "probe_all", lambda hosts, settings: statuses)
    return use


def test_status_command_table_and_exit_codes(probed) -> None:
    probed([HEALTHY])
    ok = CliRunner().invoke(cli, ["lab", "status", "-i", str(LAB_INVENTORY)])
    assert ok.exit_code == 0, ok.output
    assert "a.lab" in ok.output and "all hosts healthy" in ok.output

    probed([HEALTHY, HostStatus("b.lab", 2222, "missing", "-", ssh=False)])
    bad = CliRunner().invoke(cli, ["lab", "status", "-i", str(LAB_INVENTORY)])
    assert bad.exit_code == 1
    assert "not healthy: b.lab" in bad.output


def test_status_command_json(probed) -> None:
    probed([HEALTHY, HostStatus("b.lab", 2222, "exited", "-", ssh=False)])
    result = CliRunner().invoke(cli, ["lab", "status", "-i", str(LAB_INVENTORY), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # stdout only: stderr is for people
    assert data["healthy"] is False
    assert [h["healthy"] for h in data["hosts"]] == [True, False]
