"""The smoke checks after `--apply` (meetfleet.rollout.smoke), over real TLS: the BBB API
stand-in (meetfleet.testing.bbb_standin, the API reference's shapes) serves as the tenant's
gateway endpoint and a small server as its Greenlight's site, both under names that do
not resolve here, reached with --connect-to routes and trusted through a CA file, as the
lab's gateway is (127.0.0.1:19443 for gw.lab)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from meetfleet.rollout.smoke import SMOKE_PREFIX, parse_connect_to, smoke_checks
from meetfleet.testing.bbb_standin import TestServer
from tests.rollout.tls_servers import self_signed, tls

SECRET = "smoke-secret-0123456789"
GATEWAY, SITE = "gw.example.invalid", "rooms.example.invalid"


class Health(http.server.BaseHTTPRequestHandler):
    status = 200
    hosts: list[str] = []

    def do_GET(self) -> None:
        Health.hosts.append(self.headers.get("Host", ""))
        self.send_response(Health.status if self.path == "/health_check" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[TestServer, http.server.HTTPServer, Path]]:
    cert = self_signed(tmp_path, GATEWAY, SITE)
    bbb = TestServer(SECRET)
    tls(bbb.httpd, cert)
    bbb.start()
    site = http.server.HTTPServer(("127.0.0.1", 0), Health)
    tls(site, cert)
    thread = threading.Thread(target=site.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    Health.status, Health.hosts = 200, []
    yield bbb, site, cert[0]
    site.shutdown()
    thread.join()
    site.server_close()
    bbb.stop()


def routes(bbb: TestServer, site: http.server.HTTPServer) -> dict:
    return dict([parse_connect_to(f"{GATEWAY}:443:127.0.0.1:{bbb.port}"),
                 parse_connect_to(f"{SITE}:443:127.0.0.1:{site.server_address[1]}")])


def test_the_gateway_accepts_a_create_and_an_end_and_the_site_its_health_check(servers):
    bbb, site, ca = servers
    checks = smoke_checks((f"https://{GATEWAY}/bigbluebutton/api/", SECRET), [SITE], routes(bbb, site), str(ca))
    assert [(c.name, c.ok) for c in checks] == [("gateway", True), ("site", True)], checks
    assert checks[0].detail.startswith(f"created and ended {SMOKE_PREFIX}")
    assert not bbb.state.meetings  # the smoke meeting is gone again
    assert Health.hosts == [SITE]  # the Host header still names the site, not the address reached


def test_a_wrong_secret_and_a_failing_site_fail_their_checks_and_name_why(servers):
    bbb, site, ca = servers
    Health.status = 503
    checks = smoke_checks((f"https://{GATEWAY}/bigbluebutton/api/", "not-the-secret"), [SITE], routes(bbb, site),
                          str(ca), reload_wait=2)
    assert [(c.name, c.ok) for c in checks] == [("gateway", False), ("site", False)]
    assert "create refused (asked for 2 s)" in checks[0].detail and "checksumError" in checks[0].detail
    assert checks[1].detail == "HTTP 503"
    assert "not-the-secret" not in repr(checks)


def test_a_certificate_for_another_name_is_refused(servers, tmp_path: Path):
    bbb, site, _ = servers
    (tmp_path / "other").mkdir()
    other_ca, _ = self_signed(tmp_path / "other", "other.invalid")
    checks = smoke_checks(None, [SITE], routes(bbb, site), str(other_ca))
    assert [(c.name, c.ok) for c in checks] == [("site", False)]
    assert "CERTIFICATE_VERIFY_FAILED" in checks[0].detail or "certificate" in checks[0].detail.lower()


@pytest.mark.parametrize("value", ["gw.lab:443:127.0.0.1", "gw.lab:x:127.0.0.1:19443", "gw.lab:443:127.0.0.1:0",
                                   ":443:127.0.0.1:19443"])
def test_a_connect_to_that_is_not_host_port_address_port_is_refused(value):
    with pytest.raises(ValueError, match=r"HOST:PORT:ADDRESS:PORT|from 1 to 65535"):
        parse_connect_to(value)


def test_connect_to_keeps_ipv6_addresses_whole():
    assert parse_connect_to("gw.lab:443:[::1]:19443") == (("gw.lab", 443), ("::1", 19443))


def test_a_gateway_that_learns_the_tenant_a_moment_later_passes(servers):
    """A just-reloaded gateway answers a tenant it does not know yet as a wrong secret."""
    bbb, site, ca = servers
    bbb.httpd.secret = "the-secret-before-the-reload"
    learned = threading.Timer(1.5, lambda: setattr(bbb.httpd, "secret", SECRET))
    learned.start()
    try:
        checks = smoke_checks((f"https://{GATEWAY}/bigbluebutton/api/", SECRET), [], routes(bbb, site), str(ca),
                              reload_wait=20)
    finally:
        learned.cancel()
    assert [(c.name, c.ok) for c in checks] == [("gateway", True)], checks
