"""What goes wrong reading a capacity source, and the TLS trust every reader shares."""

from __future__ import annotations

import ssl


class SourceError(Exception):
    """The capacity source could not be read (unreachable, refused, malformed answer)."""


class SourceConfigError(ValueError):
    """No capacity source, or one configured incompletely (bad input: nothing was contacted)."""


class NoSourceError(SourceConfigError):
    """No flag, no environment variable and no fleet_capacity_source."""


def tls_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's `verify` from True, False or a CA file path (httpx 0.28 wants a context for a path)."""
    if isinstance(verify, bool):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise SourceError(f"cannot use the CA file {verify}: {exc}") from exc
