"""LightFM's StackExchange hybrid example, hybridrec beside LightFM.

What is compared
    LightFM's documented example (``examples/stackexchange/hybrid_crossvalidated.ipynb``):
    CrossValidated answers split by time (``fetch_stackexchange("crossvalidated",
    test_set_fraction=0.1)``), ``LightFM(loss="warp", no_components=30,
    item_alpha=1e-6)`` fitted 3 epochs with 2 threads, scored by the test AUC
    (``auc_score(model, test, train_interactions=train, item_features=...).mean()``, each
    package's own ``auc_score``). Item features as in the example, three ways: identity
    only (the notebook's pure collaborative-filtering model), tags only (the notebook's
    hybrid model) and identity + tags. Reported: median test AUC and median fit seconds
    over ``--repeats`` seeds for hybridrec and LightFM, and their ratios. The runs of
    all configurations interleave (seeds outermost).

Run from the repository root (``run.py`` includes it; alone)::

    python benchmarks/bench_stackexchange.py [--repeats 3] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import (
    add_data_dir_argument,
    fmt_ratio,
    format_table,
    optional_import,
    print_banner,
    time_once,
)
from _workloads import Workload, load_stackexchange_workload

import hybridrec
import hybridrec.metrics

FEATURE_SETS = {"identity": (True, False), "tags": (False, True),
                "identity + tags": (True, True)}
PARAMS = {"loss": "warp", "no_components": 30, "item_alpha": 1e-6}
EPOCHS = 3


def _packages(lightfm: tuple[ModuleType, ModuleType] | None
              ) -> dict[str, tuple[ModuleType, ModuleType]]:
    packages = {"hybridrec": (hybridrec, hybridrec.metrics)}
    if lightfm is not None:
        packages["lightfm"] = lightfm
    return packages


def run_example(data_dir: Path, repeats: int, threads: int,
                lightfm: tuple[ModuleType, ModuleType] | None) -> list[dict[str, Any]]:
    """Fit and score every (package, feature set) ``repeats`` times, seeds outermost.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``stackexchange-crossvalidated/``.
    repeats : int
        Seeds 0..repeats-1.
    threads : int
        ``num_threads`` of fit and auc_score (the example uses 2).
    lightfm : tuple or None
        ``(lightfm, lightfm.evaluation)``, or None for hybridrec alone.

    Returns
    -------
    list of dict
        ``kind="stackexchange"`` records: ``features``, ``system``, ``seed``,
        ``fit_seconds``, ``test_auc``.
    """
    workloads = {name: load_stackexchange_workload(data_dir, *flags)
                 for name, flags in FEATURE_SETS.items()}
    packages = _packages(lightfm)
    for module, _ in packages.values():  # warm-up: compile, first-call costs
        workload = workloads["identity + tags"]
        module.LightFM(**PARAMS).fit(workload.train, item_features=workload.item_features,
                                     epochs=1, num_threads=threads)
    records = []
    for seed in range(repeats):
        for features, workload in workloads.items():
            for name, (module, evaluation) in packages.items():
                records.append({"kind": "stackexchange", "features": features,
                                "system": name, "seed": seed,
                                **_fit_and_score(module, evaluation, workload, seed, threads)})
    return records


def _fit_and_score(module: ModuleType, evaluation: ModuleType, workload: Workload, seed: int,
                   threads: int) -> dict[str, float]:
    model = module.LightFM(random_state=seed, **PARAMS)
    seconds = time_once(lambda: model.fit(workload.train, item_features=workload.item_features,
                                          epochs=EPOCHS, num_threads=threads))
    features = workload.item_features
    test_auc = evaluation.auc_score(model, workload.test, train_interactions=workload.train,
                                    item_features=features, num_threads=threads).mean()
    return {"fit_seconds": seconds, "test_auc": float(test_auc)}


HEADERS = ("item features", "hybridrec test AUC", "LightFM test AUC", "hybridrec fit s",
           "LightFM fit s", "fit time hr/LFM")


def table_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """Medians over seeds, one row per feature set.

    Parameters
    ----------
    records : list of dict
        From :func:`run_example`.

    Returns
    -------
    list of list of str
        Cells in the order of ``HEADERS``.
    """
    def median(features: str, system: str, key: str) -> float | None:
        values = [r[key] for r in records if r["features"] == features and r["system"] == system]
        return statistics.median(values) if values else None

    def cell(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = []
    for features in FEATURE_SETS:
        ours, theirs = (median(features, s, "fit_seconds") for s in ("hybridrec", "lightfm"))
        rows.append([features,
                     cell(median(features, "hybridrec", "test_auc"), 4),
                     cell(median(features, "lightfm", "test_auc"), 4),
                     cell(ours, 2), cell(theirs, 2), fmt_ratio(ours, theirs)])
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the example and print the table.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="seeds (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="num_threads (default 2)")
    parser.add_argument("--markdown", action="store_true")
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    print_banner(args.markdown)
    lightfm = optional_import("lightfm")
    peers = (lightfm, optional_import("lightfm.evaluation")) if lightfm else None
    records = run_example(args.data_dir, args.repeats, args.threads, peers)
    print(f"warp, 30 components, item_alpha=1e-6, {EPOCHS} epochs, {args.threads} threads; "
          f"medians over {args.repeats} seeds\n")
    print(format_table(HEADERS, table_rows(records), args.markdown))


if __name__ == "__main__":
    main()
