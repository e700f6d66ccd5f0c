"""Inventory writes: what mutation testing found untested (docs/testing.md).

The file's own mode is kept whatever it is (not only 0600, the mode a temporary file
has anyway), the new text is fsynced before the rename, and the directory is fsynced
after it so the rename survives a crash.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meetfleet.fleet.writer import set_host_var, set_tenant

TENANTS = "group_vars/all/tenants.yml"
MOVE = ("bakery-collective", {"bbb_server": "bbb-eu-2.example.coop"})


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o400])
def test_the_files_own_mode_is_kept(example_copy: Path, mode: int) -> None:
    path = example_copy / TENANTS
    path.chmod(mode)
    set_tenant(example_copy, *MOVE, create=False)
    assert "bbb_server: bbb-eu-2.example.coop" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_the_text_is_fsynced_before_the_rename_and_the_directory_after(example_copy: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = example_copy / TENANTS
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        kind = "directory" if stat.S_ISDIR(info.st_mode) else "file"
        where = "inventory" if kind == "file" or os.path.samestat(info, path.parent.stat()) else "elsewhere"
        events.append((f"fsync {kind}", where))
        real_fsync(fd)

    def replace(src, dst, *args, **kwargs) -> None:
        events.append(("replace", Path(dst).name))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    set_tenant(example_copy, *MOVE, create=False)
    assert events == [("fsync file", "inventory"), ("replace", "tenants.yml"), ("fsync directory", "inventory")]


EU2 = "bbb-eu-2.example.coop"
NEW = ("choir-quebec", {"plan": "small", "region": "ca", "bbb_server": "bbb-ca-1.example.coop"})


def test_a_key_is_written_in_the_host_vars_file_that_holds_it(example_copy: Path) -> None:
    # host_vars/HOST/ as a directory of two files; the state is in the second one.
    single = example_copy / "host_vars" / f"{EU2}.yml"
    text = single.read_text()
    single.unlink()
    directory = example_copy / "host_vars" / EU2
    directory.mkdir()
    base, state = directory / "00-base.yml", directory / "50-state.yml"
    base.write_text(text.replace("fleet_bbb_state: active\n", ""))
    state.write_text("fleet_bbb_state: active\n")
    before = base.read_text()
    fleet = set_host_var(example_copy, EU2, "fleet_bbb_state", "cordoned")
    assert fleet.hosts[EU2].bbb.state.value == "cordoned"
    assert state.read_text() == "fleet_bbb_state: cordoned\n"
    assert base.read_text() == before


def test_tenants_are_written_where_fleet_tenants_is_whatever_the_files_name(example_copy: Path) -> None:
    all_dir = example_copy / "group_vars" / "all"
    (all_dir / "tenants.yml").rename(all_dir / "members.yml")
    set_tenant(example_copy, *NEW, create=True)
    assert not (all_dir / "tenants.yml").exists()
    assert "choir-quebec:" in (all_dir / "members.yml").read_text()


def test_without_fleet_tenants_a_single_group_vars_all_file_gets_them(example_copy: Path) -> None:
    all_dir = example_copy / "group_vars" / "all"
    text = "".join(p.read_text() for p in sorted(all_dir.glob("*.yml")) if p.name != "tenants.yml")
    for p in all_dir.iterdir():
        p.unlink()
    all_dir.rmdir()
    single = example_copy / "group_vars" / "all.yml"
    single.write_text(text)
    # no tenant refers to anything now: the servers carry none
    set_tenant(example_copy, *NEW, create=True)
    assert not all_dir.exists()
    assert "choir-quebec:" in single.read_text()


def test_a_secret_is_refused_without_a_vault_file_and_when_it_exists(example_copy: Path) -> None:
    from meetfleet.fleet.writer import InventoryWriteError, edit_inventory

    vault = example_copy / "group_vars" / "all" / "vault.yml"
    assert not vault.exists()
    with pytest.raises(InventoryWriteError) as none, edit_inventory(example_copy, "test") as session:
        session.add_secret("vault_gateway_secret_x", "s3cret")
    assert [(p.file, p.key) for p in none.value.problems] == [(vault, "(file)")]
    assert "ansible-vault create" in none.value.problems[0].message
    vault.write_text("vault_gateway_secret_x: old\n")
    vault.chmod(0o600)
    with pytest.raises(InventoryWriteError) as twice, edit_inventory(example_copy, "test") as session:
        session.add_secret("vault_gateway_secret_x", "n3w-s3cret")
    assert [(p.file, p.key) for p in twice.value.problems] == [(vault, "vault_gateway_secret_x")]
    assert vault.read_text() == "vault_gateway_secret_x: old\n"
    assert "s3cret" not in str(none.value) and "n3w-s3cret" not in str(twice.value)
