"""BigBlueButton API: checksummed client, hardened incremental parsing, typed results.

The stand-in BBB API for tests and the lab lives apart, in meetfleet.testing.
"""

from meetfleet.bbb.checksum import ALGORITHMS, sign_query
from meetfleet.bbb.client import Answer, BbbClient, BbbEndpoint
from meetfleet.bbb.errors import BbbError, ErrorKind
from meetfleet.bbb.models import CallResult, Meeting

__all__ = [
    "ALGORITHMS",
    "Answer",
    "BbbClient",
    "BbbEndpoint",
    "BbbError",
    "CallResult",
    "ErrorKind",
    "Meeting",
    "sign_query",
]
