"""Run LightFM 1.17's own test suite against hybridrec through import aliases.

"Change the import and keep your code": this script checks that promise with the tests
LightFM ships. It copies ``<lightfm-path>/tests`` to a temporary folder (LightFM's tests
are never copied into this repository) and runs pytest on it twice, each in a fresh
subprocess:

- ``lightfm``: the installed LightFM package, unchanged (the reference);
- ``hybridrec``: the same files with ``lightfm`` and its submodules aliased to
  hybridrec's modules (``ALIASES`` below), installed in ``sys.modules`` before pytest
  collects anything, so ``from lightfm.lightfm import LightFM`` gets
  ``hybridrec.model.LightFM`` and so on.

Both runs get the same private ``HOME`` whose ``~/lightfm_data`` holds MovieLens 100k in
LightFM's cache layout (``movielens100k/movielens.zip``, built from the shared copy of
``ml-100k``) and the CrossValidated archive (``stackexchange/crossvalidated/data.npz``),
so ``fetch_movielens()`` with LightFM's default ``data_home`` needs no network in either
package. Results are printed per test, side by side, with the counts.

Usage::

    python benchmarks/lightfm_test_suite.py --lightfm-path /work/peers/lightfm
    python benchmarks/lightfm_test_suite.py --lightfm-path DIR --only hybridrec -k movielens
    python benchmarks/lightfm_test_suite.py --lightfm-path DIR --json results.json

Exit status 0 whatever the results (it measures; the project's own tests assert).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

#: LightFM module -> the hybridrec module that replaces it (what a migrating user changes).
ALIASES = {
    "lightfm": "hybridrec",
    "lightfm.lightfm": "hybridrec.model",
    "lightfm.evaluation": "hybridrec.metrics",
    "lightfm.data": "hybridrec.data",
    "lightfm.cross_validation": "hybridrec.data",
    "lightfm.datasets": "hybridrec.data",
}
_ML100K_FILES = ("ua.base", "ua.test", "u.item", "u.genre", "u.data", "u.user",
                 "u.occupation", "README")


# ----------------------------------------------------------------------- child side
def install_aliases() -> None:
    """Register the ``lightfm`` names in ``sys.modules`` as views of hybridrec.

    The top-level ``lightfm`` is a new module object (not ``hybridrec`` itself) carrying
    hybridrec's public names and the aliased submodules as attributes, so both
    ``import lightfm.evaluation`` and ``from lightfm import evaluation`` resolve.
    """
    import importlib

    package = importlib.import_module(ALIASES["lightfm"])
    top = types.ModuleType("lightfm", "hybridrec under LightFM's import name")
    top.__dict__.update({name: getattr(package, name) for name in package.__all__})
    top.__path__ = []  # a package, so that submodule imports consult sys.modules
    sys.modules["lightfm"] = top
    for alias, target in ALIASES.items():
        if alias == "lightfm":
            continue
        module = importlib.import_module(target)
        sys.modules[alias] = module
        setattr(top, alias.split(".", 1)[1], module)


class _Collector:
    """pytest plugin recording one outcome per test id."""

    def __init__(self) -> None:
        self.outcomes: dict[str, dict] = {}

    def pytest_runtest_logreport(self, report) -> None:  # noqa: D102 (pytest hook)
        entry = self.outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if report.when == "call" and report.outcome == "passed" and hasattr(report, "wasxfail"):
            entry["outcome"] = "xpassed"
        if report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["message"] = _short(report.longrepr)
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = _short(report.longrepr)

    def pytest_collectreport(self, report) -> None:  # noqa: D102 (pytest hook)
        if report.failed:
            self.outcomes[report.nodeid + " (collection)"] = {
                "outcome": "error", "message": _short(report.longrepr)}


def _short(longrepr: object) -> str:
    """The last meaningful line of a pytest failure (the exception), trimmed."""
    if isinstance(longrepr, tuple):  # skips: (path, line, reason)
        return str(longrepr[-1])[:200]
    text = str(getattr(longrepr, "reprcrash", None) or longrepr)
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:200]


def run_child(target: str, tests_dir: str, output: str, pytest_args: list[str]) -> int:
    """Run pytest on ``tests_dir`` in this process and write the outcomes as JSON."""
    import pytest

    if target == "hybridrec":
        sys.path.insert(0, str(REPO_ROOT))  # the working tree's hybridrec
        install_aliases()
    collector = _Collector()
    started = time.perf_counter()
    status = pytest.main([tests_dir, "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                          "--continue-on-collection-errors", "-W", "default", *pytest_args],
                         plugins=[collector])
    module = sys.modules["lightfm.lightfm"] if "lightfm.lightfm" in sys.modules else None
    Path(output).write_text(json.dumps({
        "target": target, "status": int(status), "seconds": time.perf_counter() - started,
        "model_module": getattr(module, "__file__", None),
        "outcomes": collector.outcomes}, indent=1))
    return 0


# ---------------------------------------------------------------------- parent side
def make_lightfm_home(home: Path, data_dir: Path, hybridrec_layout: bool) -> None:
    """A HOME whose ``lightfm_data`` is LightFM's cache layout, from the shared data
    (and, with ``hybridrec_layout``, also ``~/hybridrec_data`` in hybridrec's own layout,
    for measuring everything else in a hybridrec that cannot read LightFM's layout)."""
    if hybridrec_layout:
        own = home / "hybridrec_data" / "movielens100k" / "ml-100k"
        own.mkdir(parents=True)
        for name in _ML100K_FILES:
            if (data_dir / "ml-100k" / name).is_file():
                (own / name).symlink_to(data_dir / "ml-100k" / name)
    cache = home / "lightfm_data"
    movielens = cache / "movielens100k"
    movielens.mkdir(parents=True)
    # LightFM's own archive (from its data release) holds the GroupLens files under
    # ml-100k/; build the same from the shared copy.
    with zipfile.ZipFile(movielens / "movielens.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in _ML100K_FILES:
            source = data_dir / "ml-100k" / name
            if source.is_file():
                archive.write(source, f"ml-100k/{name}")
    npz = data_dir / "stackexchange-crossvalidated" / "data.npz"
    if npz.is_file():
        target = cache / "stackexchange" / "crossvalidated"
        target.mkdir(parents=True)
        (target / "data.npz").symlink_to(npz)


def run_target(target: str, tests_dir: Path, home: Path, pytest_args: list[str]) -> dict:
    """One pytest run in a fresh interpreter; returns its JSON record."""
    output = tests_dir.parent / f"{target}.json"
    env = dict(os.environ, HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    env.pop("HYBRIDREC_DATA", None)  # LightFM's default cache only
    command = [sys.executable, str(Path(__file__).resolve()), "--child", target,
               "--tests-dir", str(tests_dir), "--output", str(output), "--", *pytest_args]
    completed = subprocess.run(command, env=env, cwd=tests_dir.parent,
                               capture_output=True, text=True)
    if not output.is_file():
        sys.stderr.write(completed.stdout[-5000:] + completed.stderr[-5000:])
        raise RuntimeError(f"the {target} run produced no results (exit {completed.returncode})")
    record = json.loads(output.read_text())
    record["log_tail"] = completed.stdout[-3000:]
    return record


def expand_collection_errors(records: dict[str, dict]) -> None:
    """Give every test of a file that failed to import in one target (but was collected
    in another) that target's collection error, so all targets count the same tests."""
    ids = {nodeid for record in records.values() for nodeid in record["outcomes"]
           if not nodeid.endswith(" (collection)")}
    for record in records.values():
        outcomes = record["outcomes"]
        for broken in [nodeid for nodeid in outcomes if nodeid.endswith(" (collection)")]:
            file = broken[: -len(" (collection)")]
            members = [nodeid for nodeid in ids if nodeid.startswith(file + "::")]
            if members:
                entry = outcomes.pop(broken)
                for nodeid in members:
                    outcomes.setdefault(nodeid, {"outcome": "error",
                                                 "message": "collection: " + entry["message"]})


def counts(outcomes: dict) -> dict[str, int]:
    """Number of tests per outcome."""
    result: dict[str, int] = {}
    for entry in outcomes.values():
        result[entry["outcome"]] = result.get(entry["outcome"], 0) + 1
    return result


def report(records: dict[str, dict]) -> str:
    """A per-test table (one column per target) followed by the counts."""
    expand_collection_errors(records)
    targets = list(records)
    ids = sorted({nodeid for record in records.values() for nodeid in record["outcomes"]})
    width = max([len(nodeid) for nodeid in ids] + [10])
    lines = [f"{'test':<{width}}  " + "  ".join(f"{t:<9}" for t in targets)]
    for nodeid in ids:
        cells = [records[t]["outcomes"].get(nodeid, {"outcome": "-"})["outcome"]
                 for t in targets]
        lines.append(f"{nodeid:<{width}}  " + "  ".join(f"{c:<9}" for c in cells))
    lines.append("")
    for target in targets:
        record = records[target]
        tally = counts(record["outcomes"])
        total = sum(tally.values())
        summary = ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))
        lines.append(f"{target}: {tally.get('passed', 0)} of {total} passed ({summary}); "
                     f"{record['seconds']:.0f} s; LightFM class from {record['model_module']}")
    lines.append("")
    for target in targets:
        failing = {nodeid: entry for nodeid, entry in records[target]["outcomes"].items()
                   if entry["outcome"] in ("failed", "error", "skipped")}
        if failing:
            lines.append(f"{target}: not passed")
            lines.extend(f"  {nodeid}: {entry['outcome']}: {entry['message']}"
                         for nodeid, entry in sorted(failing.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lightfm-path", type=Path,
                        help="a LightFM checkout (its tests/ folder is run)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"folder holding ml-100k/ (default: {DEFAULT_DATA_DIR})")
    parser.add_argument("--only", choices=("lightfm", "hybridrec"),
                        help="run one target only")
    parser.add_argument("--hybridrec-layout", action="store_true",
                        help="also provide ~/hybridrec_data in hybridrec's own cache layout")
    parser.add_argument("--json", type=Path, help="also write both records here")
    parser.add_argument("--child", choices=("lightfm", "hybridrec"), help=argparse.SUPPRESS)
    parser.add_argument("--tests-dir", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("pytest_args", nargs="*",
                        help="passed to pytest after `--` (e.g. -- -k movielens)")
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.tests_dir, args.output, args.pytest_args)
    if args.lightfm_path is None:
        parser.error("--lightfm-path is required")
    source = args.lightfm_path / "tests"
    if not source.is_dir():
        parser.error(f"{source} is not a directory (expected LightFM's tests/)")
    targets = [args.only] if args.only else ["lightfm", "hybridrec"]
    with tempfile.TemporaryDirectory(prefix="lightfm-suite-") as scratch:
        scratch = Path(scratch)
        tests_dir = scratch / "tests"
        shutil.copytree(source, tests_dir, ignore=shutil.ignore_patterns("__pycache__"))
        home = scratch / "home"
        make_lightfm_home(home, args.data_dir, args.hybridrec_layout)
        records = {target: run_target(target, tests_dir, home, args.pytest_args)
                   for target in targets}
    print(f"LightFM tests from {source}; python {sys.version.split()[0]}")
    print(report(records))
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
