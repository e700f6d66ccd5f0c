"""Names of the exporter's metrics that other parts read: one place for producer and readers.

The capacity exporter (exporters/capacity_exporter/metrics.py) publishes them; the capacity
sources (meetfleet/capacity_sources/) query them from Prometheus or the exporter's /metrics.
A rename here renames both sides; tests/exporter/test_metric_contract.py checks that
what the exporter serves is what the readers ask for.
"""

SERVER_UP = "meetfleet_server_up"
SERVER_LOAD_UNITS = "meetfleet_server_load_units"
TENANT_LOAD_UNITS = "meetfleet_tenant_load_units"

# What the capacity sources read, every one of them.
READ_BY_SOURCES = (SERVER_UP, SERVER_LOAD_UNITS, TENANT_LOAD_UNITS)
