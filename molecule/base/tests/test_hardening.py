"""Host hardening of roles/base as the host shows it: node exporter reach, fail2ban, kernel
settings, auditd, needrestart and the reboot metric, security updates, core dumps, umask,
temporary files, kernel modules."""

import json
import re
import subprocess
import tempfile
import time

CONTAINER = "meetfleet-molecule-base"
MONITOR = "meetfleet-molecule-base-monitor"
INTRUDER = "meetfleet-molecule-base-intruder"


def podman_exec(container: str, command: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run a shell command in one of the scenario's containers."""
    return subprocess.run(["podman", "exec", container, "sh", "-c", command],
                          capture_output=True, text=True, timeout=timeout, check=False)


def gateway_of(container: str) -> str:
    """The network's gateway: the address the machine running molecule connects from."""
    out = subprocess.run(["podman", "inspect", container], capture_output=True, text=True, check=True, timeout=30)
    networks = json.loads(out.stdout)[0]["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["Gateway"]

SSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5"
LOGIN = f"{SSH} -i /root/molecule-operator alice@127.0.0.1"
PROBE = ("python3 -c \"import socket,sys; s=socket.socket(); s.settimeout(3); "
         "sys.exit(s.connect_ex(('{host}', {port})))\"")


def _reaches(container: str, port: int) -> bool:
    return podman_exec(container, PROBE.format(host=CONTAINER, port=port), timeout=30).returncode == 0


def test_node_exporter_reachable_from_the_monitoring_host_only():
    assert _reaches(MONITOR, 9100)
    assert not _reaches(INTRUDER, 9100)
    # Both reach SSH: it is the exporter's rule, not the network, that tells them apart.
    assert _reaches(MONITOR, 22) and _reaches(INTRUDER, 22)


def _failed_logins(container: str | None, count: int) -> None:
    """`count` SSH logins with a key alice does not have, from a container or from here."""
    command = (f"test -f /root/wrong || ssh-keygen -q -t ed25519 -N '' -f /root/wrong; "
               # timeout: a ban landing mid-handshake leaves ssh waiting on TCP retransmissions.
               f"for i in $(seq {count}); do timeout 10 {SSH} -i /root/wrong alice@{CONTAINER} true; done")
    if container is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp}/wrong"], check=True,
                           timeout=30)
            target = podman_exec(CONTAINER, "hostname -I").stdout.split()[0]
            for _ in range(count):
                subprocess.run(["timeout", "10", *SSH.split(), "-i", f"{tmp}/wrong", f"alice@{target}", "true"],
                               capture_output=True, timeout=30, check=False)
        return
    podman_exec(container, command, timeout=300)


def _banned(host) -> list[str]:
    status = host.check_output("fail2ban-client status sshd")
    match = re.search(r"Banned IP list:\s*(.*)", status)
    return match[1].split() if match else []


def test_ten_failed_logins_ban_an_address_but_never_an_admins(host):
    intruder = podman_exec(INTRUDER, "hostname -I").stdout.split()[0]
    admin = gateway_of(CONTAINER)
    assert host.service("fail2ban").is_running
    _failed_logins(None, 10)  # from the machine running molecule: base_admin_addresses
    _failed_logins(INTRUDER, 10)
    deadline = time.monotonic() + 30
    while intruder not in _banned(host) and time.monotonic() < deadline:
        time.sleep(1)
    banned = _banned(host)
    try:
        assert intruder in banned
        assert admin not in banned
        # fail2ban did count the admin's failures, and let them go for being an admin's address.
        assert f"Ignore {admin} by ip" in host.check_output("cat /var/log/fail2ban.log")
        # The ban is real: the intruder's packets to SSH are refused, the monitor's are not.
        assert not _reaches(INTRUDER, 22)
        assert _reaches(MONITOR, 22)
        assert "f2b-table" in host.check_output("nft list tables")
        # And the admin still logs in.
        assert host.run(f"{LOGIN} true").rc == 0
    finally:
        host.run(f"fail2ban-client set sshd unbanip {intruder}")


def _sysctl_file(host) -> dict[str, str]:
    lines = host.file("/etc/sysctl.d/90-meetfleet-hardening.conf").content_string.splitlines()
    return dict(tuple(part.strip() for part in line.split("=", 1)) for line in lines if "=" in line)


def test_kernel_settings_file_has_the_baseline_with_the_overrides(host):
    wanted = _sysctl_file(host)
    assert wanted["net.ipv4.conf.all.rp_filter"] == "1"
    assert wanted["net.ipv4.conf.default.rp_filter"] == "2"  # base_sysctl_overrides
    assert "kernel.sysrq" not in wanted  # null in the overrides: left to the system
    assert wanted["net.ipv4.ip_forward"] == "0"  # forward policy drop
    for key in ("net.ipv4.tcp_syncookies", "kernel.dmesg_restrict", "kernel.unprivileged_bpf_disabled",
                "fs.protected_regular", "fs.suid_dumpable", "net.ipv4.conf.all.log_martians"):
        assert key in wanted


def test_kernel_settings_not_in_effect_are_only_those_this_container_cannot_write(host):
    # podman mounts /proc/sys read-only: here nothing can be written, so every key either
    # already has the wanted value or is one only a real host (or a writable /proc/sys, see
    # test_sysctl_where_writable.py) applies. None may have been written with another value.
    assert " /proc/sys ro," in host.check_output("grep ' /proc/sys ' /proc/self/mountinfo") + ","
    for key, value in _sysctl_file(host).items():
        path = "/proc/sys/" + key.replace(".", "/")
        if host.file(path).exists:
            current = " ".join(host.file(path).content_string.split())
            assert current == value or host.run(f"test -w {path}").rc != 0, key


def test_auditd_rules_in_place_and_not_started_where_the_kernel_refuses_it(host):
    assert host.package("auditd").is_installed
    rules = host.file("/etc/audit/rules.d/50-meetfleet.rules").content_string
    assert "-a always,exit -F arch=b64 -S execve -F euid=0 -F auid!=unset -k meetfleet-privileged" in rules
    assert "-w /etc -p wa -k meetfleet-config" in rules
    # The container has no CAP_AUDIT_CONTROL: the kernel refuses, so base leaves auditd stopped.
    assert host.run("auditctl -s").rc != 0
    assert not host.service("auditd").is_running
    assert not host.service("auditd").is_enabled


def test_needrestart_restarts_automatically_but_not_meetings(host):
    conf = host.file("/etc/needrestart/conf.d/50-meetfleet.conf").content_string
    assert "$nrconf{restart} = 'a';" in conf
    assert "$nrconf{override_rc}{qr(^freeswitch\\.service$)} = 0;" in conf
    assert "NEEDRESTART-VER" in host.check_output("needrestart -b -r l")


def _metric(host, name: str) -> str:
    metrics = host.check_output(
        "python3 -c \"import urllib.request as u; "
        "print(u.urlopen('http://127.0.0.1:9100/metrics', timeout=5).read().decode())\"")
    (line,) = [ln for ln in metrics.splitlines() if ln.startswith(name + " ")]
    return line.split()[1]


def test_a_pending_reboot_is_a_node_exporter_metric(host):
    assert host.service("meetfleet-reboot-required.timer").is_enabled
    assert _metric(host, "node_reboot_required") == "0"
    assert _metric(host, "meetfleet_services_restart_pending").isdigit()
    try:
        host.check_output("touch /run/reboot-required && systemctl start meetfleet-reboot-required.service")
        assert _metric(host, "node_reboot_required") == "1"
    finally:
        host.run("rm -f /run/reboot-required && systemctl start meetfleet-reboot-required.service")
    assert _metric(host, "node_reboot_required") == "0"
    hook = host.file("/etc/apt/apt.conf.d/99meetfleet-reboot-required").content_string
    assert "meetfleet-reboot-required.service" in hook


def test_the_first_converge_applied_the_pending_security_updates(host):
    assert host.file("/var/lib/meetfleet/first-security-upgrade.done").exists
    # As lynis asks (PKGS-7392): fresh lists, then what would come from a -security suite.
    host.check_output("apt-get -q update")
    pending = [line for line in host.check_output("apt-get -s upgrade").splitlines()
               if line.startswith("Inst ") and "-security" in line]
    assert pending == []


def test_no_core_dumps(host):
    assert host.run(f"{LOGIN} 'ulimit -Hc'").stdout.strip() == "0"
    assert host.check_output("systemctl show -p DefaultLimitCORE --value") == "0"
    assert host.check_output("systemctl show -p LimitCORE --value prometheus-node-exporter") == "0"
    assert "Storage=none" in host.file("/etc/systemd/coredump.conf.d/10-meetfleet.conf").content_string


def test_login_sessions_get_umask_027_and_a_private_tmpdir(host):
    assert re.search(r"^UMASK\s+027$", host.file("/etc/login.defs").content_string, re.M)
    assert host.run(f"{LOGIN} 'bash -lc umask'").stdout.strip() == "0027"
    assert host.run(f"{LOGIN} 'bash -lc \"echo \\$TMOUT\"'").stdout.strip() == "900"
    uid = host.check_output("id -u alice")
    assert host.run(f"{LOGIN} 'echo $TMPDIR'").stdout.strip() == f"/tmp/user/{uid}"  # noqa: S108 - libpam-tmpdir's path


def test_stale_temporary_files_are_aged_daily(host):
    # A file's age counts from its newest of atime, mtime and ctime, and ctime cannot be set
    # back: so the test reads the rule systemd-tmpfiles uses (ours replaces the package's).
    config = host.check_output("systemd-tmpfiles --cat-config")
    assert "# /etc/tmpfiles.d/tmp.conf" in config and "# /usr/lib/tmpfiles.d/tmp.conf" not in config
    assert re.search(r"^D /tmp 1777 root root 10d$", config, re.M)
    assert re.search(r"^q /var/tmp 1777 root root 30d$", config, re.M)
    assert host.service("systemd-tmpfiles-clean.timer").is_enabled


def test_unused_kernel_modules_are_refused(host):
    conf = host.file("/etc/modprobe.d/meetfleet-disabled.conf").content_string
    for module in ("dccp", "sctp", "rds", "tipc", "usb-storage", "firewire-core"):
        assert f"install {module} /bin/true" in conf
