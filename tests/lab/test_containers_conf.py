"""containers.conf gets the lab's settings; everything else in it, comments too, is kept."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from meetfleet.lab.containers_conf import ensure_containers_conf, merge_containers_conf
from meetfleet.lab.podman import LabError

REQUIRED = {"containers": {"default_ulimits": [], "pids_limit": 0}, "engine": {"runtime": "runc"}}


def has_required(text: str) -> bool:
    data = tomllib.loads(text)
    return all(data.get(section, {}).get(k) == v for section, kv in REQUIRED.items() for k, v in kv.items())


def test_empty_file_gets_all_three_settings() -> None:
    text, changed = merge_containers_conf("")
    assert has_required(text)
    assert sorted(changed) == ["containers.default_ulimits", "containers.pids_limit", "engine.runtime"]


def test_complete_file_is_left_byte_for_byte() -> None:
    original = '# site settings\n[containers]\ndefault_ulimits = []\npids_limit = 0\n\n[engine]\nruntime = "runc"\n'
    text, changed = merge_containers_conf(original)
    assert changed == []
    assert text == original


def test_other_settings_and_comments_survive_conflicting_values_are_fixed() -> None:
    original = (
        "# managed by hand, do not remove\n"
        "[containers]\n"
        'log_driver = "k8s-file"  # keep journald off\n'
        'default_ulimits = ["nofile=1024:1024"]\n'
        "\n"
        "[engine]\n"
        'runtime = "crun"\n'
        'events_logger = "file"\n'
        "\n"
        "[network]\n"
        'network_backend = "netavark"\n'
    )
    text, changed = merge_containers_conf(original)
    assert sorted(changed) == ["containers.default_ulimits", "containers.pids_limit", "engine.runtime"]
    assert has_required(text)
    data = tomllib.loads(text)
    assert data["containers"]["log_driver"] == "k8s-file"
    assert data["engine"]["events_logger"] == "file"
    assert data["network"]["network_backend"] == "netavark"
    assert "# managed by hand, do not remove" in text
    assert "# keep journald off" in text


def test_invalid_toml_is_refused_with_its_line() -> None:
    with pytest.raises(LabError) as caught:
        merge_containers_conf("[containers]\npids_limit = = 0\n", "/etc/containers/containers.conf")
    assert "/etc/containers/containers.conf" in str(caught.value)
    assert "line 2" in str(caught.value)


def test_ensure_writes_once_then_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "containers" / "containers.conf"
    assert len(ensure_containers_conf(path)) == 3
    first = path.read_text()
    assert has_required(first)
    assert ensure_containers_conf(path) == []
    assert path.read_text() == first
    assert [p.name for p in path.parent.iterdir()] == ["containers.conf"]  # no temp file left


def test_ensure_leaves_an_invalid_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "containers.conf"
    path.write_text("[containers\n")
    with pytest.raises(LabError):
        ensure_containers_conf(path)
    assert path.read_text() == "[containers\n"
