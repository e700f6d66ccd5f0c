"""Verify roles/base in the lab container: users, sshd, firewall, upgrades, time, journald, node exporter."""

import re
import socket

SSH = "ssh -i /root/molecule-operator -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"

# What converge.yml declares, as (proto, port, IPv4 sources, IPv6 sources); the node exporter
# rule (monitoring host only) is added with the monitor's address.
EXPECTED_RULES = {
    ("tcp", "22", (), ()),  # base_ssh_port
    ("tcp", "80", (), ()),
    ("tcp", "443", (), ()),  # declared twice (base_firewall_ports, bbb_firewall_ports): one rule
    ("udp", "16384-32768", (), ()),
    ("tcp", "9090", ("192.0.2.10",), ()),
    ("tcp", "9090", (), ("2001:db8::/64",)),
}
RULE_RE = re.compile(
    r"^(?:(?P<family>ip6?) saddr (?P<sources>\{[^}]*\}|\S+) )?(?P<proto>tcp|udp) dport (?P<port>\S+) accept"
)


def _declared_rules(ruleset: str) -> list[tuple]:
    rules = []
    for line in ruleset.splitlines():
        match = RULE_RE.match(line.strip())
        if not match:
            continue
        sources = tuple(s.strip() for s in match["sources"].strip("{}").split(",")) if match["sources"] else ()
        v4 = sources if match["family"] == "ip" else ()
        v6 = sources if match["family"] == "ip6" else ()
        rules.append((match["proto"], match["port"], v4, v6))
    return rules


def test_firewall_opens_exactly_the_declared_ports(host, monitor_ip):
    ruleset = host.check_output("nft list chain inet meetfleet input")
    rules = _declared_rules(ruleset)
    assert len(rules) == len(set(rules)), f"duplicate rules in:\n{ruleset}"
    # The monitoring host's address as the container resolves its name (getent), not ansible_host.
    assert set(rules) == EXPECTED_RULES | {("tcp", "9100", (monitor_ip,), ())}
    assert "policy drop" in ruleset
    for line in ("ct state established,related accept", 'iif "lo" accept'):
        assert line in ruleset


def test_firewall_comment_names_every_declaring_variable(host):
    ruleset = host.check_output("nft list chain inet meetfleet input")
    (line,) = [ln for ln in ruleset.splitlines() if "tcp dport 443 accept" in ln]
    assert "base_firewall_ports" in line and "bbb_firewall_ports" in line


def test_firewall_forward_is_default_deny_and_loaded_at_boot(host):
    assert "policy drop" in host.check_output("nft list chain inet meetfleet forward")
    assert host.service("nftables").is_enabled
    assert host.run("nft -c -f /etc/nftables.conf").rc == 0


def _connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def test_firewall_lets_ssh_in_and_drops_node_exporter_from_elsewhere(host, container_ip):
    # The node exporter listens on all addresses, but only the monitoring host may reach it.
    assert host.socket("tcp://0.0.0.0:9100").is_listening or host.socket("tcp://:::9100").is_listening
    assert _connects(container_ip, 22)
    assert not _connects(container_ip, 9100)


def test_sshd_effective_settings(host):
    settings = dict(
        line.split(" ", 1) for line in host.check_output("sshd -T -C user=alice,host=x,addr=127.0.0.1").splitlines()
    )
    assert settings["permitrootlogin"] == "no"
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["pubkeyauthentication"] == "yes"
    assert settings["authenticationmethods"] == "publickey"
    assert settings["x11forwarding"] == "no"
    assert settings["maxauthtries"] == "3"
    assert settings["allowtcpforwarding"] == "no"
    assert settings["compression"] == "no"
    assert settings["tcpkeepalive"] == "no"
    assert settings["loglevel"] == "VERBOSE"
    assert settings["allowgroups"] == "sudo"  # root login is off here, so root is not listed
    assert host.service("ssh").is_running


def test_admin_logs_in_with_key_and_gets_sudo(host):
    result = host.run(f"{SSH} alice@127.0.0.1 sudo -n id -u")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_root_login_is_refused_even_with_an_authorised_key(host):
    assert host.file("/root/.ssh/authorized_keys").contains("molecule-operator")
    result = host.run(f"{SSH} root@127.0.0.1 true")
    assert result.rc == 255
    assert "Permission denied" in result.stderr


def test_password_login_is_not_offered(host):
    result = host.run(f"{SSH} -o PubkeyAuthentication=no -o PreferredAuthentications=password alice@127.0.0.1 true")
    assert result.rc == 255
    assert "Permission denied (publickey)" in result.stderr


def test_admin_users_have_exactly_their_keys(host):
    alice = host.user("alice")
    assert "sudo" in alice.groups
    assert host.file("/home/alice/.ssh/authorized_keys").content_string.strip().endswith("molecule-operator")
    assert host.file("/home/alice/.ssh/authorized_keys").content_string.count("\n") == 1
    bob_keys = host.file("/home/bob/.ssh/authorized_keys")
    assert not bob_keys.exists or bob_keys.content_string.strip() == ""
    assert host.check_output("visudo -c") != ""


def test_unattended_upgrades_security_only(host):
    assert host.package("unattended-upgrades").is_installed
    patterns = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    origins = re.findall(r'Unattended-Upgrade::Origins-Pattern:: "([^"]+)"', patterns)
    assert origins == ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]
    assert 'APT::Periodic::Unattended-Upgrade "1"' in host.check_output("apt-config dump APT::Periodic")
    assert host.service("unattended-upgrades").is_enabled
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_timesyncd_enabled_and_condition_skipped_in_a_container(host):
    assert host.service("systemd-timesyncd").is_enabled
    assert "NTP=ntp.example.org" in host.file("/etc/systemd/timesyncd.conf.d/meetfleet.conf").content_string
    # ConditionVirtualization=!container: honest about what the lab cannot show.
    assert host.check_output("systemctl show -p ConditionResult --value systemd-timesyncd") == "no"


def test_journald_limits(host):
    conf = host.file("/etc/systemd/journald.conf.d/meetfleet.conf").content_string
    assert "SystemMaxUse=1G" in conf and "MaxRetentionSec=1month" in conf
    assert host.service("systemd-journald").is_running


def test_node_exporter_serves_metrics(host):
    assert host.service("prometheus-node-exporter").is_running
    metrics = host.check_output(
        "python3 -c \"import urllib.request as u; "
        "print(u.urlopen('http://127.0.0.1:9100/metrics', timeout=5).read().decode())\""
    )
    assert "node_cpu_seconds_total" in metrics or "node_load1" in metrics
