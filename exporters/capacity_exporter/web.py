"""Serving /metrics: the last rendered payload, optionally behind basic auth and TLS.

A scrape only copies bytes already rendered, so it never waits on a BBB server.
A client that misbehaves (disconnects, stalls, speaks plain HTTP to the TLS port, sends
garbage, fails the handshake) costs at most one log line and its own thread, never a
traceback and never another client's scrape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from capacity_exporter.config import WebConfig

# Answers are parsed in worker processes, but the main thread still receives them and
# renders /metrics; a scrape's thread waits for the GIL at each step. Python hands the GIL
# over every 5 ms by default; 1 ms keeps scrapes short while a large fleet is being
# polled, at a cost to throughput that benchmarks/exporter_bench.py shows to be small.
SCRAPE_FRIENDLY_SWITCH_INTERVAL = 0.001


def favour_scrapes() -> None:
    sys.setswitchinterval(SCRAPE_FRIENDLY_SWITCH_INTERVAL)


log = logging.getLogger("meetfleet.exporter.web")

# A TLS client must send its ClientHello and finish the handshake within this (in the
# connection's own thread: the accept loop never waits on a client).
HANDSHAKE_TIMEOUT = 5.0
TLS_HANDSHAKE_RECORD = 0x16  # the first byte of every TLS connection


def _peer(address: tuple) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _printable(text: str, limit: int = 160) -> str:
    """Client-supplied text for a log line: one line, bounded, control characters escaped."""
    clipped = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])
    return clipped + ("..." if len(text) > limit else "")


def describe(exc: BaseException) -> str:
    """What went wrong with a client connection, in a few words."""
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return "disconnected mid-request"
    if isinstance(exc, ssl.SSLError):  # before OSError: SSLError is one
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "disconnected mid-request"
    if isinstance(exc, OSError):
        return f"connection error: {exc.strerror or type(exc).__name__}"
    return f"{type(exc).__name__}: {_printable(str(exc))}"


LANDING = b"<html><body><h1>meetfleet capacity exporter</h1><a href='/metrics'>/metrics</a></body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that stalls mid-request frees its thread
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms (delayed ACK).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self._reported = False
        self._requests = 0
        self._awaiting_request = False

    def handle(self) -> None:
        try:
            super().handle()
        except OSError as exc:  # the client went away or broke TLS; SSLError is an OSError
            if not (self._awaiting_request and self._requests):
                self._report(describe(exc))
            # else: a kept-alive connection closed between requests (a reset included): normal

    def handle_one_request(self) -> None:
        self._awaiting_request = True
        super().handle_one_request()

    def parse_request(self) -> bool:
        self._awaiting_request = False
        self._requests += 1
        return super().parse_request()

    def log_error(self, format: str, *args: object) -> None:
        # http.server reports bad requests (400, 414, 431, 501) and timeouts here.
        if self._awaiting_request and self._requests and format.startswith("Request timed out"):
            return  # a keep-alive connection left idle (Prometheus between scrapes): normal
        self._report(_printable(format % args))

    def _report(self, what: str) -> None:
        if not self._reported:  # one line per connection, however many things went wrong
            self._reported = True
            log.info("client %s: %s", _peer(self.client_address), what)

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
        self._tls = web.server_context()  # ConfigError for a bad certificate or key
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket, client_address: tuple) -> None:
        # Runs in the connection's thread. The listening socket stays plain: each connection
        # is wrapped here, so its handshake (and its failure) is its own.
        if self._tls is None:
            return super().finish_request(request, client_address)
        tls = self._handshake(request, client_address)
        if tls is not None:
            try:
                super().finish_request(tls, client_address)
            finally:
                self.shutdown_request(tls)  # `request` was detached into `tls`

    def _handshake(self, sock: socket.socket, client_address: tuple) -> ssl.SSLSocket | None:
        peer = _peer(client_address)
        sock.settimeout(HANDSHAKE_TIMEOUT)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError as exc:
            log.info("client %s: sent nothing to start TLS: %s", peer, describe(exc))
            return None
        if not first:
            return None  # connected and closed without a word (a port probe): nothing to report
        if first[0] != TLS_HANDSHAKE_RECORD:
            log.info("client %s: not a TLS handshake (plain HTTP to the HTTPS port?)", peer)
            return None
        try:
            return self._tls.wrap_socket(sock, server_side=True)
        except OSError as exc:
            reason = exc.reason if isinstance(exc, ssl.SSLError) and exc.reason else describe(exc)
            log.info("client %s: TLS handshake failed: %s", peer, reason)
            return None

    def handle_error(self, request: object, client_address: tuple) -> None:
        # socketserver would print a traceback to stderr; what reaches here is not the
        # client's doing (those are reported by the handler), so it is an error, in one line.
        exc = sys.exc_info()[1]
        log.error("client %s: %s", _peer(client_address), describe(exc) if exc else "unknown error",
                  exc_info=log.isEnabledFor(logging.DEBUG))

    def authorised(self, header: str | None) -> bool:
        if self._auth is None:
            return True
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "basic":  # the scheme is case-insensitive (RFC 7617)
            return False
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
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
