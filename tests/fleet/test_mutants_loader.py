"""Inventory loading: what mutation testing found untested (docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from tests.fleet.checks import append, refused
from tests.helpers import run

EU1 = "host_vars/bbb-eu-1.example.coop.yml"


@pytest.mark.parametrize("port", [1, 22, 65535])
def test_every_port_up_to_65535_is_accepted(example_copy: Path, port: int) -> None:
    append(example_copy / EU1, f"ansible_port: {port}\n")
    assert run("inventory", "check", "--inventory", str(example_copy)).exit_code == 0


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_port_outside_1_to_65535_is_refused(example_copy: Path, port: int) -> None:
    line = append(example_copy / EU1, f"ansible_port: {port}\n")
    refused(example_copy, EU1, "bbb-eu-1.example.coop.ansible_port", line=line)


@pytest.mark.parametrize(("template", "kind"), [
    ("{{ lookup('pipe', 'id') }}", "call"),
    ("{{ 'x' * 10 }}", "mul"),
    ("{% if true %}x{% endif %}", "if"),
])
def test_a_refused_template_names_what_it_holds(example_copy: Path, template: str, kind: str) -> None:
    line = append(example_copy / "group_vars/bbb.yml", f"fleet_bbb_api_url: {template!r}\n")
    output = refused(example_copy, "group_vars/bbb.yml", "fleet_bbb_api_url", line=line)
    assert f"{kind} ({{% ... %}} blocks, calls and operators are not read here)" in " ".join(output.split())


def test_an_unreadable_entry_in_group_vars_is_a_problem_that_says_why(example_copy: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    entry = example_copy / "group_vars" / "all" / "tenants.yml"
    real = Path.lstat

    def lstat(self: Path, *args, **kwargs):
        if self == entry:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "lstat", lstat)
    output = refused(example_copy, "group_vars/all/tenants.yml", "cannot be read: Permission denied")
    assert "None" not in output


def test_an_inventory_with_a_single_group_vars_all_file_loads(example_copy: Path) -> None:
    # group_vars/all as one file, not a directory: read as well (and written there, test_mutants_writer.py).
    all_dir = example_copy / "group_vars" / "all"
    text = "".join(p.read_text() for p in sorted(all_dir.glob("*.yml")))
    for p in all_dir.iterdir():
        p.unlink()
    all_dir.rmdir()
    (example_copy / "group_vars" / "all.yml").write_text(text)
    fleet = load_inventory(example_copy)
    assert "bakery-collective" in fleet.tenants
