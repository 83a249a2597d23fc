"""Ranking losses on data with explicit negatives: hybridrec.LightFM vs lightfm.LightFM.

What is compared
    ``+-1`` setup, exactly LightFM's ``tests/test_movielens.py``: MovieLens 100k
    ``ua.base`` / ``ua.test`` binarised (rating >= 4 -> 1, else -1), ``LightFM(loss=...,
    learning_rate=0.05, random_state=seed)`` (10 components), ``fit_partial(train,
    epochs=10)``, then on the positives only (the -1 zeroed and eliminated): mean
    ``precision_at_k(k=10)`` and ``auc_score`` on train and on test, test *without*
    train exclusion (LightFM's ``_get_metrics``). LightFM's own thresholds for BPR are
    0.45 / 0.07 / 0.91 / 0.87, for WARP 0.45 / 0.07 / 0.94 / 0.90. Two more columns rank
    the held-out test entries among the items the user has not rated in train: the
    mean normalised rank (rank / candidates; 0 = top) of the held-out likes (+1) and of
    the held-out dislikes (-1), i.e. how far down each loss pushes what users disliked.

    Implicit setup (no explicit negatives): ``u1.base`` / ``u1.test`` with ratings >= 4
    as positives only, the same models with ``no_components=30``; precision@10 and AUC on
    the test positives with the train items excluded. Here hybridrec's BPR sampling is
    the positives' empirical distribution either way (the +-1 change cannot alter it).

    Each package's model is scored with its own package's metric functions; seeds
    ``--seeds`` (default 10, 0, 1: 10 is LightFM's test seed), one thread.

Run from the repository root::

    python benchmarks/bench_explicit_negatives.py
    python benchmarks/bench_explicit_negatives.py --losses bpr --seeds 10 0 1 2 3 --markdown
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from _common import (
    add_data_dir_argument,
    format_table,
    load_ml100k,
    optional_import,
    print_banner,
)

import hybridrec
import hybridrec.metrics
from hybridrec.data import fetch_movielens

COLUMNS = ("train P@10", "test P@10", "train AUC", "test AUC", "like rank", "dislike rank")
IMPLICIT_COLUMNS = ("test P@10", "test AUC")


def binarised_ua(data_dir) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """``ua.base`` / ``ua.test`` with ratings >= 4 as 1 and the rest as -1 (float32)."""
    data = fetch_movielens(path=data_dir / "ml-100k")

    def binarise(matrix: sp.coo_matrix) -> sp.coo_matrix:
        matrix = matrix.astype(np.float32)
        matrix.data = np.where(matrix.data >= 4.0, 1.0, -1.0).astype(np.float32)
        return matrix

    return binarise(data["train"]), binarise(data["test"])


def sign_part(matrix: sp.spmatrix, sign: float) -> sp.csr_matrix:
    """The entries of one sign, as ones."""
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    csr.data = (csr.data * sign > 0).astype(np.float32)
    csr.eliminate_zeros()
    return csr


def normalised_rank(model: object, test: sp.csr_matrix, train_all: sp.csr_matrix) -> float:
    """Mean over test entries of rank / (number of items the user did not rate in train)."""
    ranks = sp.csr_matrix(model.predict_rank(test, train_all))
    candidates = test.shape[1] - np.diff(train_all.indptr)
    rows = np.repeat(np.arange(test.shape[0]), np.diff(ranks.indptr))
    return float(np.mean(ranks.data / candidates[rows]))


def plus_minus_scores(cls: type, evaluation: object, loss: str, seed: int,
                      train: sp.coo_matrix, test: sp.coo_matrix) -> list[float]:
    """LightFM's test_movielens protocol for one model; returns the COLUMNS."""
    model = cls(learning_rate=0.05, loss=loss, random_state=seed)
    model.fit_partial(train, epochs=10)
    train_pos, test_pos = sign_part(train, 1.0), sign_part(test, 1.0)
    train_all = sp.csr_matrix(train, copy=True)
    train_all.data[:] = 1.0
    return [float(evaluation.precision_at_k(model, train_pos, k=10).mean()),
            float(evaluation.precision_at_k(model, test_pos, k=10).mean()),
            float(evaluation.auc_score(model, train_pos).mean()),
            float(evaluation.auc_score(model, test_pos).mean()),
            normalised_rank(model, test_pos, train_all),
            normalised_rank(model, sign_part(test, -1.0), train_all)]


def implicit_scores(cls: type, evaluation: object, loss: str, seed: int,
                    train: sp.csr_matrix, test: sp.csr_matrix) -> list[float]:
    """Positives-only u1 split; returns the IMPLICIT_COLUMNS."""
    model = cls(no_components=30, learning_rate=0.05, loss=loss, random_state=seed)
    model.fit(train, epochs=10)
    return [float(evaluation.precision_at_k(model, test, train, k=10).mean()),
            float(evaluation.auc_score(model, test, train).mean())]


def rows_for(systems: dict[str, tuple[type, object]], losses: list[str], seeds: list[int],
             score: Callable[..., list[float]], data: tuple) -> list[list[str]]:
    """One row per (loss, system): mean (min) over seeds of each column."""
    rows = []
    for loss in losses:
        for name, (cls, evaluation) in systems.items():
            values = np.array([score(cls, evaluation, loss, seed, *data) for seed in seeds])
            rows.append([loss, name] + [f"{mean:.4f} ({low:.4f})" for mean, low in
                                        zip(values.mean(axis=0), values.min(axis=0),
                                            strict=True)])
            print(f"  done: {loss} {name}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_dir_argument(parser)
    parser.add_argument("--losses", nargs="+", default=["bpr", "warp"],
                        choices=["bpr", "warp", "warp-kos", "logistic"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[10, 0, 1])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print_banner(args.markdown)
    systems = {"hybridrec": (hybridrec.LightFM, hybridrec.metrics)}
    lightfm = optional_import("lightfm")
    if lightfm is not None:
        import lightfm.evaluation

        systems["lightfm"] = (lightfm.LightFM, lightfm.evaluation)

    plus_minus = binarised_ua(args.data_dir)
    print("+-1 MovieLens 100k (ua split, LightFM's test setup); mean (min) over seeds "
          f"{args.seeds}")
    rows = rows_for(systems, args.losses, args.seeds, plus_minus_scores, plus_minus)
    print(format_table(["loss", "system", *COLUMNS], rows, args.markdown), end="\n\n")

    train, test = load_ml100k(args.data_dir)
    implicit = (sign_part(train.multiply(train >= 4), 1.0),
                sign_part(test.multiply(test >= 4), 1.0))
    print("implicit MovieLens 100k (u1 split, ratings >= 4 as positives only); mean (min)")
    rows = rows_for(systems, args.losses, args.seeds, implicit_scores, implicit)
    print(format_table(["loss", "system", *IMPLICIT_COLUMNS], rows, args.markdown))


if __name__ == "__main__":
    main()
