"""`tenant export --with-data` end to end in-process: the archive carries the recordings list
(from the tenant's gateway endpoint: the BBB API stand-in in its place, over TLS) and, for a
tenant with its own Greenlight, its database (an ansible-playbook stand-in writes what
pg_dump would; the real dump is in tests/playbooks/test_lab_tenant_apply.py); `tenant
import` into another inventory reports both; a failed fetch writes no archive."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from meetfleet.membership import read_archive
from meetfleet.testing import bbb_standin
from meetfleet.testing.bbb_standin import StandinRecording, TestServer
from tests.cli.conftest import Standin
from tests.conftest import EXAMPLE_INVENTORY
from tests.helpers import run, with_gateway
from tests.membership.test_collect import dump_standin
from tests.rollout.tls_servers import self_signed, tls

SECRET = "cd" * 32
GATEWAY = "gw.example.invalid"


@pytest.fixture
def inventory(example_copy: Path) -> Path:
    return with_gateway(example_copy, f"https://{GATEWAY}", {f"vault_gateway_secret_{name}": SECRET
                                                             for name in ("cafe_montreal", "bakery_collective")})


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def start(tenant: str) -> tuple[list[str], TestServer]:
        monkeypatch.setattr(bbb_standin, "API_PREFIX", f"/t/{tenant}/bigbluebutton/api")
        cert = self_signed(tmp_path, GATEWAY)
        server = TestServer(SECRET)
        tls(server.httpd, cert)
        server.state.add_recording(StandinRecording("e" * 40 + "-1700000000000", "cafe-weekly", "Weekly",
                                                    1_700_000_000_000, 1_700_003_600_000))
        started.append(server.start())
        return ["--connect-to", f"{GATEWAY}:443:127.0.0.1:{server.port}", "--ca-file", str(cert[0])], server

    started: list[TestServer] = []
    yield start
    for server in started:
        server.stop()


def test_a_shared_members_export_lists_its_recordings_and_says_why_there_is_no_database(
        inventory: Path, gateway, tmp_path: Path, standin: Standin):
    reach, _ = gateway("cafe-montreal")
    archive = tmp_path / "cafe.tar.gz"
    result = run("tenant", "export", "cafe-montreal", "-o", str(archive), "--with-data", *reach, "-i", str(inventory),
                 "--json")
    assert result.exit_code == 0, result.output
    exported = read_archive(archive)
    assert [r.meeting_id for r in exported.recordings] == ["cafe-weekly"]
    assert exported.greenlight_dump is None
    # into another fleet's inventory (a fresh copy of the example, without the member)
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE_INVENTORY, other)
    assert run("tenant", "remove", "cafe-montreal", "--force", "-i", str(other)).exit_code == 0
    imported = run("tenant", "import", str(archive), "--exporter", standin.url, "-i", str(other), "--json")
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)["imported"][0]
    assert report["data"] == {"recordings": 1, "greenlight_dump_bytes": None}
    assert any("1 recordings listed" in note for note in report["notes"])


def test_a_failed_dump_writes_no_archive(inventory: Path, gateway, tmp_path: Path, monkeypatch):
    reach, _ = gateway("bakery-collective")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dump_standin(bin_dir, None)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    archive = tmp_path / "bakery.tar.gz"
    result = run("tenant", "export", "bakery-collective", "-o", str(archive), "--with-data", *reach,
                 "-i", str(inventory), "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "export_failed" and "Greenlight database" in error["message"]
    assert not archive.exists() and list(tmp_path.glob(".bakery.tar.gz.*")) == []


def test_a_dedicated_members_export_carries_its_database(inventory: Path, gateway, tmp_path: Path, monkeypatch):
    reach, _ = gateway("bakery-collective")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dump_standin(bin_dir, b"PGDMP\x01\x0e\x00 the member's rooms")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    archive = tmp_path / "bakery.tar.gz"
    result = run("tenant", "export", "bakery-collective", "-o", str(archive), "--with-data", *reach,
                 "-i", str(inventory))
    assert result.exit_code == 0, result.output
    assert read_archive(archive).greenlight_dump == b"PGDMP\x01\x0e\x00 the member's rooms"
