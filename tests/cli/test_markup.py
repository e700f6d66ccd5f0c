"""User text is printed as typed: rich markup in any argument neither crashes nor restyles output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import CA1, Standin
from tests.helpers import run, snapshot

EU2 = "bbb-eu-2.example.coop"
# An unbalanced closing tag (crashed rich), styling that would hide itself, a link.
MARKUP = ["[/]", "[bold]eu[/]", "[link=https://x.example]y[/link]"]


def _literal(result: Result, text: str) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert text in result.output, result.output


CASES = {
    "tenant name": (["tenant", "add", "{m}", "--plan", "small", "--region", "ca"], 2),
    "plan": (["place", "--plan", "{m}", "--region", "eu"], 2),
    "region": (["place", "--plan", "small", "--region", "{m}"], 2),
    "timezone": (["place", "--plan", "small", "--region", "eu", "--timezone", "{m}"], 2),
    "server name": (["server", "cordon", "{m}"], 2),
    "move --to": (["tenant", "move", "bakery-collective", "--to", "{m}"], 2),
    "moved tenant": (["tenant", "move", "{m}", "--to", EU2, "--force"], 2),
    "--window": (["capacity", "--window", "{m}"], 2),
    "--greenlight": (["tenant", "add", "choir-lyon", "--plan", "small", "--region", "ca", "--greenlight", "{m}"], 2),
    "--headroom": (["capacity", "--headroom", "{m}"], 2),
    "--exporter": (["capacity", "--exporter", "http://127.0.0.1:9/{m}", "--timeout", "1"], 1),
}


@pytest.mark.parametrize("markup", MARKUP)
@pytest.mark.parametrize("case", sorted(CASES))
def test_markup_in_arguments_is_printed_literally(example_copy: Path, standin: Standin, case: str,
                                                   markup: str) -> None:
    args, code = CASES[case]
    before = snapshot(example_copy)
    source = [] if "--exporter" in args else ["--exporter", standin.url]
    uses_source = args[0] in ("place", "capacity") or args[:2] in (["tenant", "add"], ["tenant", "move"])
    result = run(*[a.replace("{m}", markup) for a in args], "--inventory", str(example_copy),
                 *(source if uses_source else []))
    assert result.exit_code == code, result.output
    _literal(result, markup)
    assert snapshot(example_copy) == before


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_in_a_free_text_option_is_recorded_and_printed_literally(
        example_copy: Path, standin: Standin, markup: str) -> None:
    # --sso-client is free text: accepted, recorded and shown as typed.
    result = run("tenant", "add", "choir-montreal", "--plan", "small", "--region", "ca", "--sso-client", markup,
                 "--inventory", str(example_copy), "--exporter", standin.url, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["sso_client"], data["bbb_server"]) == (markup, CA1)
    shown = run("inventory", "show", "--inventory", str(example_copy))
    assert shown.exit_code == 0, shown.output
    _literal(shown, markup)


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_in_a_refused_option_value_is_printed_literally_before_placing(
        example_copy: Path, standin: Standin, markup: str) -> None:
    result = run("tenant", "add", "choir-montreal", "--plan", "small", "--region", "ca",
                 "--origin-server-name", markup, "--inventory", str(example_copy), "--exporter", standin.url)
    assert result.exit_code == 2, result.output
    _literal(result, f"(got {markup!r})")
    assert standin.requests == []  # refused before any capacity source was asked


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_in_the_inventory_path_is_printed_literally(example_copy: Path, standin: Standin,
                                                           markup: str) -> None:
    inventory = example_copy.parent / markup.replace("/", "_") / "inv[/]"
    shutil.copytree(example_copy, inventory)
    added = run("tenant", "add", "choir-montreal", "--plan", "small", "--region", "ca",
                "--inventory", str(inventory), "--exporter", standin.url)
    assert added.exit_code == 0, added.output
    _literal(added, f"recorded tenant choir-montreal on {CA1} in {inventory}")
    missing = run("capacity", "--inventory", str(inventory / "[bold]nowhere[/]"), "--exporter", standin.url)
    assert missing.exit_code == 2
    _literal(missing, str(inventory / "[bold]nowhere[/]"))
    lab = run("lab", "status", "--inventory", str(inventory / "[/]"))
    assert lab.exit_code == 2
    _literal(lab, str(inventory / "[/]"))
