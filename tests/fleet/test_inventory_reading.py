"""Shapes and files that used to crash, hang or exhaust memory: `meetfleet inventory
check` answers each with exit 2 and the file, in bounded time and memory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory, yamlio
from tests.fleet.checks import append, refused, refused_in_subprocess
from tests.helpers import edit, run

EU1 = "host_vars/bbb-eu-1.example.coop.yml"


# --- shapes of hosts.yml ------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "words", "line"), [
    ("    turn:\n      hosts:\n        turn-eu-1.example.coop:\n", "    turn:\n      - turn-eu-1.example.coop\n",
     ["turn", "a group must be a mapping", "not a list"], 10),
    ("    turn:\n      hosts:\n        turn-eu-1.example.coop:\n",
     "    turn:\n      hosts:\n      - turn-eu-1.example.coop\n",
     ["turn.hosts", "not a list"], 11),
    ("        turn-eu-1.example.coop:\n", "        turn-eu-1.example.coop: just a string\n",
     ["turn.hosts.turn-eu-1.example.coop", "not a string"], 12),
    ("        turn-eu-1.example.coop:\n", "        turn-eu-1.example.coop: 42\n",
     ["turn.hosts.turn-eu-1.example.coop", "not a number"], 12),
    ("all:\n  children:\n", "all:\n  vars: [1, 2]\n  children:\n", ["all.vars", "not a list"], 4),
    ("all:\n  children:\n", "all:\n  vars: text\n  children:\n", ["all.vars", "not a string"], 4),
])
def test_hosts_yml_of_the_wrong_shape_is_refused(example_copy: Path, old: str, new: str, words: list[str],
                                                 line: int) -> None:
    edit(example_copy / "hosts.yml", old, new)
    refused(example_copy, "hosts.yml", *words, line=line)


def test_children_as_a_list_is_refused(example_copy: Path) -> None:
    (example_copy / "hosts.yml").write_text("all:\n  children:\n    - bbb\n    - turn\n")
    refused(example_copy, "hosts.yml", "all.children", "not a list", line=2)


def test_all_group_that_is_a_number_is_refused(example_copy: Path) -> None:
    (example_copy / "hosts.yml").write_text("all: 5\n")
    refused(example_copy, "hosts.yml", "a group must be a mapping", "not a number", line=1)


def test_vars_file_that_is_a_list_is_refused(example_copy: Path) -> None:
    (example_copy / EU1).write_text("- fleet_region: eu\n")
    refused(example_copy, EU1, "must be a mapping of variables, not a list")


def test_unhashable_key_is_refused(example_copy: Path) -> None:
    append(example_copy / EU1, "? [a, b]\n: c\n")
    refused(example_copy, EU1, "YAML error", "a list or mapping")


@pytest.mark.parametrize("value", ["2024-13-45", "1" * 5000])
def test_scalar_that_cannot_be_built_is_a_yaml_error(example_copy: Path, value: str) -> None:
    line = append(example_copy / EU1, f"bbb_anything: {value}\n")
    refused(example_copy, EU1, "YAML error", "cannot read", line=line)


# --- files that are not regular files, or cannot be read -----------------------------------

def test_fifo_is_refused_without_hanging(example_copy: Path) -> None:
    os.mkfifo(example_copy / "group_vars/all/pipe.yml")
    refused_in_subprocess(example_copy, "group_vars/all/pipe.yml", "FIFO")


def test_fifo_in_host_vars_top_level_is_refused(example_copy: Path) -> None:
    (example_copy / EU1).unlink()
    os.mkfifo(example_copy / EU1)
    refused_in_subprocess(example_copy, EU1, "FIFO")


def test_device_symlinked_in_group_vars_is_refused_without_reading_it(example_copy: Path) -> None:
    (example_copy / "group_vars/all/zero.yml").symlink_to("/dev/zero")
    refused_in_subprocess(example_copy, "group_vars/all/zero.yml", "character device")


def test_symlink_loop_is_refused(example_copy: Path) -> None:
    (example_copy / "group_vars/all/loop.yml").symlink_to(example_copy / "group_vars/all/loop.yml")
    refused(example_copy, "group_vars/all/loop.yml", "symlink loop")


def test_symlinked_directory_loop_is_refused(example_copy: Path) -> None:
    (example_copy / "group_vars/a").symlink_to(example_copy / "group_vars/b")
    (example_copy / "group_vars/b").symlink_to(example_copy / "group_vars/a")
    refused(example_copy, "group_vars/a", "symlink loop")


def test_file_over_the_size_limit_is_refused(example_copy: Path) -> None:
    big = example_copy / "group_vars/all/big.yml"
    with big.open("wb") as f:  # sparse: no disk used
        f.truncate(yamlio.MAX_FILE_BYTES + 1)
    refused(example_copy, "group_vars/all/big.yml", "8 MiB")


def test_unreadable_file_is_refused(example_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, whom chmod 000 does not stop: the open fails as it would for a user.
    target = str(example_copy / EU1)
    real_open = os.open

    def deny(path: os.PathLike | str, *args: object, **kwargs: object) -> int:
        if str(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(yamlio.os, "open", deny)
    refused(example_copy, EU1, "cannot be read", "Permission denied")


def test_unreadable_directory_is_refused(example_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = example_copy / "host_vars"
    real_iterdir = Path.iterdir

    def deny(self: Path):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", deny)
    refused(example_copy, "host_vars", "(directory)", "cannot be read")


def test_group_vars_that_is_a_file_is_refused(example_copy: Path) -> None:
    shutil.rmtree(example_copy / "group_vars")
    (example_copy / "group_vars").write_text("fleet_regions: {}\n")
    refused(example_copy, "group_vars", "must be a directory")


def test_file_that_is_not_utf8_is_refused(example_copy: Path) -> None:
    (example_copy / EU1).write_bytes(b"fleet_region: \xff\xfe\n")
    refused(example_copy, EU1, "not UTF-8")


# --- expansion bombs ---------------------------------------------------------------------

BILLION_LAUGHS = "".join(
    ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n']
    + [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 10)]
)


def test_billion_laughs_in_a_fleet_value_is_refused(example_copy: Path) -> None:
    text = BILLION_LAUGHS.replace("lol9: &lol9", "fleet_tenants:\n  bomb:\n    origin_server_names:")
    (example_copy / "group_vars/all/tenants.yml").write_text(text)
    refused_in_subprocess(example_copy, "group_vars/all/tenants.yml", "alias bomb", line=7)


def test_billion_laughs_in_a_role_variable_is_refused(example_copy: Path) -> None:
    (example_copy / "group_vars/all/laughs.yml").write_text(BILLION_LAUGHS)
    refused_in_subprocess(example_copy, "group_vars/all/laughs.yml", "alias bomb")


def test_recursive_alias_is_refused(example_copy: Path) -> None:
    append(example_copy / EU1, "bbb_loop: &loop [*loop]\n")
    refused(example_copy, EU1, "recursive alias")


def test_a_few_aliases_are_fine(example_copy: Path) -> None:
    append(example_copy / EU1, "bbb_defaults: &d {a: 1}\nbbb_copy: *d\n")
    assert run("inventory", "check", "--inventory", str(example_copy)).exit_code == 0


@pytest.mark.parametrize(("template", "words"), [
    ("https://{{ 'x' * 10**9 }}/bigbluebutton/api", ["may only substitute variables"]),
    ("{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
     ["may only substitute variables"]),
    ("{{ inventory_hostname | replace('.', inventory_hostname * 1000) }}", ["may only substitute variables"]),
    ("{{ inventory_hostname | replace('', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')"
     " | replace('x', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy') }}", ["16,384 characters"]),
    ("{{ lookup('pipe', 'id') }}", ["may only substitute variables"]),
    ("{{ fleet_region | map('upper') }}", ["filter 'map'"]),
])
def test_template_bomb_in_a_fleet_value_is_refused(example_copy: Path, template: str, words: list[str]) -> None:
    line = append(example_copy / "group_vars/bbb.yml", f"fleet_bbb_api_url: {template!r}\n")
    output = refused_in_subprocess(example_copy, "group_vars/bbb.yml", "fleet_bbb_api_url", *words, line=line)
    assert "x" * 200 not in output and "y" * 200 not in output


def test_template_output_over_the_limit_is_refused(example_copy: Path) -> None:
    line = append(example_copy / "group_vars/bbb.yml",
                  "bbb_big: " + "z" * 5000 + "\nfleet_bbb_api_url: '" + "{{ bbb_big }}" * 4 + "'\n")
    output = refused(example_copy, "group_vars/bbb.yml", "fleet_bbb_api_url", "16,384 characters", line=line + 1)
    assert "z" * 200 not in output


def test_simple_substitution_still_renders(example_copy: Path) -> None:
    append(example_copy / "group_vars/bbb.yml",
           "fleet_bbb_api_url: \"https://{{ inventory_hostname | lower }}/bigbluebutton/api\"\n")
    assert load_inventory(example_copy).hosts["bbb-eu-1.example.coop"].bbb.api_url == \
        "https://bbb-eu-1.example.coop/bigbluebutton/api"


def test_long_value_is_not_echoed_whole(example_copy: Path) -> None:
    edit(example_copy / EU1, "fleet_bbb_state: active", "fleet_bbb_state: " + "q" * 100_000)
    output = refused(example_copy, EU1, "fleet_bbb_state", "unknown state")
    assert "q" * 100 not in output

