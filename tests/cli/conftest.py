"""A capacity exporter stand-in: /metrics in the exporter's format, with no BBB behind it.

It serves fixed numbers for inventories/example's servers and tenants, counts the
requests it gets (to prove a command never asked) and may require basic auth.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

EU1, EU2, CA1 = "bbb-eu-1.example.coop", "bbb-eu-2.example.coop", "bbb-ca-1.example.coop"
SERVERS = {EU1: ("eu", 1, 40.0), EU2: ("eu", 1, 250.0), CA1: ("ca", 1, 20.0)}
TENANTS = {"bakery-collective": (EU1, 10.0), "free-school-leipzig": (EU1, 30.0),
           "housing-federation": (EU2, 250.0), "cafe-montreal": (CA1, 5.0), "tenants-union-toronto": (CA1, 15.0)}


def metrics_text() -> str:
    lines = ["# TYPE meetfleet_server_up gauge"]
    lines += [f'meetfleet_server_up{{region="{r}",server="{s}"}} {up}' for s, (r, up, _) in SERVERS.items()]
    lines.append("# TYPE meetfleet_server_load_units gauge")
    lines += [f'meetfleet_server_load_units{{region="{r}",server="{s}"}} {load}'
              for s, (r, _, load) in SERVERS.items()]
    lines.append("# TYPE meetfleet_tenant_load_units gauge")
    lines += [f'meetfleet_tenant_load_units{{server="{s}",tenant="{t}"}} {load}' for t, (s, load) in TENANTS.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Standin:
    url: str
    requests: list[str] = field(default_factory=list)
    credentials: tuple[str, str] | None = None
    body: str = field(default_factory=metrics_text)


@pytest.fixture
def standin() -> Iterator[Standin]:
    with serve_standin() as state:
        yield state


@contextmanager
def serve_standin() -> Iterator[Standin]:
    state = Standin("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.credentials is not None:
                expected = "Basic " + base64.b64encode(":".join(state.credentials).encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="metrics"')
                    self.end_headers()
                    return
            body = state.body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # Each request's thread is joined on stop (server_close): none is left to write into
    # the next test's output.
    server.daemon_threads = False
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
