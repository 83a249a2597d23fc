"""The benchmark suite: hybridrec beside LightFM and implicit's BPR, one command, one report.

What is compared
    Systems (``--systems``): ``hybridrec warp``, ``lightfm warp``, ``hybridrec bpr``,
    ``lightfm bpr`` and ``implicit bpr`` (implicit's CPU BPR). hybridrec and LightFM use
    ``no_components=64`` and otherwise default hyperparameters (learning rate 0.05,
    adagrad, no regularisation); implicit ``factors=64`` and its defaults (learning rate
    0.01, regularisation 0.01). LightFM and implicit are optional imports: a system that
    is not installed is reported and left out.

    Datasets (``--datasets``, see ``_workloads.py``): MovieLens-100K ``u1.base/u1.test``;
    the MovieLens-1M-derived RecEraser split; MovieLens latest-small with a per-user
    temporal split (each user's latest 20% of ratings are test) and identity + genre + tag
    item features; StackExchange CrossValidated (time split, 10% test) with identity +
    tag item features. implicit never sees item features. Then synthetic data of
    ``hybridrec.data.synthetic`` at 1M, 10M and 50M drawn interactions (``--sizes``):
    hybridrec always, a peer where its predicted epoch time (its rate on the largest
    dataset so far) is at most ``--peer-max-epoch-seconds``; a size whose predicted time
    exceeds what is left of ``--budget-minutes`` is skipped with a printed note.

Protocol and measurements
    1. Learning curves, also the warm-up (numba compiles here): for every (dataset,
       system) a model trained one epoch at a time with the most threads; after each
       epoch precision@10 on the train set and on the test set (train items excluded).
    2. ``--repeats`` timed rounds (``--synthetic-repeats`` on synthetic data), rounds
       outermost, so machine drift hits all systems alike. In a round every (dataset,
       system, threads) trains a fresh model (seed = round) for the dataset's epochs in
       one ``fit`` call: time per epoch = that call's time / epochs. The model trained
       with the most threads is then timed for the package's own evaluation and for the
       top-10 of all users (``_systems.py`` says exactly what each package runs), and
       scored by one common evaluator (``hybridrec.metrics.evaluate``: precision@10,
       recall@10, NDCG@10, AUC, train items excluded) so that all systems are measured
       with the same definitions.
    3. Peak memory: one fresh child process per (dataset, system) trains one epoch,
       evaluates and computes the top-k lists with the most threads; reported is the
       peak resident set size above the RSS after loading data and a warm-up.
    4. LightFM's StackExchange hybrid example (``bench_stackexchange.py``).

    Reported numbers are medians over rounds; ratios are against LightFM with the same loss
    and threads (implicit's against LightFM's BPR). Evaluation and top-k are capped at
    the first ``--max-eval-users`` users (only synthetic data have more).

Output
    ``benchmarks/results.md`` (tables, machine and versions; regenerate it, never edit its
    numbers by hand) and ``benchmarks/plots/*.png`` (learning curves, time vs threads, time
    vs data size; needs matplotlib, the ``bench`` extra); the raw records as JSON in
    ``benchmarks/results/`` (git-ignored). ``--quick`` writes to ``benchmarks/results/quick``.

Run from the repository root::

    python benchmarks/run.py                 # full run (about 30 minutes on 2 cores)
    python benchmarks/run.py --quick         # smoke run, a few minutes
    python benchmarks/run.py --datasets ml-100k --systems "hybridrec warp" "lightfm warp" \\
        --sizes --repeats 2
    python benchmarks/run.py --report-from benchmarks/results/run-....json   # report only
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import REPO_ROOT, add_data_dir_argument, banner_lines, optional_import
from _measure import Record, learning_curve, log, measure_memory, memory_child, run_round
from _report import write_report
from _systems import System, make_systems
from _workloads import (
    REAL_DATASETS,
    SYNTHETIC_SIZES,
    Workload,
    load_workload,
    save_workload,
)

ALL_SYSTEMS = ("hybridrec warp", "lightfm warp", "hybridrec bpr", "lightfm bpr", "implicit bpr")
EPOCHS = {"ml-100k": 10, "ml-1m-receraser": 5, "ml-latest-small": 10, "stackexchange": 5}
SYNTHETIC_EPOCHS = 1
SYNTHETIC_REPEATS = 2
BENCH_DIR = Path(__file__).resolve().parent
GENERATION_SECONDS_PER_M = 2.0  # synthetic() + split, measured on the reference machine


# --------------------------------------------------------------------------- options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--quick`` fills in small defaults).

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 round, 2 epochs, small datasets, 1M synthetic")
    parser.add_argument("--repeats", type=int, help="timed rounds (default 3; quick 1)")
    parser.add_argument("--epochs", type=int,
                        help=f"epochs on every real dataset (default {EPOCHS}; quick 2)")
    parser.add_argument("--systems", nargs="+", choices=ALL_SYSTEMS, default=list(ALL_SYSTEMS))
    parser.add_argument("--datasets", nargs="*", choices=REAL_DATASETS,
                        help="real datasets (default all; quick: all but ml-1m-receraser)")
    parser.add_argument("--sizes", nargs="*", choices=list(SYNTHETIC_SIZES),
                        help="synthetic sizes (default 1M 10M 50M; quick 1M; none: skip)")
    parser.add_argument("--synthetic-repeats", type=int,
                        help=f"timed rounds on synthetic data (default min(repeats, "
                             f"{SYNTHETIC_REPEATS}))")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--budget-minutes", type=float, default=30.0,
                        help="skip synthetic sizes predicted to end after this (default 30)")
    parser.add_argument("--peer-max-epoch-seconds", type=float, default=15.0,
                        help="run a peer on synthetic data only if its predicted epoch "
                             "takes at most this (default 15)")
    parser.add_argument("--max-eval-users", type=int, default=50_000,
                        help="evaluate and time top-k for at most this many users")
    parser.add_argument("--no-memory", action="store_true", help="skip peak-memory children")
    parser.add_argument("--no-example", action="store_true",
                        help="skip LightFM's StackExchange example")
    parser.add_argument("--output", type=Path,
                        help="folder for results.md and plots/ (default benchmarks/; "
                             "quick: benchmarks/results/quick)")
    parser.add_argument("--report-from", type=Path, help="only rewrite the report from a JSON")
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    _fill_defaults(args)
    _check(parser, args)
    return args


def _fill_defaults(args: argparse.Namespace) -> None:
    quick = args.quick
    if args.repeats is None:
        args.repeats = 1 if quick else 3
    if args.synthetic_repeats is None:
        args.synthetic_repeats = min(args.repeats, SYNTHETIC_REPEATS)
    if args.datasets is None:
        args.datasets = [d for d in REAL_DATASETS if not quick or d != "ml-1m-receraser"]
    if args.sizes is None:
        args.sizes = ["1M"] if quick else list(SYNTHETIC_SIZES)
    args.epochs_by_dataset = {d: args.epochs or (2 if quick else EPOCHS[d])
                              for d in REAL_DATASETS}
    if args.output is None:
        args.output = BENCH_DIR / "results" / "quick" if quick else BENCH_DIR


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if any(not 1 <= n <= limit for n in args.threads):
        parser.error(f"--threads must lie in 1..{limit} (NUMBA_NUM_THREADS)")
    if args.repeats < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--repeats and --epochs must be at least 1")


# --------------------------------------------------------------------------- peers


def import_peers(systems: list[str]) -> tuple[tuple[ModuleType, ModuleType] | None,
                                               tuple[ModuleType, ModuleType] | None]:
    """Import LightFM and implicit if any requested system needs them.

    Parameters
    ----------
    systems : list of str

    Returns
    -------
    lightfm, implicit : tuple of modules or None
    """
    lightfm = implicit = None
    if any(s.startswith("lightfm") for s in systems):
        module = optional_import("lightfm")
        lightfm = (module, optional_import("lightfm.evaluation")) if module else None
    if any(s.startswith("implicit") for s in systems):
        module = optional_import("implicit.cpu.bpr")
        implicit = (module, optional_import("implicit.evaluation")) if module else None
    return lightfm, implicit


# --------------------------------------------------------------------------- phases


class Suite:
    """State of one run: options, systems, records, notes and the clock.

    Parameters
    ----------
    args : argparse.Namespace
    systems : list of System
    """

    def __init__(self, args: argparse.Namespace, systems: list[System]) -> None:
        self.args = args
        self.systems = systems
        self.max_threads = max(args.threads)
        self.records: list[Record] = []
        self.notes: list[str] = []
        self.datasets: dict[str, dict[str, Any]] = {}
        self.start = time.perf_counter()
        self.tmp = tempfile.TemporaryDirectory(prefix="hybridrec-bench-")

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def note(self, message: str) -> None:
        """Print a note and keep it for the report."""
        log(f"note: {message}")
        self.notes.append(message)

    def describe(self, workload: Workload, epochs: int) -> None:
        """Remember a workload's size and description for the report."""
        self.datasets[workload.name] = {
            "description": workload.description, "n_users": workload.n_users,
            "n_items": workload.n_items, "n_train": workload.n_train,
            "n_test": int(workload.test.nnz), "epochs": epochs,
            "features": None if workload.item_features is None
            else int(workload.item_features.shape[1])}

    def curves(self, workloads: list[Workload]) -> None:
        """Phase 1: learning curves (and the warm-up) of every (dataset, system)."""
        for workload in workloads:
            for system in self.systems:
                log(f"[{self.elapsed():6.0f} s] curve + warm-up: {workload.name}, {system.label}")
                self.records += learning_curve(system, workload,
                                               self.args.epochs_by_dataset[workload.name],
                                               self.max_threads, self.args.max_eval_users)

    def rounds(self, workloads: list[Workload], systems: list[System],
               epochs: dict[str, int], repeats: int) -> None:
        """Phase 2: the timed rounds, rounds outermost."""
        for round_no in range(repeats):
            started = time.perf_counter()
            self.records += run_round(round_no, systems, workloads, epochs, self.args.threads,
                                      self.args.max_eval_users)
            names = ", ".join(w.name for w in workloads)
            log(f"[{self.elapsed():6.0f} s] round {round_no + 1}/{repeats} "
                f"({names}): {time.perf_counter() - started:.0f} s")

    def memory(self, workload: Workload, systems: list[System]) -> None:
        """Phase 3: one peak-memory child process per system on ``workload``."""
        if self.args.no_memory:
            return
        path = Path(self.tmp.name) / f"{workload.name}.npz"
        save_workload(workload, path)
        for system in systems:
            record = measure_memory(system, path, workload.name, self.max_threads,
                                    self.args.max_eval_users, Path(__file__),
                                    self.args.data_dir)
            if "error" in record:
                self.note(f"peak memory of {system.label} on {workload.name} failed: "
                          f"{record['error']}")
            self.records.append(record)
        path.unlink()
        log(f"[{self.elapsed():6.0f} s] peak memory: {workload.name}")

    def example(self) -> None:
        """Phase 4: LightFM's StackExchange hybrid example."""
        from bench_stackexchange import run_example

        lightfm = next((s for s in self.systems if s.package == "lightfm"), None)
        peers = (lightfm.module, lightfm.evaluation) if lightfm else None
        self.records += run_example(self.args.data_dir, self.args.repeats, self.max_threads,
                                    peers)
        log(f"[{self.elapsed():6.0f} s] StackExchange example done")

    # ------------------------------------------------------------------ synthetic

    def rate(self, system: System) -> float | None:
        """Slowest measured seconds per training interaction of ``system`` so far."""
        fits = [r for r in self.records if r["kind"] == "fit" and r["system"] == system.label]
        if not fits:
            return None
        largest = max(r["n_train"] for r in fits)
        return max(statistics.median(r["epoch_seconds"] for r in fits
                                     if r["n_train"] == largest and r["threads"] == t)
                   / largest for t in {r["threads"] for r in fits if r["n_train"] == largest})

    def synthetic_systems(self, size: int) -> list[System]:
        """hybridrec always; a peer if its predicted epoch fits ``--peer-max-epoch-seconds``."""
        chosen = []
        for system in self.systems:
            rate = self.rate(system)
            predicted = None if rate is None else rate * 0.8 * size
            if system.package == "hybridrec" or (
                    predicted is not None and predicted <= self.args.peer_max_epoch_seconds):
                chosen.append(system)
            else:
                shown = "unknown" if predicted is None else f"{predicted:.0f} s"
                self.note(f"{system.label} skipped on synthetic {size:,}: predicted epoch "
                          f"{shown} > {self.args.peer_max_epoch_seconds:.0f} s")
        return chosen

    def predicted_seconds(self, systems: list[System], size: int) -> float:
        """Rough wall time of one synthetic size (generation, rounds, memory children)."""
        fit = sum((self.rate(s) or 0.0) * 0.8 * size * SYNTHETIC_EPOCHS for s in systems)
        per_round = fit * len(self.args.threads) * 1.5  # + evaluation and top-k
        rounds = self.args.synthetic_repeats + (0 if self.args.no_memory else 1)
        return GENERATION_SECONDS_PER_M * size / 1e6 + per_round * rounds

    def synthetic(self) -> None:
        """Phase 2 and 3 on each synthetic size that fits the time budget."""
        budget = self.args.budget_minutes * 60
        for label in self.args.sizes:
            size = SYNTHETIC_SIZES[label]
            systems = self.synthetic_systems(size)
            predicted = self.predicted_seconds(systems, size)
            if self.elapsed() + predicted > budget:
                self.note(f"synthetic {label} skipped: predicted {predicted / 60:.1f} min, "
                          f"{max(budget - self.elapsed(), 0) / 60:.1f} min of the "
                          f"{self.args.budget_minutes:.0f}-minute budget left")
                continue
            log(f"[{self.elapsed():6.0f} s] synthetic {label}: predicted {predicted:.0f} s")
            workload = load_workload(f"synthetic-{label}", self.args.data_dir)
            self.describe(workload, SYNTHETIC_EPOCHS)
            self.rounds([workload], systems, {workload.name: SYNTHETIC_EPOCHS},
                        self.args.synthetic_repeats)
            self.memory(workload, systems)
            del workload


def run_suite(args: argparse.Namespace, systems: list[System]) -> dict[str, Any]:
    """Every phase in order; returns the results dictionary of the report.

    Parameters
    ----------
    args : argparse.Namespace
    systems : list of System

    Returns
    -------
    dict
        ``banner``, ``settings``, ``datasets``, ``records``, ``notes``, ``seconds``.
    """
    suite = Suite(args, systems)
    workloads = [load_workload(name, args.data_dir) for name in args.datasets]
    for workload in workloads:
        suite.describe(workload, args.epochs_by_dataset[workload.name])
    suite.curves(workloads)
    suite.rounds(workloads, systems, args.epochs_by_dataset, args.repeats)
    for workload in workloads:
        suite.memory(workload, systems)
    del workloads
    if not args.no_example and "stackexchange" in args.datasets:
        suite.example()
    suite.synthetic()
    return {"banner": banner_lines(), "settings": _settings(args, systems),
            "datasets": suite.datasets, "records": suite.records, "notes": suite.notes,
            "seconds": suite.elapsed()}


def _settings(args: argparse.Namespace, systems: list[System]) -> dict[str, Any]:
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    return {"command": command.strip(), "quick": args.quick, "repeats": args.repeats,
            "threads": args.threads, "systems": [s.label for s in systems],
            "epochs": {d: args.epochs_by_dataset[d] for d in args.datasets},
            "synthetic_epochs": SYNTHETIC_EPOCHS,
            "synthetic_repeats": args.synthetic_repeats, "max_eval_users": args.max_eval_users,
            "budget_minutes": args.budget_minutes, "sizes": args.sizes}


# --------------------------------------------------------------------------- main


def child_main(args: argparse.Namespace) -> None:
    """Entry point of a peak-memory child process: print one JSON line."""
    spec = json.loads(args.child_memory)
    package = spec["system"].split()[0]
    lightfm, implicit = import_peers([spec["system"]]) if package != "hybridrec" else (None,
                                                                                      None)
    (system,) = make_systems([spec["system"]], lightfm, implicit)
    print(json.dumps(memory_child(spec, system)), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the suite (or a child, or only the report) and write the report.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    if args.child_memory:
        child_main(args)
        return
    if args.report_from:
        results = json.loads(args.report_from.read_text())
    else:
        print("\n".join(banner_lines()), end="\n\n", flush=True)
        lightfm, implicit = import_peers(args.systems)
        systems = make_systems(args.systems, lightfm, implicit)
        results = run_suite(args, systems)
        raw = BENCH_DIR / "results"
        raw.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = raw / f"run-{stamp}{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps(results, indent=1, default=float))
        log(f"raw records: {path.relative_to(REPO_ROOT)}")
    report = write_report(results, args.output)
    print(report)


if __name__ == "__main__":
    main()
