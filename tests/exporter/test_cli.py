"""`meetfleet-exporter`: --once --json, refusals of bad input, and the daemon (auth, TLS, SIGTERM)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from capacity_exporter.main import main
from tests.exporter.conftest import FleetLab, parse_metrics, secret_of, value, write_secrets


class Result:
    """CliRunner's result with stderr unwrapped (rich wraps messages at the terminal width)."""

    def __init__(self, result):
        self.exit_code, self.stdout, self.output = result.exit_code, result.stdout, result.output
        self.stderr = " ".join(result.stderr.split())


def invoke(*args: str) -> Result:
    return Result(CliRunner().invoke(main, list(args), catch_exceptions=False))


def test_once_json_reports_servers_and_tenants(lab: FleetLab) -> None:
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file), "--once", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    a = data["servers"]["bbb-a.test"]
    assert (a["up"], a["meetings"], a["breakout_rooms"], a["participants"], a["load_units"],
            a["spare_load_units"], a["unattributed_meetings"]) == (True, 3, 1, 16, 54.1, 145.9, 1)
    assert data["servers"]["bbb-old.test"] == {
        "region": "eu", "state": "retired", "polled": False, "capacity_load_units": 300, "up": None, "error": None}
    assert data["tenants"]["acme"]["meetings"] == 2 and data["tenants"]["idle"]["participants"] == 0
    assert data["tenants"]["coop"]["plan_max_concurrent_users"] == 600


def test_once_table_and_exit_1_when_a_server_is_down(lab: FleetLab) -> None:
    lab.servers["bbb-b.test"].faults.mode = "wrong-checksum"
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file), "--once")
    assert result.exit_code == 1
    assert "bbb-b.test" in result.stdout and "checksumError" in result.stdout
    assert secret_of("bbb-b.test") not in result.output


def test_group_readable_secrets_are_refused(lab: FleetLab) -> None:
    os.chmod(lab.secrets_file, 0o640)
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file), "--once")
    assert result.exit_code == 2
    assert str(lab.secrets_file) in result.stderr and "0640" in result.stderr and "chmod 600" in result.stderr


def test_server_without_secret_is_refused_by_name(lab: FleetLab, tmp_path: Path) -> None:
    partial = write_secrets(tmp_path / "partial.yml", {"bbb-a.test": "x", "bbb-b.test": "y"})
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(partial), "--once")
    assert result.exit_code == 2
    assert f"{partial}: bbb_secrets: no secret for bbb-c.test" in result.stderr  # retired bbb-old needs none


def test_unparsable_secrets_file_does_not_echo_its_content(lab: FleetLab, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("bbb_secrets:\n  bbb-a.test: [hunter2-very-secret\n")
    os.chmod(bad, 0o600)
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(bad), "--once")
    assert result.exit_code == 2 and "is not valid YAML" in result.stderr and "hunter2" not in result.output


def test_invalid_inventory_is_bad_input(lab: FleetLab) -> None:
    (lab.inventory / "host_vars/bbb-a.test.yml").write_text("fleet_region: eu\nfleet_provider: static\n")
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file), "--once")
    assert result.exit_code == 2 and "bbb-a.test.fleet_bbb_capacity" in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    ("basic_auth: {username: u, password: p}\n", "basic_auth.password_sha256"),
    ("tls: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}\n", "tls.cert_file: /nonexistent.pem does not"),
    ("bogus: 1\n", "bogus: is not a known key"),
])
def test_bad_web_config_names_the_key(lab: FleetLab, tmp_path: Path, content: str, message: str) -> None:
    web = tmp_path / "web.yml"
    web.write_text(content)
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file), "--web-config", str(web))
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_timeout_must_be_shorter_than_interval(lab: FleetLab) -> None:
    result = invoke("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file),
                    "--interval", "5", "--timeout", "5")
    assert result.exit_code == 2 and "--timeout (5) must be shorter than --interval (5)" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_daemon_serves_behind_basic_auth_and_tls_and_stops_on_sigterm(lab: FleetLab, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    web = tmp_path / "web.yml"
    digest = hashlib.sha256(b"scrape-pw").hexdigest()
    web.write_text(f"basic_auth:\n  username: prometheus\n  password_sha256: {digest}\n"
                   f"tls:\n  cert_file: {cert}\n  key_file: {key}\n")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "capacity_exporter.main", "--inventory", str(lab.inventory), "--secrets",
         str(lab.secrets_file), "--listen", f"127.0.0.1:{port}", "--interval", "5", "--timeout", "4",
         "--web-config", str(web)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"https://127.0.0.1:{port}/metrics"
    try:
        with httpx.Client(verify=ssl.create_default_context(cafile=cert), timeout=3) as client:
            # A bound on failure, not a pace: on a loaded machine start-up alone takes seconds.
            deadline = time.monotonic() + 60
            while True:
                try:
                    response = client.get(url, auth=("prometheus", "scrape-pw"))
                    samples = parse_metrics(response.text)
                    if value(samples, "meetfleet_server_up", server="bbb-c.test", region="ca") is not None:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "exporter did not come up"
                time.sleep(0.1)
            assert response.status_code == 200
            assert value(samples, "meetfleet_server_meetings", server="bbb-a.test", region="eu") == 3
            assert client.get(url).status_code == 401
            assert client.get(url, auth=("prometheus", "wrong")).status_code == 401
            assert client.get(url, auth=("someone", "scrape-pw")).status_code == 401
        with pytest.raises(httpx.TransportError):
            httpx.get(url.replace("https", "http"), timeout=2)  # plain HTTP is not served
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert "Traceback" not in err and " ERROR " not in err, err  # the workers stopped quietly too
    for server in ("bbb-a.test", "bbb-b.test", "bbb-c.test"):
        assert secret_of(server) not in out + err
    assert "checksum=" not in err and "scrape-pw" not in err
