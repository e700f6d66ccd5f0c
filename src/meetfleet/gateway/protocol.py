"""BBB's side of the wire: checksums as BBB checks them, and answers shaped as BBB's."""

from __future__ import annotations

import hashlib
import hmac
from xml.sax.saxutils import escape

ALGORITHM_BY_HEX_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
_QUOTES = {'"': "&quot;", "'": "&apos;"}


def split_checksum(raw_query: str) -> tuple[str, str | None]:
    """(the query without its checksum parameter, the checksum) of a raw query string.

    BBB hashes the query exactly as sent, less `checksum=...`; two checksums are refused."""
    parts = raw_query.split("&") if raw_query else []
    given = [p[len("checksum="):] for p in parts if p.startswith("checksum=")]
    query = "&".join(p for p in parts if not p.startswith("checksum="))
    return query, given[0] if len(given) == 1 else None


def checksum_ok(call: str, raw_query: str, secret: str) -> bool:
    """Whether the call is signed with `secret` (SHA-1/256/384/512, told by the hex length)."""
    query, given = split_checksum(raw_query)
    if given is None:
        return False
    algorithm = ALGORITHM_BY_HEX_LENGTH.get(len(given))
    if algorithm is None:
        return False
    expected = hashlib.new(algorithm, (call + query + secret).encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def leaves(pairs: list[tuple[str, object]] | tuple[tuple[str, object], ...]) -> str:
    return "".join(f"<{k}>{escape(str(v), _QUOTES)}</{k}>" for k, v in pairs)


def response(returncode: str, body: str = "") -> bytes:
    return f"<response><returncode>{returncode}</returncode>{body}</response>".encode()


def failed(key: str, message: str) -> bytes:
    return response("FAILED", leaves([("messageKey", key), ("message", message)]))


CHECKSUM_ERROR = failed("checksumError", "Checksums do not match")
