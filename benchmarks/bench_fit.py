"""Per-epoch training time: hybridrec.LightFM vs lightfm.LightFM, with implicit's BPR.

What is compared
    One ``fit_partial(interactions, epochs=1, num_threads=t)`` of ``hybridrec.LightFM`` and
    of ``lightfm.LightFM`` (when importable), both with ``no_components=64``,
    ``random_state=0`` and otherwise default hyperparameters, for the losses warp, bpr,
    logistic and warp-kos at 1 and 2 threads, on MovieLens-100K ``u1.base`` (ratings as
    values) and on the MovieLens-1M-derived RecEraser ``train.txt``. implicit's CPU BPR
    (``implicit.cpu.bpr.BayesianPersonalizedRanking(factors=64, iterations=1)``, when
    importable) is timed for one ``fit`` (= one iteration) on the same user-item CSR and
    shown in the bpr rows.

Protocol
    Every model is built and trained one untimed epoch (numba compilation, warm caches).
    Then ``--repeats`` rounds each time one epoch of every (system, dataset, loss, threads)
    configuration; the rounds are the outer loop, so machine drift hits all systems alike.
    Models keep training across rounds, so all systems are timed at the same epoch counts
    (WARP's epoch cost grows as a model improves: more negatives are sampled before one
    violates the margin).

Columns
    median and min seconds per epoch per system; the ratio of medians hybridrec/LightFM
    and hybridrec/implicit (below 1 means hybridrec is faster); hybridrec's updates per
    second (positive training interactions / median epoch time); and, as a correctness
    check, precision@10 on the test split after all epochs (warm-up + rounds), each system
    scored with its own package's ``precision_at_k``.

Run from the repository root (LightFM and implicit rows are skipped when not installed)::

    python benchmarks/bench_fit.py
    python benchmarks/bench_fit.py --datasets ml-100k --losses warp bpr --threads 2 --repeats 3
    python benchmarks/bench_fit.py --markdown      # markdown table for benchmarks/README.md
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

import numpy as np
import scipy.sparse as sp
from _common import (
    DATASETS,
    Timing,
    add_data_dir_argument,
    fmt_ratio,
    fmt_seconds,
    format_table,
    optional_import,
    print_banner,
    time_interleaved,
)

import hybridrec
from hybridrec.metrics import precision_at_k

LOSSES = ("warp", "bpr", "logistic", "warp-kos")
NO_COMPONENTS = 64
RANDOM_STATE = 0

# (system, dataset, loss, threads)
Key = tuple[str, str, str, int]


@dataclass(frozen=True)
class Workload:
    """One dataset prepared for every system.

    Parameters
    ----------
    name : str
        Dataset name (a key of ``_common.DATASETS``).
    train, test : scipy.sparse.coo_matrix
        Interactions (n_users, n_items), float32 values.
    user_items : scipy.sparse.csr_matrix
        ``train`` binarised as float32 CSR, for implicit.
    n_positives : int
        Positive training interactions (values > 0): the updates of one epoch.
    """

    name: str
    train: sp.coo_matrix
    test: sp.coo_matrix
    user_items: sp.csr_matrix
    n_positives: int


def load_workload(name: str, data_dir: Path) -> Workload:
    """Load a dataset and derive every system's input from it.

    Parameters
    ----------
    name : str
        A key of ``_common.DATASETS``.
    data_dir : pathlib.Path
        Folder holding the datasets.

    Returns
    -------
    Workload
    """
    train, test = DATASETS[name](data_dir)
    user_items = train.tocsr()
    user_items.data = np.ones_like(user_items.data, dtype=np.float32)
    return Workload(name, train, test, user_items, int(np.count_nonzero(train.data > 0)))


def build_steps(
    workloads: list[Workload],
    losses: list[str],
    threads: list[int],
    lightfm: ModuleType | None,
    implicit_bpr: ModuleType | None,
) -> tuple[dict[Key, Callable[[], object]], dict[Key, object]]:
    """Create every model and the zero-argument callable that trains it one epoch.

    Parameters
    ----------
    workloads : list of Workload
    losses : list of str
    threads : list of int
    lightfm : module or None
        ``lightfm`` if importable.
    implicit_bpr : module or None
        ``implicit.cpu.bpr`` if importable; used only when ``"bpr"`` is in ``losses``.

    Returns
    -------
    steps : dict of Key to callable
        One epoch of training per configuration.
    models : dict of Key to model
        The models behind ``steps``.
    """
    steps: dict[Key, Callable[[], object]] = {}
    models: dict[Key, object] = {}
    for workload in workloads:
        for n_threads in threads:
            for loss in losses:
                classes = {"hybridrec": hybridrec.LightFM}
                if lightfm is not None:
                    classes["lightfm"] = lightfm.LightFM
                for system, cls in classes.items():
                    model = cls(no_components=NO_COMPONENTS, loss=loss,
                                random_state=RANDOM_STATE)
                    key = (system, workload.name, loss, n_threads)
                    models[key] = model
                    steps[key] = partial(model.fit_partial, workload.train, epochs=1,
                                         num_threads=n_threads)
            if implicit_bpr is not None and "bpr" in losses:
                model = implicit_bpr.BayesianPersonalizedRanking(
                    factors=NO_COMPONENTS, iterations=1, num_threads=n_threads,
                    random_state=RANDOM_STATE)
                key = ("implicit", workload.name, "bpr", n_threads)
                models[key] = model
                steps[key] = partial(model.fit, workload.user_items, show_progress=False)
    return steps, models


def test_precision(
    models: dict[Key, object],
    workloads: list[Workload],
    lightfm_evaluation: ModuleType | None,
) -> dict[Key, float]:
    """Mean precision@10 on each workload's test split, with each package's own metric.

    Parameters
    ----------
    models : dict of Key to model
    workloads : list of Workload
    lightfm_evaluation : module or None
        ``lightfm.evaluation`` if importable.

    Returns
    -------
    dict of Key to float
        For the hybridrec and LightFM models (implicit is not scored).
    """
    by_name = {workload.name: workload for workload in workloads}
    metrics = {"hybridrec": precision_at_k}
    if lightfm_evaluation is not None:
        metrics["lightfm"] = lightfm_evaluation.precision_at_k
    scores: dict[Key, float] = {}
    for key, model in models.items():
        system, name, _, n_threads = key
        if system in metrics:
            workload = by_name[name]
            values = metrics[system](model, workload.test, workload.train, k=10,
                                     num_threads=n_threads)
            scores[key] = float(np.mean(values))
    return scores


def _median(timings: dict[Key, Timing], key: Key) -> float | None:
    return timings[key].median if key in timings else None


def _min(timings: dict[Key, Timing], key: Key) -> float | None:
    return timings[key].min if key in timings else None


def _precision_cell(precision: dict[Key, float], *keys: Key) -> str:
    values = [f"{precision[key]:.3f}" if key in precision else "-" for key in keys]
    return " / ".join(values)


HEADERS = (
    "dataset", "loss", "threads", "hybridrec med", "hybridrec min", "LightFM med", "LightFM min",
    "hr/LFM", "implicit med", "implicit min", "hr/implicit", "hr updates/s", "p@10 hr / LFM",
)
LEGEND = ("hr = hybridrec, LFM = LightFM (lightfm 1.17), implicit = implicit's CPU BPR; "
          "times in seconds per epoch; ratios of medians (< 1: hybridrec faster)")


def table_rows(
    workloads: list[Workload],
    losses: list[str],
    threads: list[int],
    timings: dict[Key, Timing],
    precision: dict[Key, float],
) -> list[list[str]]:
    """One table row per (dataset, loss, threads).

    Parameters
    ----------
    workloads : list of Workload
    losses : list of str
    threads : list of int
    timings : dict of Key to Timing
    precision : dict of Key to float
        Empty when the correctness check was skipped.

    Returns
    -------
    list of list of str
        Cells in the order of ``HEADERS``.
    """
    rows = []
    for workload in workloads:
        for loss in losses:
            for n_threads in threads:
                ours = ("hybridrec", workload.name, loss, n_threads)
                theirs = ("lightfm", workload.name, loss, n_threads)
                implicit = ("implicit", workload.name, loss, n_threads)
                median = _median(timings, ours)
                rows.append([
                    workload.name, loss, str(n_threads),
                    fmt_seconds(median), fmt_seconds(_min(timings, ours)),
                    fmt_seconds(_median(timings, theirs)), fmt_seconds(_min(timings, theirs)),
                    fmt_ratio(median, _median(timings, theirs)),
                    fmt_seconds(_median(timings, implicit)),
                    fmt_seconds(_min(timings, implicit)),
                    fmt_ratio(median, _median(timings, implicit)),
                    f"{workload.n_positives / median / 1e6:.2f}M",
                    _precision_cell(precision, ours, theirs) if precision else "-",
                ])
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options.

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
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS),
                        default=list(DATASETS), help="datasets to train on")
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed rounds after the warm-up epoch (default 5)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the precision@10 correctness column")
    parser.add_argument("--markdown", action="store_true",
                        help="print a markdown table (for benchmarks/README.md)")
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    _check_threads(parser, args.threads)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def _check_threads(parser: argparse.ArgumentParser, threads: list[int]) -> None:
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    bad = [n for n in threads if not 1 <= n <= limit]
    if bad:
        parser.error(f"--threads must lie in 1..{limit} (NUMBA_NUM_THREADS), got {bad}")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the banner and the table.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    print_banner(args.markdown)
    lightfm = optional_import("lightfm")
    lightfm_evaluation = optional_import("lightfm.evaluation") if lightfm else None
    implicit_bpr = optional_import("implicit.cpu.bpr") if "bpr" in args.losses else None
    workloads = [load_workload(name, args.data_dir) for name in args.datasets]
    steps, models = build_steps(workloads, args.losses, args.threads, lightfm, implicit_bpr)
    print(f"timing {len(steps)} configurations: 1 warm-up + {args.repeats} rounds",
          flush=True)
    timings = time_interleaved(steps, args.repeats)
    precision = {} if args.no_check else test_precision(models, workloads, lightfm_evaluation)
    epochs = args.repeats + 1
    print(f"\nseconds per epoch, no_components={NO_COMPONENTS}, median/min over "
          f"{args.repeats} rounds; p@10 on the test split after {epochs} epochs")
    print(LEGEND, end="\n\n")
    rows = table_rows(workloads, args.losses, args.threads, timings, precision)
    print(format_table(HEADERS, rows, args.markdown))


if __name__ == "__main__":
    main()
