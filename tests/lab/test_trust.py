"""Which CA bundle lab hosts are given: the one this machine's pip trusts, or none."""

from __future__ import annotations

from pathlib import Path

from meetfleet.lab.trust import machine_pip_bundle


def test_pip_cert_from_the_environment_wins(tmp_path: Path) -> None:
    bundle = tmp_path / "env.pem"
    bundle.write_text("x")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ncert = {tmp_path / 'other.pem'}\n")
    assert machine_pip_bundle({"PIP_CERT": str(bundle)}, conf) == bundle


def test_pip_conf_cert_is_used_without_the_environment(tmp_path: Path) -> None:
    bundle = tmp_path / "conf.pem"
    bundle.write_text("x")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ncert = {bundle}\n")
    assert machine_pip_bundle({}, conf) == bundle


def test_no_bundle_named_or_missing_file_means_nothing_to_give(tmp_path: Path) -> None:
    assert machine_pip_bundle({}, tmp_path / "absent.conf") is None
    assert machine_pip_bundle({"PIP_CERT": str(tmp_path / "gone.pem")}, tmp_path / "absent.conf") is None
    broken = tmp_path / "pip.conf"
    broken.write_text("not an ini [")
    assert machine_pip_bundle({}, broken) is None
