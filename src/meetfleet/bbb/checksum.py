"""BBB API checksums: hash(CALL + QUERY + SECRET), hex, algorithm chosen per server."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import urlencode

# The algorithms BBB accepts (supportedChecksumAlgorithms in bbb-web.properties, BBB >= 2.5).
ALGORITHMS: tuple[str, ...] = ("sha1", "sha256", "sha384", "sha512")


def checksum(call: str, query: str, secret: str, algorithm: str = "sha256") -> str:
    """The checksum BBB expects for `call` with `query` (the query string as sent)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r} (one of: {', '.join(ALGORITHMS)})")
    return hashlib.new(algorithm, (call + query + secret).encode("utf-8")).hexdigest()


def sign_query(call: str, params: Mapping[str, str], secret: str, algorithm: str = "sha256") -> str:
    """The full query string for `call`, `checksum=` appended last as BBB wants it."""
    query = urlencode(params)
    digest = checksum(call, query, secret, algorithm)
    return f"{query}&checksum={digest}" if query else f"checksum={digest}"
