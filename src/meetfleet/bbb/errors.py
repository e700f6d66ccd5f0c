"""Why a BBB call failed, as a small closed set of kinds (they label the exporter's errors)."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"  # no complete answer within the call's deadline
    CONNECT = "connect"  # connection refused, DNS, TLS handshake
    HTTP = "http"  # an HTTP status other than 200
    CHECKSUM = "checksum"  # FAILED/checksumError: our secret or algorithm is not the server's
    FAILED = "failed"  # FAILED with any other messageKey
    MALFORMED = "malformed"  # not XML, or not the shape of a BBB response
    HOSTILE = "hostile"  # DTD or entity declarations: refused, never expanded
    TOO_LARGE = "too_large"  # the answer went past the byte cap


class BbbError(Exception):
    """A BBB call that did not give a usable answer. The message never holds URL or secret."""

    def __init__(self, kind: ErrorKind, message: str, message_key: str | None = None):
        self.kind = kind
        self.message = message
        self.message_key = message_key
        self.seconds: float | None = None  # how long the call was on the clock, when it was
        super().__init__(f"{kind.value}: {message}")

    def __reduce__(self):
        # Rebuilt from its parts when it comes back from a parsing worker process.
        return _rebuild, (self.kind, self.message, self.message_key, self.seconds)


def _rebuild(kind: ErrorKind, message: str, message_key: str | None, seconds: float | None) -> BbbError:
    error = BbbError(kind, message, message_key)
    error.seconds = seconds
    return error
