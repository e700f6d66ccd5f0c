"""Serving /metrics: the last rendered payload, optionally behind basic auth and TLS.

A scrape only copies bytes already rendered, so it never waits on a BBB server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from capacity_exporter.config import WebConfig

# Polls parse XML in the interpreter's main thread; a scrape's thread waits for the GIL at
# each step. Python hands the GIL over every 5 ms by default; 1 ms keeps scrapes short
# while a large poll is being parsed, at a cost to the poll's throughput that
# benchmarks/exporter_bench.py shows to be small.
SCRAPE_FRIENDLY_SWITCH_INTERVAL = 0.001


def favour_scrapes() -> None:
    sys.setswitchinterval(SCRAPE_FRIENDLY_SWITCH_INTERVAL)


LANDING = b"<html><body><h1>meetfleet capacity exporter</h1><a href='/metrics'>/metrics</a></body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that stalls mid-request (or mid-TLS-handshake) frees its thread
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms (delayed ACK).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if not self.server.authorised(self.headers.get("Authorization")):
            return self._send(401, b"unauthorised\n", "text/plain", {"WWW-Authenticate": 'Basic realm="metrics"'})
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            return self._send(200, self.server.payload(), CONTENT_TYPE_LATEST)
        if path == "/":
            return self._send(200, LANDING, "text/html")
        return self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # one line per scrape is noise; failures show in Prometheus' `up`


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], payload: Callable[[], bytes], web: WebConfig):
        self.payload = payload
        self._auth = web.basic_auth
        super().__init__(address, _Handler)
        if web.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(web.tls.cert_file, web.tls.key_file)
            # Handshake in the request's own thread (first read), not in the accept loop.
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def authorised(self, header: str | None) -> bool:
        if self._auth is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        user_ok = hmac.compare_digest(user.encode("utf-8"), self._auth.username.encode("utf-8"))
        return hmac.compare_digest(digest, self._auth.password_sha256.lower()) and user_ok

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="metrics-http", daemon=True)
        thread.start()
        return thread
