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

from meetfleet.fleet.writer import set_tenant

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
