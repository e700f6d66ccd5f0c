"""The fleet model's URL check, message by message (mutation testing, docs/testing.md)."""

from __future__ import annotations

import pytest

from meetfleet.fleet.model import check_http_url

API = "/bigbluebutton/api"


@pytest.mark.parametrize("url", [f"https://bbb.example.coop{API}", f"http://10.0.0.1:8080/prefix{API}/",
                                 f"https://bbb.example.coop:443{API}"])
def test_a_bbb_api_base_is_accepted_as_written(url: str) -> None:
    assert check_http_url(url, bbb_api=True) == url


@pytest.mark.parametrize(("url", "message"), [
    (f"https://bbb example{API}", "must be a URL without spaces or control characters"),
    (f"https://bbb\x01.example{API}", "must be a URL without spaces or control characters"),
    (f"https://bbb.example:99999{API}", "is not a valid URL (Port out of range 0-65535)"),
    (f"ftp://bbb.example{API}", "must be an http:// or https:// URL"),
    (f"https://{API}", "must name a host (http(s)://HOST/...)"),
    (f"https://admin:pw@bbb.example{API}", "must not hold credentials (user:password@): they belong in the vault"),
    (f"https://bbb.example:0{API}", "has port 0"),
    (f"https://bbb.example{API}#top", "must not have a #fragment"),
    (f"https://bbb.example{API}#", "must not have a #fragment"),  # an empty fragment is still one
    (f"https://bbb.example{API}?x=1", "must not have a ?query: the client appends /CALL?PARAMETERS"),
    (f"https://bbb.example{API}?", "must not have a ?query: the client appends /CALL?PARAMETERS"),
])
def test_each_refusal_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_http_url(url, bbb_api=True)
    assert str(refused.value) == message


def test_a_base_not_ending_in_the_api_path_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^must end in /bigbluebutton/api"):
        check_http_url("https://bbb.example/api", bbb_api=True)


def test_other_urls_may_have_a_query_and_any_path() -> None:
    url = "https://monitor.example.coop:9090/prometheus?x=1"
    assert check_http_url(url) == url
    with pytest.raises(ValueError, match="#fragment"):
        check_http_url(url + "#")


def test_a_tenants_own_limits_replace_its_plans_one_by_one() -> None:
    from meetfleet.fleet import Plan, Region, Tenant
    from meetfleet.fleet.model import Fleet, TenantLimits

    plan = Plan(name="small", max_concurrent_users=50, max_rooms=5, max_meeting_minutes=120)
    fleet = Fleet(regions={"eu": Region(name="eu")}, plans={"small": plan}, hosts={}, tenants={})
    plain = Tenant(name="a", plan="small", region="eu")
    event = Tenant(name="b", plan="small", region="eu", limits=TenantLimits(max_concurrent_users=400))
    rooms = Tenant(name="c", plan="small", region="eu", limits=TenantLimits(max_rooms=9, max_meeting_minutes=600))
    assert fleet.tenant_caps(plain) == (50, 5, 120)
    assert fleet.tenant_caps(event) == (400, 5, 120)
    assert fleet.tenant_caps(rooms) == (50, 9, 600)


def test_a_tenants_gateway_secret_variable_is_a_valid_variable_name() -> None:
    from meetfleet.fleet.model import Gateway

    assert Gateway.secret_variable("food-coop.quebec") == "vault_gateway_secret_food_coop_quebec"
