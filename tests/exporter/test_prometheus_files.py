"""Prometheus config, rules and the Grafana dashboard: valid (promtool), tested, and only
referring to metrics the exporter really serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from capacity_exporter.poller import ExporterState
from meetfleet.gateway.metrics import GatewayMetrics
from tests.conftest import REPO
from tests.exporter.conftest import FleetLab, parse_metrics, poll

PROMETHEUS = REPO / "exporters" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
DASHBOARD = REPO / "exporters" / "grafana" / "meetfleet-capacity.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (Debian package prometheus)")
METRIC = re.compile(r"\bmeetfleet(?:_|:)[a-z0-9_:]+")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60)


@needs_promtool
def test_rules_are_valid() -> None:
    assert RULES
    done = promtool("check", "rules", *RULES)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_alerts_and_recording_rules_behave() -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
    assert len(tests) >= 3  # capacity, probe and gateway rules
    done = promtool("test", "rules", *tests)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_scrape_config_is_valid() -> None:
    done = promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def _served_names(lab: FleetLab) -> set[str]:
    state: ExporterState = lab.state()
    poll(lab, state)
    names = {name for name, _labels in parse_metrics(state.payload.decode())}
    return names | {n.removesuffix("_total") for n in names} | _gateway_names()


def _gateway_names() -> set[str]:
    """What the BBB API gateway serves: its own registry, each labelled metric touched once."""
    metrics = GatewayMetrics()
    metrics.refusals.labels("t", "rooms").inc()
    metrics.calls.labels("create", "ok").inc()
    metrics.latency.labels("create").observe(0.01)
    metrics.upstream_errors.labels("s", "timeout").inc()
    metrics.server_up.labels("s").set(1)
    metrics.tenant_rooms.labels("t").set(1)
    metrics.tenant_users.labels("t").set(1)
    metrics.polls.inc()
    names = {name for name, _labels in parse_metrics(generate_latest(metrics.registry).decode())}
    return names | {n.removesuffix("_total") for n in names}


def _recorded() -> set[str]:
    return set(re.findall(r"record:\s*(\S+)", "".join(p.read_text() for p in RULES)))


def test_rules_use_only_served_or_recorded_metrics(lab: FleetLab) -> None:
    known = _served_names(lab) | _recorded()
    used = set(METRIC.findall("".join(p.read_text() for p in RULES)))
    assert used and used - _recorded() <= known, used - known


def test_dashboard_uses_only_served_or_recorded_metrics(lab: FleetLab) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set(METRIC.findall(" ".join(exprs)))
    assert len(exprs) >= 10 and used
    assert used <= _served_names(lab) | _recorded(), used - _served_names(lab) - _recorded()
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_every_served_metric_is_on_the_dashboard_or_in_a_rule(lab: FleetLab) -> None:
    served = {n for n in _served_names(lab) if not n.endswith("_created")}
    text = DASHBOARD.read_text() + "".join(p.read_text() for p in RULES)
    unused = {n for n in served if n not in text and n.removesuffix("_total") not in text}
    assert not unused, unused


@needs_promtool
def test_promtool_check_metrics_passes_on_the_served_payload(lab: FleetLab) -> None:
    """Prometheus's own lint of /metrics: base units (seconds, not minutes), counter names,
    help texts. It reported the two meeting-length gauges in minutes before they became seconds."""
    state: ExporterState = lab.state()
    poll(lab, state)
    payload = state.payload.decode()
    assert "meetfleet_tenant_plan_max_meeting_seconds" in payload
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=payload, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr
    assert not re.search(r"^meetfleet_\w*minutes", payload, re.MULTILINE)


def test_meeting_lengths_are_served_in_seconds(lab: FleetLab) -> None:
    state: ExporterState = lab.state()
    poll(lab, state)
    metrics = parse_metrics(state.payload.decode())
    for tenant in state.fleet.tenants.values():
        plan = state.fleet.plans[tenant.plan]
        allowed = [v for (name, labels), v in metrics.items()
                   if name == "meetfleet_tenant_plan_max_meeting_seconds" and dict(labels)["tenant"] == tenant.name]
        assert allowed == [plan.max_meeting_minutes * 60]
