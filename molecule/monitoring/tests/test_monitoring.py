"""Verify roles/monitoring in the lab container, through Prometheus's and Alertmanager's
HTTP APIs (asked from inside the container: Alertmanager listens on 127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

CONTAINER = "meetfleet-molecule-monitoring"
HERE = Path(__file__).parent
ROLES = HERE.parents[2] / "roles"
PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"
VENV = "/opt/meetfleet-exporter/venv"
STANDIN_UNIT = "molecule-bbb-standin"
WEBHOOK_UNIT = "molecule-webhook"
WEBHOOK_LOG = "/root/molecule-webhook.jsonl"
EXPECTED_JOBS = {"prometheus", "alertmanager", "blackbox", "meetfleet-capacity", "node", "probe-bbb-api"}

# A webhook receiver standing for the cooperative's chat room: one JSON line per POST.
WEBHOOK = f"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open({WEBHOOK_LOG!r}, "ab") as out:
            out.write(body.replace(b"\\n", b" ") + b"\\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", 9999), H).serve_forever()
"""


def get(host, url: str) -> dict:
    script = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=10).read().decode())"
    out = host.check_output(f"python3 -c {shlex.quote(script)}")
    return json.loads(out)


def query(host, expr: str) -> list[dict]:
    from urllib.parse import quote

    return get(host, f"{PROMETHEUS}/api/v1/query?query={quote(expr)}")["data"]["result"]


def wait_for(what: str, check, seconds: float = 60, every: float = 2):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {seconds}s (last: {last!r})")


def rerun(extra_vars: dict, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_PIPELINING": "1"}
    return subprocess.run(
        ["ansible-playbook", "-i", f"{CONTAINER},", "-c", "containers.podman.podman", "-e", json.dumps(extra_vars),
         *args, str(HERE / "rerun.yml")],
        capture_output=True, text=True, env=env, timeout=300, check=False)


def targets(host) -> list[dict]:
    return get(host, f"{PROMETHEUS}/api/v1/targets?state=active")["data"]["activeTargets"]


def test_services_run_and_are_enabled(host):
    for name in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter", "nginx",
                 "prometheus-node-exporter", "meetfleet-exporter"):
        service = host.service(name)
        assert service.is_running and service.is_enabled, name


def test_every_expected_target_is_up(host):
    def all_up():
        found = targets(host)
        jobs = {t["labels"]["job"] for t in found}
        return found if jobs == EXPECTED_JOBS and all(t["health"] == "up" for t in found) else None

    found = wait_for("every target up", all_up, seconds=60)
    exporter = next(t for t in found if t["labels"]["job"] == "meetfleet-capacity")
    # Scraped with basic auth: the exporter refuses requests without it (molecule/capacity_exporter).
    assert exporter["scrapeUrl"] == "http://127.0.0.1:9840/metrics"
    assert query(host, 'meetfleet_server_capacity_load_units{server="bbb-eu-1.test"}')[0]["value"][1] == "100"


def test_exporter_password_is_a_file_not_in_the_configuration(host):
    secret = host.file("/etc/prometheus/secrets/exporter.password")
    assert secret.mode == 0o640 and secret.user == "root" and secret.group == "prometheus"
    password = host.check_output("cat /root/molecule-metrics-password")
    assert password not in host.file("/etc/prometheus/prometheus.yml").content_string
    assert password not in host.check_output("ps -eo args")
    config = get(host, f"{PROMETHEUS}/api/v1/status/config")["data"]["yaml"]
    assert "password_file: /etc/prometheus/secrets/exporter.password" in config and password not in config


def test_rules_are_loaded_and_healthy(host):
    groups = get(host, f"{PROMETHEUS}/api/v1/rules")["data"]["groups"]
    names = {g["name"] for g in groups}
    assert {"meetfleet-capacity-recording", "meetfleet-capacity-alerts", "meetfleet-probe-alerts",
            "meetfleet-gateway-alerts", "molecule-test"} <= names
    rules = [r for g in groups for r in g["rules"]]
    assert {"MeetfleetBbbServerDown", "MeetfleetProbeFailed", "MeetfleetCertificateExpiresSoon",
            "MeetfleetTenantMeetingTooLong", "MeetfleetGatewayDown"} <= {r["name"] for r in rules}
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]


def test_retention_flag_is_in_force(host):
    flags = get(host, f"{PROMETHEUS}/api/v1/status/flags")["data"]
    assert flags["storage.tsdb.retention.time"] == "40d"
    assert flags["config.file"] == "/etc/prometheus/prometheus.yml"


def test_alertmanager_has_the_inventory_routes_and_inhibitions(host):
    status = get(host, f"{ALERTMANAGER}/api/v2/status")
    config = status["config"]["original"]
    assert "webhook_configs" in config and "http://127.0.0.1:9999/hook" in config
    assert "sysadmins@example.test" in config
    assert 'alertname="MeetfleetBbbServerDown"' in config and "MeetfleetTenant.+" in config
    assert host.file("/etc/prometheus/alertmanager.yml").mode == 0o640


@pytest.fixture(scope="module")
def webhook(host):
    host.run(f"systemctl stop {WEBHOOK_UNIT}; systemctl reset-failed {WEBHOOK_UNIT}; rm -f {WEBHOOK_LOG}")
    host.run(f"cat > /root/molecule-webhook.py <<'EOF'\n{WEBHOOK}\nEOF")
    started = host.run(f"systemd-run --unit={WEBHOOK_UNIT} /usr/bin/python3 /root/molecule-webhook.py")
    assert started.rc == 0, started.stderr
    yield
    host.run(f"systemctl stop {WEBHOOK_UNIT}")


def _probe(host) -> str | None:
    result = query(host, 'probe_success{kind="bbb_api",server="bbb-eu-1.test"}')
    return result[0]["value"][1] if result else None


def test_a_probe_of_a_stopped_service_fails_and_its_alert_reaches_the_webhook(host, webhook):
    # The BBB API (the test server standing for bbb-eu-1.test) runs: the probe succeeds.
    host.run(f"systemctl stop {STANDIN_UNIT}; systemctl reset-failed {STANDIN_UNIT}")
    started = host.run(f"systemd-run --unit={STANDIN_UNIT} {VENV}/bin/meetfleet-bbb-standin --bind 127.0.0.1 "
                       "--port 8090 --secret-file /root/molecule-bbb-secret")
    assert started.rc == 0, started.stderr
    wait_for("probe succeeds while the BBB API runs", lambda: _probe(host) == "1", seconds=60)
    # Stopped: the probe fails, the test alert fires, Alertmanager sends it to the webhook.
    host.run(f"systemctl stop {STANDIN_UNIT}")
    wait_for("probe fails once the BBB API is stopped", lambda: _probe(host) == "0", seconds=60)
    failed = query(host, 'probe_http_status_code{kind="bbb_api"}')
    assert failed and failed[0]["value"][1] == "0"  # no HTTP answer at all: connection refused

    def in_alertmanager():
        alerts = get(host, f"{ALERTMANAGER}/api/v2/alerts")
        return [a for a in alerts if a["labels"]["alertname"] == "MoleculeBbbApiProbeFailed"]

    alerts = wait_for("the alert in Alertmanager", in_alertmanager, seconds=60)
    assert alerts[0]["labels"]["instance"] == "http://127.0.0.1:8090/bigbluebutton/api"

    def delivered():
        if not host.file(WEBHOOK_LOG).exists:
            return None
        for line in host.file(WEBHOOK_LOG).content_string.splitlines():
            message = json.loads(line)
            if any(a["labels"]["alertname"] == "MoleculeBbbApiProbeFailed" for a in message["alerts"]):
                return message
        return None

    message = wait_for("the alert delivered to the webhook receiver", delivered, seconds=60)
    assert message["receiver"] == "chat" and message["status"] == "firing"
    # The real rule sees the same failure (pending for its 2 minutes, or firing).
    real = [a for a in get(host, f"{PROMETHEUS}/api/v1/alerts")["data"]["alerts"]
            if a["labels"]["alertname"] == "MeetfleetProbeFailed"]
    assert real and real[0]["labels"]["server"] == "bbb-eu-1.test"


def test_grafana_site_and_provisioning_in_lab_mode(host):
    assert host.run("nginx -t").rc == 0
    # Lab mode: no Grafana behind nginx, so the TLS site answers 502 (bad gateway).
    answer = host.run("python3 -c \"import ssl, urllib.request as u, urllib.error as e\n"
                      "try: u.urlopen('https://127.0.0.1/', context=ssl._create_unverified_context(), timeout=5)\n"
                      "except e.HTTPError as x: print(x.code)\"")
    assert answer.stdout.strip() == "502", answer
    datasource = host.file("/etc/grafana/provisioning/datasources/meetfleet.yml").content_string
    assert "url: http://127.0.0.1:9090" in datasource and "type: prometheus" in datasource
    assert host.file("/var/lib/meetfleet-monitoring/dashboards/meetfleet-capacity.json").exists
    password = host.file("/etc/grafana/meetfleet-admin-password")
    assert password.mode == 0o640 and password.group == "grafana"
    assert password.content_string not in host.file("/etc/grafana/grafana.ini").content_string
    assert not host.service("grafana-server").is_running  # skipped in lab mode, as the README says


def test_an_invalid_rule_fails_the_play_before_anything_is_installed(host, tmp_path):
    pid = host.check_output("systemctl show -p MainPID --value prometheus")
    installed = host.check_output("sha256sum /etc/prometheus/rules/* /etc/prometheus/prometheus.yml")
    before = {g["name"] for g in get(host, f"{PROMETHEUS}/api/v1/rules")["data"]["groups"]}
    broken = tmp_path / "zz-broken.yml"
    broken.write_text("groups:\n  - name: broken\n    rules:\n      - alert: Broken\n"
                      "        expr: sum(rate(meetfleet_server_up[5m]) by\n")
    done = rerun({"monitoring_prometheus_extra_rule_files": [str(HERE.parent / "rules" / "molecule-test.yml"),
                                                             str(broken)]})
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "promtool refused the staged Prometheus configuration or rules" in output, output[-3000:]
    assert "zz-broken.yml" in output
    assert host.check_output("sha256sum /etc/prometheus/rules/* /etc/prometheus/prometheus.yml") == installed
    assert not host.file("/etc/prometheus/rules/zz-broken.yml").exists
    assert host.check_output("systemctl show -p MainPID --value prometheus") == pid  # neither restarted
    assert {g["name"] for g in get(host, f"{PROMETHEUS}/api/v1/rules")["data"]["groups"]} == before
    assert query(host, "prometheus_config_last_reload_successful")[0]["value"][1] == "1"


def test_a_retention_shorter_than_the_placement_window_is_refused():
    done = rerun({"monitoring_prometheus_retention_days": 20}, "--tags", "monitoring_check")
    assert done.returncode != 0
    text = " ".join((done.stdout + done.stderr).split())
    assert "monitoring_prometheus_retention_days is 20 days" in text, text[-2000:]
    assert "placement's window of 28 days" in text and "at least 35 days" in text
