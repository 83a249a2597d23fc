"""Accuracy on MovieLens-100K u1.base/u1.test: hybridrec.LightFM vs lightfm.LightFM.

What is compared
    Both packages' ``LightFM`` with identical hyperparameters (``no_components=30``,
    ``learning_rate=0.05``, 10 epochs, ``num_threads=1``, ``random_state=seed`` for seeds
    0..4) trained on ``u1.base`` (ratings as values) for the losses warp, bpr, logistic and
    warp-kos, plus a hybrid warp run whose item features are identity ⊕ the 19 genres of
    ``u.item`` (L1-row-normalised), plus warp with ``learning_schedule='adadelta'``.
    Each model is scored on ``u1.test`` with ``u1.base`` excluded: the mean over test users
    of ``precision_at_k(k=10)`` and ``auc_score``, each package's model with its own
    package's metric functions.

Columns
    mean and min over seeds for hybridrec and LightFM and the difference of the means
    (hybridrec - LightFM; positive means hybridrec is more accurate). As a correctness
    check, hybridrec's models are also scored with ``lightfm.evaluation`` (when LightFM is
    installed): both follow LightFM's definitions, so the per-user values must agree; the
    column gives the largest per-user absolute difference over all users and seeds.

Run from the repository root (LightFM columns are skipped when it is not installed)::

    python benchmarks/bench_accuracy.py
    python benchmarks/bench_accuracy.py --seeds 3 --configs warp bpr
    python benchmarks/bench_accuracy.py --markdown    # markdown tables for the README
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import scipy.sparse as sp
from _common import (
    add_data_dir_argument,
    format_table,
    load_ml100k,
    load_ml100k_genres,
    optional_import,
    print_banner,
)

import hybridrec
from hybridrec.metrics import auc_score, precision_at_k

NO_COMPONENTS = 30
LEARNING_RATE = 0.05
K = 10
METRICS = ("p@10", "AUC")


@dataclass(frozen=True)
class Config:
    """One row of the comparison.

    Parameters
    ----------
    name : str
        Row label.
    loss : str
        ``loss`` of both models.
    learning_schedule : str, default "adagrad"
    genres : bool, default False
        Train with item features identity ⊕ genres.
    """

    name: str
    loss: str
    learning_schedule: str = "adagrad"
    genres: bool = False


CONFIGS = (
    Config("warp", "warp"),
    Config("bpr", "bpr"),
    Config("logistic", "logistic"),
    Config("warp-kos", "warp-kos"),
    Config("warp+genres", "warp", genres=True),
    Config("warp adadelta", "warp", learning_schedule="adadelta"),
)


@dataclass(frozen=True)
class Data:
    """Train/test interactions and the hybrid item features.

    Parameters
    ----------
    train, test : scipy.sparse.coo_matrix
        Shape (943, 1682), float32 ratings.
    item_features : scipy.sparse.csr_matrix
        Shape (1682, 1682 + 19): identity ⊕ genres, rows summing to 1.
    """

    train: sp.coo_matrix
    test: sp.coo_matrix
    item_features: sp.csr_matrix


def identity_plus_features(features: sp.csr_matrix) -> sp.csr_matrix:
    """Stack an identity block before ``features`` and L1-normalise every row.

    Parameters
    ----------
    features : scipy.sparse.csr_matrix
        Shape (n_items, n_features), non-negative.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (n_items, n_items + n_features), float32, each row summing to 1.
    """
    n_items = features.shape[0]
    stacked = sp.hstack([sp.identity(n_items, dtype=np.float32, format="csr"), features],
                        format="csr")
    row_sums = np.asarray(stacked.sum(axis=1)).ravel()
    normalised = sp.diags(1.0 / row_sums) @ stacked
    return sp.csr_matrix(normalised, dtype=np.float32)


@dataclass(frozen=True)
class Scores:
    """Mean over test users of each metric, for one fitted model.

    Parameters
    ----------
    precision, auc : float
    """

    precision: float
    auc: float


# (model, test, train, item_features) -> per-user values
Metric = Callable[..., np.ndarray]


def evaluate(model: object, data: Data, item_features: sp.csr_matrix | None,
             precision_fn: Metric, auc_fn: Metric) -> tuple[np.ndarray, np.ndarray]:
    """Per-user precision@10 and AUC of ``model`` on the test split, train items excluded.

    Parameters
    ----------
    model : LightFM-like
    data : Data
    item_features : scipy.sparse.csr_matrix or None
    precision_fn, auc_fn : callable
        ``precision_at_k`` and ``auc_score`` of one package.

    Returns
    -------
    precision, auc : numpy.ndarray
        One value per test user.
    """
    precision = precision_fn(model, data.test, data.train, k=K, item_features=item_features)
    auc = auc_fn(model, data.test, data.train, item_features=item_features)
    return np.asarray(precision, dtype=np.float64), np.asarray(auc, dtype=np.float64)


def fit(cls: type, config: Config, seed: int, data: Data, epochs: int) -> object:
    """Fit one model of ``cls`` (either package's ``LightFM``) for ``config`` and ``seed``.

    Parameters
    ----------
    cls : type
        ``hybridrec.LightFM`` or ``lightfm.LightFM``.
    config : Config
    seed : int
        ``random_state``.
    data : Data
    epochs : int

    Returns
    -------
    The fitted model.
    """
    model = cls(no_components=NO_COMPONENTS, learning_rate=LEARNING_RATE, loss=config.loss,
                learning_schedule=config.learning_schedule, random_state=seed)
    item_features = data.item_features if config.genres else None
    model.fit(data.train, item_features=item_features, epochs=epochs, num_threads=1)
    return model


@dataclass
class Results:
    """Scores per (config name, system) and the cross-package metric check.

    Parameters
    ----------
    scores : dict of (str, str) to list of Scores
        One entry per seed.
    metric_gap : dict of str to list of (float, float)
        Per config and seed: max per-user ``|hybridrec metric - lightfm.evaluation metric|``
        for precision@10 and AUC on the hybridrec model.
    """

    scores: dict[tuple[str, str], list[Scores]]
    metric_gap: dict[str, list[tuple[float, float]]]


def run(configs: list[Config], seeds: list[int], data: Data, epochs: int,
        lightfm: ModuleType | None, lightfm_evaluation: ModuleType | None) -> Results:
    """Fit and score every (config, seed, system).

    Parameters
    ----------
    configs : list of Config
    seeds : list of int
    data : Data
    epochs : int
    lightfm, lightfm_evaluation : module or None
        ``lightfm`` and ``lightfm.evaluation`` if importable.

    Returns
    -------
    Results
    """
    results = Results({}, {})
    for config in configs:
        start = time.perf_counter()
        item_features = data.item_features if config.genres else None
        for seed in seeds:
            ours = fit(hybridrec.LightFM, config, seed, data, epochs)
            precision, auc = evaluate(ours, data, item_features, precision_at_k, auc_score)
            _append(results.scores, (config.name, "hybridrec"), precision, auc)
            if lightfm is None or lightfm_evaluation is None:
                continue
            their_precision, their_auc = evaluate(ours, data, item_features,
                                                  lightfm_evaluation.precision_at_k,
                                                  lightfm_evaluation.auc_score)
            gaps = (_max_gap(precision, their_precision), _max_gap(auc, their_auc))
            results.metric_gap.setdefault(config.name, []).append(gaps)
            theirs = fit(lightfm.LightFM, config, seed, data, epochs)
            precision, auc = evaluate(theirs, data, item_features,
                                      lightfm_evaluation.precision_at_k,
                                      lightfm_evaluation.auc_score)
            _append(results.scores, (config.name, "lightfm"), precision, auc)
        print(f"  {config.name}: {time.perf_counter() - start:.1f} s", file=sys.stderr,
              flush=True)
    return results


def _append(scores: dict[tuple[str, str], list[Scores]], key: tuple[str, str],
            precision: np.ndarray, auc: np.ndarray) -> None:
    scores.setdefault(key, []).append(Scores(float(precision.mean()), float(auc.mean())))


def _max_gap(ours: np.ndarray, theirs: np.ndarray) -> float:
    if ours.shape != theirs.shape:
        return float("inf")
    return float(np.max(np.abs(ours - theirs))) if ours.size else 0.0


def table_rows(configs: list[Config], results: Results, metric: str) -> list[list[str]]:
    """Rows of the table for one metric (``"p@10"`` or ``"AUC"``).

    Parameters
    ----------
    configs : list of Config
    results : Results
    metric : str
        One of ``METRICS``.

    Returns
    -------
    list of list of str
        Cells in the order of ``HEADERS``.
    """
    field = "precision" if metric == "p@10" else "auc"
    column = METRICS.index(metric)
    rows = []
    for config in configs:
        ours = [getattr(s, field) for s in results.scores[(config.name, "hybridrec")]]
        theirs = [getattr(s, field) for s in results.scores.get((config.name, "lightfm"), [])]
        gaps = [gap[column] for gap in results.metric_gap.get(config.name, [])]
        rows.append([
            config.name,
            f"{np.mean(ours):.4f}", f"{np.min(ours):.4f}",
            f"{np.mean(theirs):.4f}" if theirs else "-",
            f"{np.min(theirs):.4f}" if theirs else "-",
            f"{np.mean(ours) - np.mean(theirs):+.4f}" if theirs else "-",
            f"{max(gaps):.1e}" if gaps else "-",
        ])
    return rows


HEADERS = ("config", "hybridrec mean", "hybridrec min", "LightFM mean", "LightFM min",
           "hybridrec - LightFM", "metric check max abs diff")


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
    names = [config.name for config in CONFIGS]
    parser.add_argument("--configs", nargs="+", choices=names, default=names,
                        metavar="CONFIG", help=f"rows to run, from {names}")
    parser.add_argument("--seeds", type=int, default=5,
                        help="number of seeds: random_state 0..SEEDS-1 (default 5)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--markdown", action="store_true",
                        help="print markdown tables (for benchmarks/README.md)")
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.epochs < 1:
        parser.error(f"--seeds and --epochs must be at least 1, got {args.seeds}, "
                     f"{args.epochs}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and print the banner and one table per metric.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    print_banner(args.markdown)
    lightfm = optional_import("lightfm")
    lightfm_evaluation = optional_import("lightfm.evaluation") if lightfm else None
    train, test = load_ml100k(args.data_dir)
    data = Data(train, test, identity_plus_features(load_ml100k_genres(args.data_dir)))
    configs = [config for config in CONFIGS if config.name in args.configs]
    seeds = list(range(args.seeds))
    results = run(configs, seeds, data, args.epochs, lightfm, lightfm_evaluation)
    for metric in METRICS:
        print(f"{metric} on ml-100k u1.test (u1.base excluded), mean over test users; "
              f"mean/min over seeds {seeds}; no_components={NO_COMPONENTS}, "
              f"learning_rate={LEARNING_RATE}, epochs={args.epochs}, num_threads=1\n")
        print(format_table(HEADERS, table_rows(configs, results, metric), args.markdown),
              end="\n\n")


if __name__ == "__main__":
    main()
