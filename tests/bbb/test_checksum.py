"""Checksums as BBB computes them."""

from __future__ import annotations

import pytest

from meetfleet.bbb.checksum import ALGORITHMS, checksum, sign_query
from meetfleet.testing.bbb_standin import checksum_ok


def test_matches_the_example_of_the_bbb_api_documentation() -> None:
    # The worked example of BBB's API docs: create, its query string and secret, sha1.
    query = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
    assert checksum("create", query, "639259d4-9dd8-4b25-bf01-95f9567eaf4b", "sha1") == (
        "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
    )


@pytest.mark.parametrize(("algorithm", "length"), [("sha1", 40), ("sha256", 64), ("sha384", 96), ("sha512", 128)])
def test_each_algorithm_has_the_length_a_server_tells_it_by(algorithm: str, length: int) -> None:
    assert len(checksum("getMeetings", "", "s", algorithm)) == length


def test_signed_query_puts_checksum_last_and_encodes_values() -> None:
    query = sign_query("create", {"name": "Café & co", "meetingID": "m-1"}, "s", "sha1")
    assert query.startswith("name=Caf%C3%A9+%26+co&meetingID=m-1&checksum=")
    assert query.endswith(checksum("create", "name=Caf%C3%A9+%26+co&meetingID=m-1", "s", "sha1"))


def test_query_without_parameters_is_only_the_checksum() -> None:
    assert sign_query("getMeetings", {}, "s", "sha256") == f"checksum={checksum('getMeetings', '', 's', 'sha256')}"


def test_unknown_algorithm_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="md5"):
        checksum("create", "", "s", "md5")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_server_side_check_accepts_the_client_signature(algorithm: str) -> None:
    query = sign_query("create", {"name": "x", "meetingID": "yy"}, "secret", algorithm)
    assert checksum_ok("create", query, "secret", frozenset(ALGORITHMS))
    assert not checksum_ok("create", query, "other", frozenset(ALGORITHMS))
    assert not checksum_ok("end", query, "secret", frozenset(ALGORITHMS))
    others = frozenset(ALGORITHMS) - {algorithm}
    assert not checksum_ok("create", query, "secret", others)


def test_the_default_algorithm_is_sha256_for_both_calls() -> None:
    # BBB's own default since 2.5; a server whose inventory names none is checked with it.
    import hashlib

    assert checksum("getMeetings", "", "s") == hashlib.sha256(b"getMeetingss").hexdigest()
    assert sign_query("end", {"meetingID": "m"}, "s") == \
        "meetingID=m&checksum=" + hashlib.sha256(b"endmeetingID=ms").hexdigest()


def test_unknown_algorithm_message_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as refused:
        checksum("create", "", "s", "SHA256")  # names are lowercase, as in bbb-web.properties
    assert str(refused.value) == "unknown checksum algorithm 'SHA256' (one of: sha1, sha256, sha384, sha512)"
