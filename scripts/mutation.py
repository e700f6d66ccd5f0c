"""Mutation testing of the core with mutmut, in a private copy, and its report.

    .venv/bin/python scripts/mutation.py [--install] [--module placement.decide ...]
                                         [--sample N --seed S] [--work DIR] [--report-only]

What it does (issue 17; the figures are in docs/testing.md):
1. lays a private copy of the project in --work (default /var/tmp/meetfleet-mutation):
   src/meetfleet, exporters/capacity_exporter as src/capacity_exporter (mutmut names a
   module from its path under src/), tests/, inventories/, pyproject.toml with the
   [tool.mutmut] table built from scripts/mutation.toml. The working tree is never
   mutated: other people's test runs there never meet a mutant;
2. runs `mutmut run --max-children 1` there, under `nice -n 15`, once per module asked
   for (all of scripts/mutation.toml's only_mutate by default), each mutant against the
   fast tests that reach its function;
3. with --sample N: runs a seeded random sample of N mutants per module instead of all
   (reproducible: the same N, seed and source give the same mutants);
4. prints the report: per module, mutants, killed, survived, timeouts, no tests,
   the survivors listed as equivalent in scripts/mutation.toml ([equivalent], with the
   reason), and the score killed / (all - equivalent). Every other survivor is listed
   by name (`cd WORK && mutmut show NAME` shows its diff).

A rerun with the same --work reuses mutmut's cache of results (pass --fresh to start over);
--rerun-survivors runs only last time's survivors again, against the tests as they are now.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).with_name("mutation.toml")
MUTMUT_VERSION = "3.8.1"
DEFAULT_WORK = Path("/var/tmp/meetfleet-mutation")  # noqa: S108 (a working copy, not a secret)
KILLED = {"killed", "caught by type check"}
BATCH = 10  # mutants per module per round (sample mode): each round also reruns the clean tests once


def load_config() -> dict:
    return tomllib.loads(CONFIG.read_text())


def module_of(path: str) -> str:
    """src/meetfleet/placement/decide.py -> meetfleet.placement.decide"""
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def short(module: str) -> str:
    return module.removeprefix("meetfleet.")


def mutant_module(name: str) -> str:
    """meetfleet.placement.spare.xǁServerSpareǁafter__mutmut_3 -> meetfleet.placement.spare"""
    return re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]


def toml_table(name: str, values: dict) -> str:
    # Strings, numbers, booleans and lists of strings: JSON's spelling is TOML's.
    lines = [f"[{name}]"]
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def prepare(work: Path, config: dict, fresh: bool) -> None:
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for src, dst in ((REPO / "src" / "meetfleet", work / "src" / "meetfleet"),
                     (REPO / "exporters" / "capacity_exporter", work / "src" / "capacity_exporter"),
                     (REPO / "tests", work / "tests"), (REPO / "inventories", work / "inventories")):
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "vault.yml"))
    pyproject = (REPO / "pyproject.toml").read_text()
    if "[tool.mutmut]" in pyproject:
        sys.exit("pyproject.toml has a [tool.mutmut] table: the configuration is scripts/mutation.toml")
    (work / "pyproject.toml").write_text(pyproject + "\n" + toml_table("tool.mutmut", config["mutmut"]))


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Subprocesses a test starts import the copy too (mutmut fixes sys.path only in-process).
    env["PYTHONPATH"] = str(work / "mutants" / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def mutmut(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = ["nice", "-n", "15", sys.executable, "-m", "mutmut", *args]
    return subprocess.run(command, cwd=work, env=environment(work), check=check, text=True,
                          stdout=subprocess.PIPE if args[0] == "results" else None)


def results(work: Path) -> dict[str, str]:
    out = mutmut(work, "results", "--all", "true").stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def sample(names: list[str], n: int, seed: int) -> list[str]:
    """The first `n` of the module's mutants in a seeded shuffle: a smaller sample is a
    prefix of a larger one with the same seed, so a longer run extends a shorter one."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    shuffled = sorted(names)
    rng.shuffle(shuffled)
    return shuffled[:n]


def rerun_survivors(work: Path, modules: list[str], n: int | None) -> None:
    """Run again, against the tests as they are now, every mutant that survived (or had no
    test) last time; killed ones stay killed (tests are only ever added). Test stats are
    collected anew, so new tests are asked too."""
    found = results(work)
    # "not checked" too: what an interrupted rerun had reset and not run yet
    again = [m for m, status in found.items() if mutant_module(m) in modules and (
             (status in ("survived", "no tests") and (n is None or _drawn(work, m, n)))
             or (status == "not checked" and n is not None and _drawn(work, m, n)))]
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name in again:
            if name in data["exit_code_by_key"]:
                data["exit_code_by_key"][name] = None
        meta.write_text(json.dumps(data))
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    print(f"== running {len(again)} surviving mutants again", flush=True)
    for start in range(0, len(again), 50):
        mutmut(work, "run", "--max-children", "1", *again[start:start + 50], check=False)


def _drawn(work: Path, name: str, n: int | None = None) -> bool:
    """In the sample drawn for its module (its first `n`: a smaller sample is a prefix)."""
    drawn = work / f"sample-{mutant_module(name)}.txt"
    return drawn.exists() and name in drawn.read_text().split()[:n]


def run(work: Path, modules: list[str], n: int | None, seed: int) -> None:
    if n is None:
        for module in modules:
            print(f"== {module}: every mutant", flush=True)
            mutmut(work, "run", "--max-children", "1", f"{module}.*", check=False)
        return
    # Generate the mutants (and the test stats) without running any, then draw the sample.
    mutmut(work, "run", "--max-children", "1", "no.such.mutant.*", check=False)
    every = results(work)
    drawn = {}
    for module in modules:
        drawn[module] = sample([m for m in every if mutant_module(m) == module], n, seed)
        print(f"== {module}: {len(drawn[module])} mutants drawn (seed {seed})", flush=True)
        (work / f"sample-{module}.txt").write_text("\n".join(drawn[module]) + "\n")
    # Round robin, a few mutants of each module at a time: stopped early, every module has
    # the same share done (the report counts the rest as not run).
    for start in range(0, n, BATCH):
        names = [m for module in modules for m in drawn[module][start:start + BATCH]]
        if names:
            mutmut(work, "run", "--max-children", "1", *names, check=False)


def report(work: Path, modules: list[str], config: dict, n: int | None, seed: int) -> str:
    found = results(work)
    equivalent: dict[str, str] = config.get("equivalent", {})
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    unknown_equivalents = [name for name in equivalent if name not in found]
    for name, status in found.items():
        module = mutant_module(name)
        if module not in modules:
            continue
        if n is not None and not _drawn(work, name, n):
            continue
        c = counts[module]
        c["mutants"] += 1
        if status in KILLED:
            c["killed"] += 1
        elif status == "survived" and name in equivalent:
            c["equivalent"] += 1
        elif status == "survived":
            c["survived"] += 1
            survivors[module].append(name)
        elif status == "timeout":
            c["killed"] += 1  # an endless loop the tests stop is a detected mutant
            c["timeout"] += 1
        elif status == "no tests":
            c["no tests"] += 1
            survivors[module].append(name)
        else:
            c["not run"] += 1
    lines = ["| module | mutants | killed | survived | equivalent | no tests | not run "
             "| killed / (mutants - equivalent) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    total: Counter = Counter()
    for module in modules:
        c = counts[module]
        total.update(c)
        lines.append(_row(short(module), c))
    lines.append(_row("**all**", total))
    scope = "every mutant" if n is None else f"a seeded sample of {n} mutants per module (seed {seed})"
    text = [f"mutmut {MUTMUT_VERSION}, {scope}; timeouts count as killed ({total['timeout']} of them).", "",
            *lines, ""]
    for module in modules:
        if survivors[module]:
            text.append(f"surviving in {short(module)}: " + ", ".join(sorted(survivors[module])))
    if unknown_equivalents:
        text.append("listed as equivalent but not found (stale names): " + ", ".join(unknown_equivalents))
    return "\n".join(text)


def _row(label: str, c: Counter) -> str:
    judged = c["mutants"] - c["equivalent"] - c["not run"]
    score = f"{c['killed'] / judged:.1%}" if judged else "-"
    return (f"| {label} | {c['mutants']} | {c['killed']} | {c['survived']} | {c['equivalent']} | {c['no tests']} | "
            f"{c['not run']} | {score} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--module", action="append", default=[],
                        help="e.g. placement.decide or capacity_exporter.usage (default: all configured)")
    parser.add_argument("--sample", type=int, help="mutants drawn per module (default: all)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--fresh", action="store_true", help="start from a new copy and no cached results")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="copy the tests again and rerun only the mutants that survived in --work")
    parser.add_argument("--install", action="store_true", help=f"pip install mutmut=={MUTMUT_VERSION} first")
    args = parser.parse_args()
    config = load_config()
    configured = [module_of(p) for p in config["mutmut"]["only_mutate"]]
    modules = configured
    if args.module:
        wanted = [m if m.startswith(("meetfleet.", "capacity_exporter")) else f"meetfleet.{m}" for m in args.module]
        modules = [m for m in configured if any(fnmatch.fnmatch(m, w) for w in wanted)]
        if not modules:
            sys.exit(f"no configured module matches {args.module}")
    if args.install:
        subprocess.run([sys.executable, "-m", "pip", "install", f"mutmut=={MUTMUT_VERSION}"], check=True)
    if args.rerun_survivors:
        prepare(args.work, config, fresh=False)
        rerun_survivors(args.work, modules, args.sample)
    elif not args.report_only:
        prepare(args.work, config, args.fresh)
        run(args.work, modules, args.sample, args.seed)
    print(report(args.work, modules, config, args.sample, args.seed))


if __name__ == "__main__":
    main()
