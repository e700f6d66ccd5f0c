"""The exporter serves every metric the capacity sources read, under the names both take
from meetfleet.capacity.metric_names, with the labels the readers group by."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from capacity_exporter.poller import ExporterState
from meetfleet.capacity.metric_names import READ_BY_SOURCES, SERVER_LOAD_UNITS, SERVER_UP, TENANT_LOAD_UNITS
from meetfleet.capacity_sources.exporter import read_exporter
from tests.exporter.conftest import FleetLab, poll


def test_the_exporter_serves_what_the_sources_read(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, url = served
    poll(lab, state)
    families = {f.name: f for f in text_string_to_metric_families(state.payload.decode())}
    assert set(READ_BY_SOURCES) <= set(families)
    for name in (SERVER_UP, SERVER_LOAD_UNITS):
        assert all({"server", "region"} <= set(s.labels) for s in families[name].samples), name
    assert all({"tenant", "server"} <= set(s.labels) for s in families[TENANT_LOAD_UNITS].samples)
    # and the reader, fed this very payload, finds every polled server and tenant in it
    observed = read_exporter(url, timeout=5)
    assert set(observed.servers) == {s.labels["server"] for s in families[SERVER_UP].samples}
    assert set(observed.tenants) == {s.labels["tenant"] for s in families[TENANT_LOAD_UNITS].samples}
