"""Observations read straight from the capacity exporter's /metrics: a snapshot, no history.

Used when no Prometheus is configured. The response is streamed and parsed line by
line, so a fleet's worth of tenant series never sits in memory twice. A NaN, infinite or
negative value refuses the server it is labelled with (unknown, never empty).
"""

from __future__ import annotations

import time
from collections import defaultdict
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_fd_to_metric_families

from meetfleet.capacity.metric_names import READ_BY_SOURCES, SERVER_LOAD_UNITS, SERVER_UP, TENANT_LOAD_UNITS
from meetfleet.capacity_sources.errors import SourceError, tls_verify
from meetfleet.placement.observations import Observations, ServerObservation, TenantObservation, is_valid, show

WANTED = set(READ_BY_SOURCES)


def metrics_url(url: str) -> str:
    return url if urlsplit(url).path not in ("", "/") else url.rstrip("/") + "/metrics"


def read_exporter(url: str, timeout: float = 10.0, auth: tuple[str, str] | None = None, *,
                  verify: bool | str = True) -> Observations:
    """A snapshot from the exporter's /metrics at `url`.

    `auth`: basic-auth (user, password); `verify`: check the TLS certificate (False: do
    not; a path: against that CA file). `timeout`: seconds for the HTTP call.
    """
    url = metrics_url(url)
    at = time.time()
    up: dict[str, bool] = {}
    load: dict[str, float] = {}
    tenant_now: dict[str, dict[str, float]] = defaultdict(dict)
    refused: dict[str, str] = {}
    bad_tenants: set[str] = set()
    try:
        with httpx.stream("GET", url, timeout=timeout, auth=auth, verify=tls_verify(verify)) as response:
            if response.status_code != 200:
                raise SourceError(f"the exporter at {url} answered HTTP {response.status_code}"
                                  + (" (set MEETFLEET_EXPORTER_USERNAME/PASSWORD)" if response.status_code == 401
                                     else ""))
            lines = (line + "\n" for line in response.iter_lines())
            for family in text_fd_to_metric_families(lines):
                if family.name not in WANTED:
                    continue
                for sample in family.samples:
                    labels = sample.labels
                    if not is_valid(sample.value):
                        name = labels.get("server", "")
                        if family.name == TENANT_LOAD_UNITS:
                            bad_tenants.add(labels["tenant"])
                            refused.setdefault(name, f"{show(sample.value)} as tenant {labels['tenant']}'s "
                                                     "current load")
                        else:
                            refused.setdefault(name, f"{show(sample.value)} as its {family.name}")
                        continue
                    if family.name == SERVER_UP:
                        up[labels["server"]] = sample.value >= 1
                    elif family.name == SERVER_LOAD_UNITS:
                        load[labels["server"]] = sample.value
                    else:
                        tenant_now[labels["tenant"]][labels.get("server", "")] = sample.value
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach the exporter at {url}: {type(exc).__name__}: {exc}") from exc
    except ValueError as exc:
        raise SourceError(f"the exporter at {url} sent malformed metrics: {exc}") from exc
    if not up and not refused:
        raise SourceError(f"{url} has no {SERVER_UP} series: is it the capacity exporter?")
    servers = {name: ServerObservation(up=is_up, load_now=load.get(name, 0.0), peak_load=load.get(name, 0.0))
               for name, is_up in up.items() if name not in refused}
    tenants = {name: TenantObservation(peak_load=max(on.values(), default=0.0), load_now_on=dict(on))
               for name, on in tenant_now.items() if name not in bad_tenants}
    return Observations(0, servers, tenants, source=f"exporter {url}", at=at, refused=refused)
