"""Inventory writes: atomic, comment-keeping, refused when the result would not validate."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from meetfleet.fleet import ServerState, load_inventory, writer
from meetfleet.fleet.writer import InventoryWriteError, set_host_var, set_tenant
from tests.helpers import edit, snapshot

TENANTS = "group_vars/all/tenants.yml"


def test_new_tenant_is_appended_and_every_other_byte_is_kept(example_copy: Path) -> None:
    before = (example_copy / TENANTS).read_text()
    fleet = set_tenant(example_copy, "choir-lyon", {"plan": "small", "region": "eu",
                                                    "bbb_server": "bbb-eu-2.example.coop",
                                                    "origin_server_names": ["choir.rooms-eu.example.coop"]},
                       create=True)
    after = (example_copy / TENANTS).read_text()
    assert after == before + ("  choir-lyon:\n    plan: small\n    region: eu\n"
                              "    bbb_server: bbb-eu-2.example.coop\n"
                              "    origin_server_names: [choir.rooms-eu.example.coop]\n")
    assert fleet.tenants["choir-lyon"].bbb_server == "bbb-eu-2.example.coop"


def test_moving_a_tenant_changes_one_line(example_copy: Path) -> None:
    before = (example_copy / TENANTS).read_text().splitlines()
    set_tenant(example_copy, "bakery-collective", {"bbb_server": "bbb-eu-2.example.coop"}, create=False)
    after = (example_copy / TENANTS).read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("    bbb_server: bbb-eu-1.example.coop", "    bbb_server: bbb-eu-2.example.coop")]


def test_server_state_is_written_in_place_or_added(example_copy: Path) -> None:
    host_file = example_copy / "host_vars/bbb-eu-2.example.coop.yml"
    text = host_file.read_text()
    fleet = set_host_var(example_copy, "bbb-eu-2.example.coop", "fleet_bbb_state", "cordoned")
    assert host_file.read_text() == text.replace("fleet_bbb_state: active", "fleet_bbb_state: cordoned")
    assert fleet.hosts["bbb-eu-2.example.coop"].bbb.state == ServerState.CORDONED
    # A host file without the key gets it appended.
    edit(host_file, "fleet_bbb_state: cordoned\n", "")
    text = host_file.read_text()
    set_host_var(example_copy, "bbb-eu-2.example.coop", "fleet_bbb_state", "draining")
    assert host_file.read_text() == text + "fleet_bbb_state: draining\n"


def test_file_mode_is_kept(example_copy: Path) -> None:
    path = example_copy / TENANTS
    path.chmod(0o600)
    set_tenant(example_copy, "bakery-collective", {"bbb_server": "bbb-eu-2.example.coop"}, create=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


INVALID_EDITS = {
    "tenant-in-unknown-region": ("choir", {"plan": "small", "region": "asia"}, True,
                                 ["fleet_tenants.choir.region", "unknown region 'asia'"]),
    "tenant-on-server-of-other-region": ("bakery-collective", {"bbb_server": "bbb-ca-1.example.coop"}, False,
                                         ["fleet_tenants.bakery-collective.bbb_server", "is in region 'ca'"]),
    "tenant-that-exists": ("cafe-montreal", {"plan": "small", "region": "ca"}, True, ["already exists"]),
    "tenant-that-does-not-exist": ("nobody", {"bbb_server": "bbb-eu-1.example.coop"}, False, ["no such tenant"]),
    "tenant-with-bad-name": ("Bad_Name", {"plan": "small", "region": "eu"}, True, ["fleet_tenants.Bad_Name"]),
}


@pytest.mark.parametrize("case", sorted(INVALID_EDITS))
def test_invalid_write_leaves_the_inventory_byte_for_byte(example_copy: Path, case: str) -> None:
    name, fields, create, words = INVALID_EDITS[case]
    before = snapshot(example_copy)
    with pytest.raises(InventoryWriteError) as caught:
        set_tenant(example_copy, name, fields, create=create)
    message = caught.value.render()
    assert "nothing was changed" in message
    assert str(example_copy / TENANTS) in message  # the real file, not the overlay
    for word in words:
        assert word in message
    assert snapshot(example_copy) == before


def test_retiring_a_server_with_tenants_is_refused(example_copy: Path) -> None:
    before = snapshot(example_copy)
    with pytest.raises(InventoryWriteError, match="is retired and can hold no tenant"):
        set_host_var(example_copy, "bbb-eu-2.example.coop", "fleet_bbb_state", "retired")
    assert snapshot(example_copy) == before


def test_write_is_refused_when_the_inventory_is_already_invalid(example_copy: Path) -> None:
    edit(example_copy / "group_vars/all/fleet.yml", "max_rooms: 20", "max_rooms: 0")
    before = snapshot(example_copy)
    with pytest.raises(InventoryWriteError, match="does not validate as it is") as caught:
        set_host_var(example_copy, "bbb-eu-2.example.coop", "fleet_bbb_state", "cordoned")
    assert "fleet_plans.medium.max_rooms" in caught.value.render()
    assert snapshot(example_copy) == before


@pytest.mark.parametrize("broken", ["replace", "fsync"])
def test_failed_write_leaves_the_inventory_byte_for_byte_and_can_be_rerun(
        example_copy: Path, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    before = snapshot(example_copy)
    real = getattr(os, broken)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, broken, disk_full)
    with pytest.raises(OSError, match="No space left"):
        set_tenant(example_copy, "bakery-collective", {"bbb_server": "bbb-eu-2.example.coop"}, create=False)
    assert snapshot(example_copy) == before  # no temporary file left either
    monkeypatch.setattr(os, broken, real)
    set_tenant(example_copy, "bakery-collective", {"bbb_server": "bbb-eu-2.example.coop"}, create=False)
    assert load_inventory(example_copy).tenants["bakery-collective"].bbb_server == "bbb-eu-2.example.coop"


def test_validating_an_edit_writes_no_file_anywhere(example_copy: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The edit is validated in memory (the staged text in place of the file): no overlay, no
    # temporary directory, no copy of any file (secrets included) until the one rename.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with writer.edit_inventory(example_copy, "test") as edit:
        edit.set_host_var("bbb-eu-2.example.coop", "fleet_bbb_state", "cordoned")
        before = snapshot(example_copy)
        assert edit.validate().hosts["bbb-eu-2.example.coop"].bbb.state == ServerState.CORDONED
        assert snapshot(example_copy) == before
        assert list(scratch.iterdir()) == []
    assert load_inventory(example_copy).hosts["bbb-eu-2.example.coop"].bbb.state == ServerState.CORDONED
    assert list(scratch.iterdir()) == []


def test_a_symlinked_file_stays_a_symlink_and_its_target_is_written(example_copy: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "tenants.yml"
    shared.parent.mkdir()
    (example_copy / TENANTS).rename(shared)
    (example_copy / TENANTS).symlink_to(shared)
    set_tenant(example_copy, "bakery-collective", {"bbb_server": "bbb-eu-2.example.coop"}, create=False)
    assert (example_copy / TENANTS).is_symlink() and (example_copy / TENANTS).resolve() == shared
    assert "bbb_server: bbb-eu-2.example.coop" in shared.read_text()
    assert load_inventory(example_copy).tenants["bakery-collective"].bbb_server == "bbb-eu-2.example.coop"
    assert [p.name for p in shared.parent.iterdir()] == ["tenants.yml"]  # no temporary left beside the target


def test_a_killed_writes_temporary_is_removed_by_the_next_write(example_copy: Path) -> None:
    # What a write killed between creating its temporary and the rename leaves behind.
    stale = [example_copy / "group_vars/all/.tenants.yml.meetfleet-k1ll3d_x.tmp",
             example_copy / "host_vars/.bbb-eu-2.example.coop.yml.meetfleet-abcd1234.tmp"]
    for path in stale:
        path.write_text("fleet_tenants: {}\n")
    unrelated = example_copy / "group_vars/all/.notes.tmp"  # not our naming pattern: kept
    unrelated.write_text("mine\n")
    set_host_var(example_copy, "bbb-eu-1.example.coop", "fleet_bbb_state", "cordoned")
    assert [p.exists() for p in stale] == [False, False]
    assert unrelated.read_text() == "mine\n"


def test_a_validation_only_edit_writes_nothing(example_copy: Path) -> None:
    before = snapshot(example_copy)
    fleet = writer.check_tenant(example_copy, "choir-lyon", {"plan": "small", "region": "eu"})
    assert fleet.tenants["choir-lyon"].bbb_server is None
    with pytest.raises(InventoryWriteError, match=r"fleet_tenants\.choir-lyon\.greenlight"):
        writer.check_tenant(example_copy, "choir-lyon", {"plan": "small", "region": "eu", "greenlight": "nowhere"})
    assert snapshot(example_copy) == before
