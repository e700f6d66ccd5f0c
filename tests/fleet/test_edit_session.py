"""One edit session per command: one lock, every inventory file read from disk once, and
validation that parses only what the edit changed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from meetfleet.cli.main import cli
from meetfleet.fleet import files, load_inventory, lock, yamlio
from meetfleet.fleet.writer import InventoryWriteError, edit_inventory
from tests.cli.conftest import serve_standin
from tests.helpers import snapshot

TENANTS = Path("group_vars/all/tenants.yml")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter]:
    """Disk reads and parses per file, and takes of the inventory lock."""
    counts = {"reads": Counter(), "parses": Counter(), "locks": Counter()}
    real_read, real_parse, real_acquire = files.read_text, yamlio.parse_yaml, lock._acquire

    def read(path: Path):
        counts["reads"][str(path)] += 1
        return real_read(path)

    def parse(path: Path, text: str, mode: int = 0o644):
        counts["parses"][str(path)] += 1
        return real_parse(path, text, mode)

    def acquire(path: Path, wait_seconds: float):
        counts["locks"][str(path)] += 1
        return real_acquire(path, wait_seconds)

    monkeypatch.setattr(files, "read_text", read)
    monkeypatch.setattr(yamlio, "parse_yaml", parse)
    monkeypatch.setattr(lock, "_acquire", acquire)
    return counts


def test_tenant_add_takes_one_lock_and_reads_each_file_once(example_copy: Path, counted: dict[str, Counter]) -> None:
    with serve_standin() as standin:
        result = CliRunner().invoke(cli, ["tenant", "add", "choir-quebec", "--plan", "small", "--region", "ca",
                                          "--exporter", standin.url, "--inventory", str(example_copy)])
    assert result.exit_code == 0, result.output
    assert "choir-quebec" in load_inventory(example_copy).tenants
    assert counted["locks"] == Counter({str(example_copy.resolve()): 1})
    every_file = {str(p) for p in example_copy.rglob("*.yml")}
    reads = {path: n for path, n in counted["reads"].items() if path in every_file}
    # the load after the command (the assertion above) read each file once more: subtract it
    assert set(reads) == every_file - {str(example_copy / "group_vars/all/vault.yml.example")}
    assert {n for n in reads.values()} == {2}, reads
    tenants = str(example_copy / TENANTS)
    # tenants.yml: its text from disk, the unplaced record checked, the placed one validated
    # (plus the test's own load); every other file is parsed once by the command.
    assert counted["parses"][tenants] == 4
    assert {n for path, n in counted["parses"].items() if path != tenants} == {2}


def test_a_session_that_raises_writes_nothing(example_copy: Path) -> None:
    before = snapshot(example_copy)
    with pytest.raises(RuntimeError), edit_inventory(example_copy, "test") as edit:
        edit.set_tenant("choir-lyon", {"plan": "small", "region": "eu"}, create=True)
        raise RuntimeError("the command failed after staging")
    assert snapshot(example_copy) == before


def test_staged_edits_are_validated_together_and_refused_together(example_copy: Path) -> None:
    before = snapshot(example_copy)
    with pytest.raises(InventoryWriteError, match=r"fleet_tenants\.choir-lyon\.bbb_server") as caught, \
            edit_inventory(example_copy, "two edits") as edit:
        edit.set_host_var("bbb-eu-2.example.coop", "fleet_bbb_state", "retired")
        edit.set_tenant("choir-lyon", {"plan": "small", "region": "eu", "bbb_server": "bbb-eu-2.example.coop"},
                        create=True)
    assert "is retired and can hold no tenant" in caught.value.render()
    assert snapshot(example_copy) == before  # neither file written, though each alone may validate


def test_a_nested_session_waits_like_any_other_writer(example_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One session per command: the lock is not re-entrant, so nesting is a bug that shows.
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.2)
    with edit_inventory(example_copy, "outer"), pytest.raises(lock.InventoryBusyError), \
            edit_inventory(example_copy, "inner"):
        pass
