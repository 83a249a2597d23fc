"""Per-epoch training time with side features (the hybrid path), hybridrec beside LightFM;
and BPR at 10M synthetic interactions beside implicit.

What is compared
    Hybrid workloads (issue 19's table), WARP, one ``fit_partial(train, item_features=F,
    epochs=1, num_threads=t)`` per timed epoch of ``hybridrec.LightFM`` and
    ``lightfm.LightFM`` with the same hyperparameters:

    ``stackexchange identity+tags`` / ``stackexchange tags``
        LightFM's hybrid example (CrossValidated, time split with 10% test; 3,213 users x
        72,360 questions, 1,246 tags), ``no_components=30, item_alpha=1e-6``; item
        features identity + tags or tags only, unnormalised as ``fetch_stackexchange``
        returns them.
    ``ml-100k identity+genres``
        MovieLens-100K ``u1.base`` / ``u1.test`` (every rating a positive), item features
        identity + the 19 genres, rows L1-normalised; 64 components.
    ``ml-latest-small identity+genres+tags``
        ``benchmarks/_workloads.py``'s latest-small workload (per-user temporal split,
        identity + genres + tags, rows L1-normalised); 64 components.

    Identity-only rows for the no-regression check (``--workloads``): ``ml-100k identity``,
    ``ml-1m identity`` (64 components) and ``stackexchange identity`` (the example's
    parameters).

    ``--synthetic 10M`` adds BPR at scale: ``hybridrec.data.synthetic`` with 10M drawn
    interactions (200,000 users x 20,000 items, random 10% test), 64 components,
    ``hybridrec.LightFM(loss="bpr")`` against implicit's CPU BPR
    (``BayesianPersonalizedRanking(factors=64)``, one iteration per timed epoch) on the
    same binary CSR; implicit's plain SGD has no accumulators.

    ``--baseline DIR`` adds a third system: the ``hybridrec`` package found in ``DIR``
    (e.g. a worktree of another commit), imported under another name, so that two
    versions are timed interleaved in one process.

Protocol
    Every model is built and trained one untimed epoch (numba compiles here). Then
    ``--repeats`` rounds, each timing one epoch of every (workload, system, threads), the
    rounds being the outer loop so that machine drift hits all systems alike; models keep
    training across rounds, so all are timed at the same epoch counts. The load average
    before and after is printed (the machine may be shared).

Columns
    median (and min) seconds per epoch per system; ``hr/LFM`` (ratio of the medians, < 1:
    hybridrec faster); ``hr 1t/2t`` the speed-up hybridrec gets from the second thread
    (LightFM's beside it); AUC on the test split (train excluded) after all epochs, each
    package's own ``auc_score``. Synthetic rows: median seconds, updates/s (training
    positives / median) and hybridrec/implicit.

Run from the repository root::

    python benchmarks/bench_features.py --repeats 15
    python benchmarks/bench_features.py --workloads all --synthetic 10M --markdown
    python benchmarks/bench_features.py --baseline /work/main --repeats 21
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp
from _common import (
    add_data_dir_argument,
    fmt_ratio,
    fmt_seconds,
    format_table,
    load_ml100k_genres,
    optional_import,
    print_banner,
    time_interleaved,
)
from _workloads import (
    load_latest_small_workload,
    load_ml1m_workload,
    load_ml100k_workload,
    load_stackexchange_workload,
    load_synthetic_workload,
)

import hybridrec
import hybridrec.metrics

RANDOM_STATE = 0
STACKEXCHANGE = {"no_components": 30, "item_alpha": 1e-6}
MOVIELENS = {"no_components": 64}
HYBRID = ("stackexchange identity+tags", "stackexchange tags", "ml-100k identity+genres",
          "ml-latest-small identity+genres+tags")
IDENTITY = ("ml-100k identity", "ml-1m identity", "stackexchange identity")


@dataclass(frozen=True)
class Case:
    """One workload: data and the hyperparameters both packages get.

    Parameters
    ----------
    name : str
    train, test : scipy.sparse.csr_matrix
        Binary float32 interactions.
    item_features : scipy.sparse.csr_matrix or None
        None: identity.
    params : dict
        Constructor arguments besides ``loss`` and ``random_state``.
    """

    name: str
    train: sp.csr_matrix
    test: sp.csr_matrix
    item_features: sp.csr_matrix | None
    params: dict[str, Any] = field(default_factory=dict)


def _identity_plus(features: sp.csr_matrix) -> sp.csr_matrix:
    """Identity block before ``features``, every row L1-normalised (LightFM's convention)."""
    n_items = features.shape[0]
    stacked = sp.hstack([sp.identity(n_items, dtype=np.float32, format="csr"), features],
                        format="csr")
    row_sums = np.asarray(stacked.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / row_sums) @ stacked, dtype=np.float32)


def load_case(name: str, data_dir: Path) -> Case:
    """Load one workload by name (``HYBRID`` or ``IDENTITY``).

    Parameters
    ----------
    name : str
    data_dir : pathlib.Path

    Returns
    -------
    Case
    """
    if name.startswith("stackexchange"):
        kind = name.removeprefix("stackexchange ")
        flags = {"identity+tags": (True, True), "tags": (False, True),
                 "identity": (True, False)}[kind]
        w = load_stackexchange_workload(data_dir, *flags)
        # The identity-only features are the identity matrix: pass None, as a user would.
        features = None if kind == "identity" else w.item_features
        return Case(name, w.train, w.test, features, STACKEXCHANGE)
    if name == "ml-100k identity+genres":
        w = load_ml100k_workload(data_dir)
        return Case(name, w.train, w.test, _identity_plus(load_ml100k_genres(data_dir)),
                    MOVIELENS)
    if name == "ml-latest-small identity+genres+tags":
        w = load_latest_small_workload(data_dir)
        return Case(name, w.train, w.test, w.item_features, MOVIELENS)
    if name == "ml-100k identity":
        w = load_ml100k_workload(data_dir)
        return Case(name, w.train, w.test, None, MOVIELENS)
    if name == "ml-1m identity":
        w = load_ml1m_workload(data_dir)
        return Case(name, w.train, w.test, None, MOVIELENS)
    raise ValueError(f"unknown workload {name!r}")


def import_baseline(folder: Path) -> ModuleType:
    """Import the ``hybridrec`` package of ``folder`` as ``hybridrec_baseline``.

    The package is copied (without ``__pycache__``) to a folder of the system's temporary
    directory named after ``folder``, so numba's cache of the copy survives between runs
    and edits in ``folder`` reach the copy (numba notices changed files by time stamp).

    Parameters
    ----------
    folder : pathlib.Path
        Holds ``hybridrec/`` (a repository root or worktree).

    Returns
    -------
    module
        The imported ``hybridrec_baseline``.
    """
    source = folder.resolve() / "hybridrec"
    if not (source / "__init__.py").is_file():
        raise FileNotFoundError(f"--baseline: {source} is not a hybridrec package")
    # A stable name (str hashes are salted per process): the copy's numba cache is reused.
    tag = hashlib.sha256(str(source).encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"hybridrec-bench-baseline-{tag}"
    target = root / "hybridrec_baseline"
    if target.exists():  # drop files removed since; keep __pycache__ (numba's cache)
        for path in list(target.rglob("*.py")):
            if not (source / path.relative_to(target)).exists():
                path.unlink()
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(root))
    module = importlib.import_module("hybridrec_baseline")
    importlib.import_module("hybridrec_baseline.metrics")
    return module


# (system, workload, threads)
Key = tuple[str, str, int]


def build_steps(cases: list[Case], threads: list[int], packages: dict[str, ModuleType]
                ) -> tuple[dict[Key, Callable[[], object]], dict[Key, object]]:
    """A model and a one-epoch callable per (system, workload, threads).

    Parameters
    ----------
    cases : list of Case
    threads : list of int
    packages : dict of str to module
        System name to a module with ``LightFM``.

    Returns
    -------
    steps, models : dict of Key
    """
    steps: dict[Key, Callable[[], object]] = {}
    models: dict[Key, object] = {}
    for case in cases:
        for n_threads in threads:
            for system, module in packages.items():
                model = module.LightFM(loss="warp", random_state=RANDOM_STATE, **case.params)
                key = (system, case.name, n_threads)
                models[key] = model
                steps[key] = partial(model.fit_partial, case.train,
                                     item_features=case.item_features, epochs=1,
                                     num_threads=n_threads)
    return steps, models


def test_auc(models: dict[Key, object], cases: list[Case],
             evaluations: dict[str, ModuleType]) -> dict[Key, float]:
    """Mean test AUC (train excluded) of every model, each with its package's metric.

    Parameters
    ----------
    models : dict of Key to model
    cases : list of Case
    evaluations : dict of str to module
        System name to a module with ``auc_score``.

    Returns
    -------
    dict of Key to float
    """
    by_name = {case.name: case for case in cases}
    scores = {}
    for key, model in models.items():
        system, name, n_threads = key
        case = by_name[name]
        values = evaluations[system].auc_score(model, case.test, train_interactions=case.train,
                                               item_features=case.item_features,
                                               num_threads=n_threads)
        scores[key] = float(np.mean(values))
    return scores


def _load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def feature_rows(cases: list[Case], threads: list[int], systems: list[str], timings: dict,
                 auc: dict[Key, float]) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per (workload, threads).

    Parameters
    ----------
    cases : list of Case
    threads : list of int
    systems : list of str
    timings : dict of Key to Timing
    auc : dict of Key to float

    Returns
    -------
    headers, rows
    """
    headers = ["workload", "threads"]
    for system in systems:
        headers += [f"{system} med", f"{system} min"]
    others = [s for s in systems if s != "hybridrec"]
    headers += [f"hr/{s}" for s in others]
    headers += [f"{s} 1t/2t" for s in systems] if len(threads) > 1 else []
    headers += [f"AUC {s}" for s in systems]
    rows = []

    def median(system: str, name: str, t: int) -> float | None:
        timing = timings.get((system, name, t))
        return None if timing is None else timing.median

    for case in cases:
        for t in threads:
            row = [case.name, str(t)]
            for system in systems:
                timing = timings.get((system, case.name, t))
                row += [fmt_seconds(timing and timing.median), fmt_seconds(timing and timing.min)]
            row += [fmt_ratio(median("hybridrec", case.name, t), median(s, case.name, t))
                    for s in others]
            if len(threads) > 1:
                row += [fmt_ratio(median(s, case.name, threads[0]), median(s, case.name, t))
                        for s in systems]
            row += [f"{auc[(s, case.name, t)]:.4f}" if (s, case.name, t) in auc else "-"
                    for s in systems]
            rows.append(row)
    return headers, rows


def run_features(args: argparse.Namespace, packages: dict[str, ModuleType],
                 evaluations: dict[str, ModuleType]) -> None:
    """Time the feature workloads and print their table.

    Parameters
    ----------
    args : argparse.Namespace
    packages, evaluations : dict of str to module
    """
    cases = [load_case(name, args.data_dir) for name in args.workloads]
    for case in cases:
        features = "identity" if case.item_features is None else \
            f"{case.item_features.shape[1]:,} features, {case.item_features.nnz:,} nonzeros"
        print(f"{case.name}: {case.train.shape[0]:,} users x {case.train.shape[1]:,} items, "
              f"{case.train.nnz:,} train / {case.test.nnz:,} test; {features}; {case.params}")
    steps, models = build_steps(cases, args.threads, packages)
    print(f"\ntiming {len(steps)} configurations: 1 warm-up + {args.repeats} rounds; "
          f"load average before: {_load()}", flush=True)
    timings = time_interleaved(steps, args.repeats)
    print(f"load average after: {_load()}")
    auc = {} if args.no_check else test_auc(models, cases, evaluations)
    print(f"\nwarp; seconds per epoch, median/min over {args.repeats} rounds; AUC after "
          f"{args.repeats + 1} epochs (each package's auc_score, train excluded)\n")
    headers, rows = feature_rows(cases, args.threads, list(packages), timings, auc)
    print(format_table(headers, rows, args.markdown), flush=True)


def run_synthetic(args: argparse.Namespace, packages: dict[str, ModuleType],
                  implicit_bpr: ModuleType | None) -> None:
    """Time BPR on the synthetic workload against implicit and print the table.

    Parameters
    ----------
    args : argparse.Namespace
    packages : dict of str to module
    implicit_bpr : module or None
        ``implicit.cpu.bpr``.
    """
    workload = load_synthetic_workload(args.synthetic)
    train = workload.train
    print(f"\n{workload.name}: {workload.description}", flush=True)
    steps: dict[Key, Callable[[], object]] = {}
    for t in args.threads:
        for system, module in packages.items():
            if system == "lightfm":
                continue
            model = module.LightFM(loss="bpr", no_components=64, random_state=RANDOM_STATE)
            steps[(system, workload.name, t)] = partial(model.fit_partial, train, epochs=1,
                                                        num_threads=t)
        if implicit_bpr is not None:
            model = implicit_bpr.BayesianPersonalizedRanking(
                factors=64, iterations=1, num_threads=t, random_state=RANDOM_STATE)
            steps[("implicit", workload.name, t)] = partial(model.fit, train,
                                                            show_progress=False)
    print(f"timing {len(steps)} configurations: 1 warm-up + {args.synthetic_repeats} rounds; "
          f"load average before: {_load()}", flush=True)
    timings = time_interleaved(steps, args.synthetic_repeats)
    print(f"load average after: {_load()}")
    systems = sorted({key[0] for key in steps}, key=["hybridrec", "implicit"].__contains__,
                     reverse=True)
    headers = ["workload", "threads"]
    for system in systems:
        headers += [f"{system} med", f"{system} min", f"{system} updates/s"]
    headers += [f"hr/{s}" for s in systems if s != "hybridrec"]
    rows = []
    for t in args.threads:
        row = [workload.name + " bpr", str(t)]
        for system in systems:
            timing = timings[(system, workload.name, t)]
            row += [fmt_seconds(timing.median), fmt_seconds(timing.min),
                    f"{train.nnz / timing.median / 1e6:.2f}M"]
        ours = timings[("hybridrec", workload.name, t)].median
        row += [fmt_ratio(ours, timings[(s, workload.name, t)].median)
                for s in systems if s != "hybridrec"]
        rows.append(row)
    print(f"\nbpr, 64 components; seconds per epoch, median/min over "
          f"{args.synthetic_repeats} rounds; {train.nnz:,} training positives\n")
    print(format_table(headers, rows, args.markdown), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options.

    Parameters
    ----------
    argv : list of str, optional

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", nargs="+", default=list(HYBRID),
                        help="workloads (default: the four hybrid ones; 'all' adds the "
                             "identity rows; 'none' for the synthetic row only): "
                             + ", ".join(HYBRID + IDENTITY))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed rounds after the warm-up epoch (default 15)")
    parser.add_argument("--synthetic", choices=["1M", "10M"], default=None,
                        help="also time BPR on this synthetic size against implicit")
    parser.add_argument("--synthetic-repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="folder holding another hybridrec package to time beside this one")
    parser.add_argument("--no-peers", action="store_true", help="leave LightFM/implicit out")
    parser.add_argument("--no-check", action="store_true", help="skip the AUC column")
    parser.add_argument("--markdown", action="store_true")
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.workloads == ["all"]:
        args.workloads = list(HYBRID + IDENTITY)
    elif args.workloads == ["none"]:
        args.workloads = []
    unknown = [w for w in args.workloads if w not in HYBRID + IDENTITY]
    if unknown:
        parser.error(f"unknown workloads {unknown}")
    import numba

    bad = [t for t in args.threads if not 1 <= t <= numba.config.NUMBA_NUM_THREADS]
    if bad:
        parser.error(f"--threads must lie in 1..{numba.config.NUMBA_NUM_THREADS}, got {bad}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark.

    Parameters
    ----------
    argv : list of str, optional
    """
    args = parse_args(argv)
    print_banner(args.markdown)
    packages: dict[str, ModuleType] = {"hybridrec": hybridrec}
    evaluations: dict[str, ModuleType] = {"hybridrec": hybridrec.metrics}
    if args.baseline is not None:
        baseline = import_baseline(args.baseline)
        packages["baseline"] = baseline
        evaluations["baseline"] = sys.modules["hybridrec_baseline.metrics"]
        print(f"baseline: {Path(baseline.__file__).parent} (copy of {args.baseline})")
    implicit_bpr = None
    if not args.no_peers:
        lightfm = optional_import("lightfm")
        if lightfm is not None and args.workloads:
            packages["lightfm"] = lightfm
            evaluations["lightfm"] = importlib.import_module("lightfm.evaluation")
        if args.synthetic:
            implicit_bpr = optional_import("implicit.cpu.bpr")
    if args.workloads:
        run_features(args, packages, evaluations)
    if args.synthetic:
        run_synthetic(args, packages, implicit_bpr)


if __name__ == "__main__":
    main()
