"""The pure parts: the ports base opens per kind (read from the roles), CI expiry, labels."""

from __future__ import annotations

import pytest

from meetfleet.cloud.plan import is_expired, is_label_value, parse_ttl
from meetfleet.cloud.ports import ANY_SOURCE, kind_ports
from tests.conftest import REPO


def rules(kind: str, values: dict | None = None) -> set[tuple]:
    found = kind_ports(REPO, kind, lambda keys: {k: v for k, v in (values or {}).items() if k in keys},
                       ["203.0.113.60"])
    return {(r.protocol, r.port, r.sources) for r in found.rules}


def test_a_bbb_server_opens_what_base_and_the_bbb_role_declare():
    assert rules("bbb") == {("tcp", "22", ANY_SOURCE), ("tcp", "9100", ("203.0.113.60/32",)),
                            ("tcp", "80", ANY_SOURCE), ("tcp", "443", ANY_SOURCE),
                            ("udp", "16384-32768", ANY_SOURCE), ("icmp", None, ANY_SOURCE)}


def test_the_inventorys_values_replace_the_roles_defaults():
    found = rules("turn", {"coturn_tls_mode": "existing", "coturn_min_port": 50000,
                           "base_ssh_allowed_sources": ["192.0.2.0/24"]})
    assert ("udp", "50000-65535", ANY_SOURCE) in found
    assert ("tcp", "80", ANY_SOURCE) not in found  # only for ACME's HTTP-01
    assert ("tcp", "22", ("192.0.2.0/24",)) in found


def test_a_kind_without_a_playbook_of_its_own_gets_base_alone_and_each_kind_its_roles_ports():
    assert kind_ports(REPO, "no-such-kind", lambda keys: {}, []).roles == ("base",)
    greenlight = kind_ports(REPO, "greenlight", lambda keys: {}, [])  # its play: playbooks/greenlight.yml
    assert greenlight.roles == ("base", "greenlight")
    assert {("tcp", "80", ANY_SOURCE), ("tcp", "443", ANY_SOURCE)} <= {
        (r.protocol, r.port, r.sources) for r in greenlight.rules}
    keycloak = kind_ports(REPO, "keycloak", lambda keys: {}, ["203.0.113.60"])  # its play: playbooks/sso.yml
    assert "keycloak" in keycloak.roles
    found = {(r.protocol, r.port, r.sources) for r in keycloak.rules}
    assert ("tcp", "443", ANY_SOURCE) in found
    assert ("tcp", "9000", ("203.0.113.60/32",)) in found  # its management port, for the monitoring hosts
    monitoring = kind_ports(REPO, "monitoring", lambda keys: {}, [])
    assert monitoring.roles == ("base", "capacity_exporter", "monitoring")
    assert monitoring.notes  # no monitoring address known: the node exporter port stays closed, said so


def test_ttl_and_expiry():
    assert parse_ttl("2h") == 7200 and parse_ttl("30m") == 1800
    for bad in ("2", "8d", "0m", "-1h"):
        with pytest.raises(ValueError):
            parse_ttl(bad)
    assert is_expired({"expires": "100"}, now=100.0)
    assert not is_expired({"expires": "101"}, now=100.0)
    assert is_expired({}, now=100.0)  # no readable expiry: reaped rather than left running


def test_label_values():
    assert is_label_value("example") and is_label_value("mftest-1a2b")
    assert not is_label_value("-x") and not is_label_value("a" * 64) and not is_label_value("a b")
