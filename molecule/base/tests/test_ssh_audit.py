"""sshd hardening as ssh-audit sees it from the machine running molecule, and the host keys on disk."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTAINER = "meetfleet-molecule-base"
HERE = Path(__file__).parent
ROLES = HERE.parents[2] / "roles"

# What base offers on the lab image (Debian 12, OpenSSH 9.2): the defaults minus
# mlkem768x25519-sha256, which OpenSSH has from 9.9 only.
EXPECTED_OFFER = {
    "kex": ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256@libssh.org",
            # Not an algorithm: OpenSSH's marker for strict key exchange (Terrapin, CVE-2023-48795).
            "kex-strict-s-v00@openssh.com"],
    # Only the types of the keys sshd has (no HostCertificate here, so no -cert- forms).
    "key": ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"],
    "enc": ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr",
            "aes192-ctr", "aes128-ctr"],
    "mac": ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com"],
}

# The one verdict base accepts, with why: paramiko (pyinfra's SSH, deploy/) offers no
# post-quantum key exchange, so X25519 stays after the hybrids OpenSSH clients pick first.
KEPT_FOR_PYINFRA = {
    ("kex", "curve25519-sha256@libssh.org", "warn", "does not provide protection against post-quantum attacks"),
}

# ssh-audit's exit status: 3 when it found a failure, 2 a warning (and no failure), 0 neither.
EXIT_FAILURE, EXIT_WARNING, EXIT_GOOD = 3, 2, 0


def _ssh_audit() -> str:
    """ssh-audit of the `dev` extra (next to this interpreter), else one on the PATH."""
    beside = Path(sys.executable).parent / "ssh-audit"
    found = str(beside) if beside.exists() else shutil.which("ssh-audit")
    assert found, "ssh-audit is missing: scripts/setup.sh installs it (`pip install -e .[dev]`)"
    return found


def _name(entry) -> str:
    return entry["algorithm"] if isinstance(entry, dict) else entry


@pytest.fixture(scope="module")
def audit(container_ip):
    """ssh-audit's JSON report on the container's sshd, and its exit status."""
    proc = subprocess.run([_ssh_audit(), "--json", "--timeout=10", container_ip],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (EXIT_GOOD, EXIT_WARNING, EXIT_FAILURE), proc.stdout + proc.stderr
    return json.loads(proc.stdout), proc.returncode


def _findings(report: dict) -> list[tuple[str, str, str, str]]:
    """Every failure and warning ssh-audit gives, as (type, algorithm, level, text)."""
    entries = [(kind, entry) for kind in ("kex", "key", "enc", "mac") for entry in report.get(kind, [])]
    found = [(kind, entry["algorithm"], level, text)
             for kind, entry in entries for level in ("fail", "warn") for text in entry["notes"].get(level, [])]
    found += [("cve", cve["name"], "fail" if cve.get("cvssv2", 0) >= 8 else "warn", cve.get("description", ""))
              for cve in report.get("cves", [])]
    return found


def test_ssh_audit_finds_no_failure_and_no_warning(audit):
    report, status = audit
    findings = _findings(report)
    failures = [f for f in findings if f[2] == "fail"]
    warnings = [f for f in findings if f[2] == "warn" and f not in KEPT_FOR_PYINFRA]
    assert failures == []
    assert warnings == []
    # ssh-audit's own summary of the same verdicts: shows they were read as it reads them.
    worst = (EXIT_FAILURE if any(f[2] == "fail" for f in findings)
             else EXIT_WARNING if findings else EXIT_GOOD)
    assert status == worst, findings


def test_ssh_audit_sees_exactly_the_hardened_offer(audit):
    report, _ = audit
    assert {kind: [_name(entry) for entry in report[kind]] for kind in EXPECTED_OFFER} == EXPECTED_OFFER


def test_ssh_audit_sees_an_rsa_host_key_of_at_least_3072_bits(audit):
    report, _ = audit
    rsa = [entry for entry in report["key"] if entry["algorithm"].startswith("rsa-")]
    sizes = {entry["algorithm"]: entry.get("keysize", 0) for entry in rsa}
    assert sizes and all(size >= 3072 for size in sizes.values()), sizes


def test_left_out_algorithms_are_those_this_openssh_lacks(host):
    # The role asks the host (ssh -Q): mlkem768x25519-sha256 is wanted but OpenSSH 9.2 lacks it.
    assert "mlkem768x25519-sha256" not in host.check_output("ssh -Q kex").split()
    drop_in = host.file("/etc/ssh/sshd_config.d/10-meetfleet-hardening.conf").content_string
    assert "so left out: mlkem768x25519-sha256\n" in drop_in


def test_host_keys_on_disk_are_only_ed25519_and_rsa_of_3072_bits_or_more(host):
    files = sorted(host.check_output("ls /etc/ssh | grep '^ssh_host_' || true").split())
    assert files == ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "ssh_host_rsa_key", "ssh_host_rsa_key.pub"]
    ed25519 = host.check_output("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").split()
    rsa = host.check_output("ssh-keygen -lf /etc/ssh/ssh_host_rsa_key.pub").split()
    assert ed25519[-1] == "(ED25519)"
    assert rsa[-1] == "(RSA)" and int(rsa[0]) >= 3072
    # prepare.yml gave sshd a 2048-bit key: base replaced it rather than leaving it.
    short = host.file("/root/molecule-short-rsa-host-key.fp").content_string.split()
    assert short[0] == "2048" and short[1] != rsa[1]


def test_sshd_uses_only_those_host_keys_and_requires_3072_bit_rsa(host):
    settings = host.check_output("sshd -T").splitlines()
    assert sorted(line for line in settings if line.startswith("hostkey ")) == [
        "hostkey /etc/ssh/ssh_host_ed25519_key", "hostkey /etc/ssh/ssh_host_rsa_key"]
    assert "requiredrsasize 3072" in settings


def test_this_machines_ssh_client_still_logs_in(container_ip, tmp_path):
    # The client Ansible uses on lab hosts: this machine's OpenSSH, with an ed25519 key.
    key = tmp_path / "operator"
    subprocess.run(["podman", "cp", f"{CONTAINER}:/root/molecule-operator", str(key)], check=True, timeout=30)
    key.chmod(0o600)
    result = subprocess.run(
        ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", f"alice@{container_ip}", "id -un"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice"


def test_pyinfras_ssh_library_still_logs_in(container_ip, tmp_path):
    # pyinfra (deploy/) speaks SSH through paramiko, which has no post-quantum key exchange:
    # the reason X25519 stays in base_ssh_kex_algorithms (KEPT_FOR_PYINFRA above).
    import logging

    import paramiko

    agreed: list[str] = []

    class KexLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Kex: "):
                agreed.append(record.getMessage()[len("Kex: "):])

    log = logging.getLogger("paramiko.transport")
    handler = KexLog()
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    key = tmp_path / "operator"
    subprocess.run(["podman", "cp", f"{CONTAINER}:/root/molecule-operator", str(key)], check=True, timeout=30)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a throwaway container
    try:
        client.connect(container_ip, username="alice", key_filename=str(key), timeout=10, banner_timeout=10,
                       auth_timeout=10, look_for_keys=False, allow_agent=False)
        _, stdout, _ = client.exec_command("id -un", timeout=30)
        assert stdout.read().decode().strip() == "alice"
        assert agreed == ["curve25519-sha256@libssh.org"]
    finally:
        client.close()
        log.removeHandler(handler)


def test_an_admin_rsa_key_below_3072_bits_is_refused_before_sshd_is_touched(host, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(tmp_path / "short")],
                   check=True, timeout=60)
    short_key = (tmp_path / "short.pub").read_text().strip()
    before = host.file("/etc/ssh/sshd_config.d/10-meetfleet-hardening.conf").content_string
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PIPELINING": "1"}
    result = subprocess.run(
        ["ansible-playbook", "-i", f"{CONTAINER},", "-c", "containers.podman.podman",
         "-e", json.dumps({"base_admin_users": [{"name": "carol", "ssh_keys": [short_key]}]}),
         str(HERE / "sshd_only.yml")],
        capture_output=True, text=True, env=env, timeout=180, check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output[-2000:]
    assert "carol has a 2048-bit RSA key in base_admin_users" in output, output[-2000:]
    assert host.file("/etc/ssh/sshd_config.d/10-meetfleet-hardening.conf").content_string == before
