"""What `tenant export --with-data` fetches (meetfleet.membership.collect): the recordings
list from the tenant's gateway endpoint (the BBB API stand-in in the gateway's place, over
TLS, its getRecordings as the API reference shows it) and the Greenlight database through
playbooks/greenlight_dump.yml (an ansible-playbook stand-in that writes what pg_dump would,
or fails: the real dump runs in tests/playbooks/test_lab_tenant_apply.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from meetfleet.membership import collect
from meetfleet.testing import bbb_standin
from meetfleet.testing.bbb_standin import StandinRecording, TestServer
from tests.helpers import with_gateway
from tests.rollout.tls_servers import self_signed, tls

SECRET = "ab" * 32
GATEWAY = "gw.example.invalid"


@pytest.fixture
def inventory(example_copy: Path) -> Path:
    return with_gateway(example_copy, f"https://{GATEWAY}", {"vault_gateway_secret_bakery_collective": SECRET})


def test_the_recordings_come_from_the_tenants_gateway_endpoint(inventory: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(bbb_standin, "API_PREFIX", "/t/bakery-collective/bigbluebutton/api")
    cert = self_signed(tmp_path, GATEWAY)
    server = TestServer(SECRET)
    tls(server.httpd, cert)
    server.state.add_recording(StandinRecording("f" * 40 + "-1700000000000", "weekly", "Weekly meeting",
                                                1_700_000_000_000, 1_700_003_600_000))
    server.start()
    try:
        found = collect.recordings(load_inventory(inventory), "bakery-collective", inventory,
                                   {(GATEWAY, 443): ("127.0.0.1", server.port)}, str(cert[0]))
    finally:
        server.stop()
    assert [(r.record_id, r.meeting_id, r.name, r.published, r.start_time, r.end_time) for r in found] == [
        ("f" * 40 + "-1700000000000", "weekly", "Weekly meeting", True, 1_700_000_000_000, 1_700_003_600_000)]
    assert [p.format for p in found[0].playback] == ["presentation"]


def test_without_a_gateway_there_are_no_recordings_to_ask_for(example_copy: Path):
    with pytest.raises(collect.NotAvailable, match="no gateway"):
        collect.recordings(load_inventory(example_copy), "bakery-collective", example_copy, {}, None)


def dump_standin(directory: Path, body: bytes | None) -> list[str]:
    """An ansible-playbook that writes `body` where -e greenlight_dump_to says (None: fails)."""
    script = directory / "ansible-playbook"
    (directory / "dump.bin").write_bytes(body or b"")
    script.write_text(f"""#!/bin/sh
echo "$@" > {directory}/args
[ {int(body is None)} = 1 ] && {{ echo "fatal: [rooms-eu.example.coop]: FAILED! pg_dump: error"; exit 2; }}
for arg; do case "$arg" in greenlight_dump_to=*) cp {directory}/dump.bin "${{arg#greenlight_dump_to=}}";; esac; done
""")
    script.chmod(0o755)
    return [str(script)]


def test_the_database_is_dumped_on_its_own_greenlight_host(example_copy: Path, tmp_path: Path):
    command = dump_standin(tmp_path, b"PGDMP\x01\x0e\x00 custom format")
    data = collect.greenlight_database(load_inventory(example_copy), "bakery-collective", example_copy,
                                       Path("playbooks"), command)
    assert data == b"PGDMP\x01\x0e\x00 custom format"
    args = (tmp_path / "args").read_text()
    assert "--limit rooms-eu.example.coop" in args
    assert "greenlight_dump_database=greenlight_bakery_collective" in args
    assert args.strip().endswith("playbooks/greenlight_dump.yml")


@pytest.mark.parametrize(("body", "message"), [
    (None, r"failed \(exit 2\):\n.*pg_dump: error"),
    (b"", "is 0 bytes"),
    (b"-- plain SQL", "not in pg_dump's custom format"),
])
def test_a_dump_that_fails_or_is_not_one_says_so(example_copy: Path, tmp_path: Path, body, message: str):
    with pytest.raises(collect.CollectError, match=message):
        collect.greenlight_database(load_inventory(example_copy), "bakery-collective", example_copy,
                                    Path("playbooks"), dump_standin(tmp_path, body))


def test_a_tenant_without_its_own_greenlight_has_no_database_to_dump(example_copy: Path, tmp_path: Path):
    with pytest.raises(collect.NotAvailable, match="no Greenlight of its own"):
        collect.greenlight_database(load_inventory(example_copy), "cafe-montreal", example_copy, Path("playbooks"),
                                    dump_standin(tmp_path, b"PGDMP"))
    assert not (tmp_path / "args").exists()  # nothing was run
