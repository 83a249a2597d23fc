"""Ranking metrics: lightfm.evaluation's four (same signatures and semantics) and more.

All metrics come from one fused parallel numba pass (``hybridrec._scoring.rank_items``):
each thread scores four users at a time against every item from the model's user and
item representations, masks their train items and ranks their test items (and builds
top-k lists where needed) while the scores are in cache; then every per-user metric
comes from another kernel (``_kernels.user_metrics``). Each metric asks only for the
ranks it needs: precision and recall at k only the ranks below k, reciprocal_rank only
each user's best rank (a few counting passes over a score row), AUC every rank. There
is no per-user Python loop and the memory is O(threads x n_items).

Conventions (LightFM's): ranks are 0-based and pessimistic (an item tied with others
ranks below all of them); train items are excluded from the ranking; users without test
interactions are left out unless ``preserve_rows=True``, which returns one value per row
of ``test_interactions``.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._scoring import RankResult, check_identity_shape, prepare_test_train, rank_items
from .._threads import check_num_threads, numba_threads
from .._validation import check_positive_int
from ._aggregate import EvaluationParts, summarise
from ._kernels import user_metrics

__all__ = [
    "precision_at_k", "recall_at_k", "auc_score", "reciprocal_rank", "ndcg_at_k",
    "map_at_k", "hit_rate_at_k", "coverage_at_k", "popularity_at_k", "evaluate",
]

#: Metric names understood by ``evaluate``; the ``@k`` ones are reported per cut-off.
AT_K_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "popularity")
GLOBAL_METRICS = ("auc", "reciprocal_rank", "coverage")


def _representations(model, user_features, item_features, n_users: int, n_items: int):
    """User vectors and item vectors + biases of a LightFM-like model, checked for size.

    A hybridrec model is read once for both (``_reading``), so a fit finishing in
    another thread between the two calls cannot mix its states."""
    reading = getattr(model, "_reading", None)
    with reading("metrics") if callable(reading) else contextlib.nullcontext():
        _, user_vectors = model.get_user_representations(user_features)
        item_biases, item_vectors = model.get_item_representations(item_features)
    user_vectors = np.ascontiguousarray(user_vectors, dtype=np.float32)
    item_vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
    item_biases = np.ascontiguousarray(item_biases, dtype=np.float32)
    # As lightfm.evaluation (through predict_rank): without feature matrices the test
    # matrix must have exactly the model's users and items.
    check_identity_shape((n_users, n_items), user_features is None, item_features is None,
                         user_vectors.shape[0], item_vectors.shape[0])
    if user_vectors.shape[0] < n_users:
        raise ValueError(
            f"test_interactions has {n_users} users but the model represents only "
            f"{user_vectors.shape[0]} (pass user_features with one row per user)."
        )
    if item_vectors.shape[0] < n_items:
        raise ValueError(
            f"test_interactions has {n_items} items but the model represents only "
            f"{item_vectors.shape[0]} (pass item_features with one row per item)."
        )
    return user_vectors, item_vectors, item_biases


def _rank(model, test_interactions, train_interactions, user_features, item_features,
          num_threads, check_intersections, top_k: int = 0, exact_below: int | None = None,
          best: bool = False) -> tuple[RankResult, sp.csr_matrix]:
    """Ranks of the test entries (see ``rank_items`` for ``exact_below`` and ``best``: by
    default every rank is exact) and top-``top_k`` lists, with the checked train matrix."""
    num_threads = check_num_threads(num_threads)
    test, train = prepare_test_train(test_interactions, train_interactions,
                                     check_intersections)
    if not hasattr(model, "get_item_representations"):
        # Any model with LightFM's predict_rank still works (without top-k lists).
        ranks = model.predict_rank(test_interactions, train_interactions=train_interactions,
                                   user_features=user_features, item_features=item_features,
                                   num_threads=num_threads,
                                   check_intersections=check_intersections)
        ranks = sp.csr_matrix(ranks)
        ranks.sort_indices()
        users = np.flatnonzero(np.diff(ranks.indptr)).astype(np.int32)
        empty = np.zeros((users.shape[0], 0))
        return RankResult(test, ranks.data.astype(np.float32), users, empty, empty), train
    n_users, n_items = test.shape
    vectors = _representations(model, user_features, item_features, n_users, n_items)
    return rank_items(*vectors, test, train, num_threads, k=top_k, exact_below=exact_below,
                      best=best), train


@dataclass
class UserMetrics:
    """Per-user metric values for the users with test interactions."""

    users: np.ndarray
    ks: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    ndcg: np.ndarray
    map: np.ndarray
    hit_rate: np.ndarray
    auc: np.ndarray
    reciprocal_rank: np.ndarray


def _user_metrics(result: RankResult, train: sp.csr_matrix, ks: Sequence[int],
                  num_threads: int = 1, with_auc: bool = True) -> UserMetrics:
    """Per-user metrics; without ``with_auc``, ``auc`` is 0 and only the ranks below
    ``max(ks)`` and each user's best rank are used (see ``rank_items(exact_below=...)``)."""
    ks_array = np.asarray(ks, dtype=np.int64)
    m = result.users.shape[0]
    shape = (m, ks_array.shape[0])
    out = {name: np.zeros(shape) for name in ("precision", "recall", "ndcg", "map",
                                               "hit_rate")}
    auc = np.zeros(m)
    rr = np.zeros(m)
    n_train = np.diff(train.indptr).astype(np.int64)
    indptr = result.test.indptr
    if m:
        with numba_threads(num_threads):
            user_metrics(result.users, indptr, result.ranks, n_train, result.test.shape[1],
                         ks_array, with_auc, out["precision"], out["recall"], out["ndcg"],
                         out["map"], out["hit_rate"], auc, rr)
    return UserMetrics(result.users, ks_array, auc=auc, reciprocal_rank=rr, **out)


def _rows(values: np.ndarray, result: RankResult, preserve_rows: bool, fill: float
          ) -> np.ndarray:
    values = values.astype(np.float32)
    if not preserve_rows:
        return values
    full = np.full(result.test.shape[0], fill, dtype=np.float32)
    full[result.users] = values
    return full


def _at_k(name: str, model, test_interactions, train_interactions, k, user_features,
          item_features, preserve_rows, num_threads, check_intersections) -> np.ndarray:
    k = check_positive_int(k, "k")
    # Only the ranks below k matter (the others are all "not in the top k").
    result, train = _rank(model, test_interactions, train_interactions, user_features,
                          item_features, num_threads, check_intersections, exact_below=k)
    metrics = _user_metrics(result, train, [k], num_threads, with_auc=False)
    return _rows(getattr(metrics, name)[:, 0], result, preserve_rows, 0.0)


_AT_K_DOC = """
    Parameters
    ----------
    model : LightFM-like
        A fitted model with ``get_user_representations`` / ``get_item_representations``
        (hybridrec's or LightFM's models, the baselines), or any model with LightFM's
        ``predict_rank``.
    test_interactions : scipy.sparse matrix (n_users, n_items)
        Non-zero entries are the relevant items.
    train_interactions : scipy.sparse matrix (n_users, n_items), optional
        Items excluded from the ranking (already seen).
    k : int, default 10
        Cut-off.
    user_features, item_features : scipy.sparse matrix, optional
        As given to the model's ``fit``.
    preserve_rows : bool, default False
        Return one value per row of ``test_interactions`` (0 for users without tests)
        instead of one per user with test interactions.
    num_threads : int, default 1
    check_intersections : bool, default True
        Raise ``ValueError`` if train and test share entries.

    Returns
    -------
    numpy.ndarray of float32
"""


def precision_at_k(model, test_interactions, train_interactions=None, k=10,
                   user_features=None, item_features=None, preserve_rows=False,
                   num_threads=1, check_intersections=True) -> np.ndarray:
    return _at_k("precision", model, test_interactions, train_interactions, k, user_features,
                 item_features, preserve_rows, num_threads, check_intersections)


precision_at_k.__doc__ = ("Fraction of the top ``k`` that are test items, per user.\n"
                          + _AT_K_DOC)


def recall_at_k(model, test_interactions, train_interactions=None, k=10,
                user_features=None, item_features=None, preserve_rows=False,
                num_threads=1, check_intersections=True) -> np.ndarray:
    return _at_k("recall", model, test_interactions, train_interactions, k, user_features,
                 item_features, preserve_rows, num_threads, check_intersections)


recall_at_k.__doc__ = ("Fraction of the user's test items found in the top ``k``. With "
                       "``preserve_rows`` users without test items get 0 (LightFM 1.17 "
                       "returns nan there).\n" + _AT_K_DOC)


def ndcg_at_k(model, test_interactions, train_interactions=None, k=10,
              user_features=None, item_features=None, preserve_rows=False,
              num_threads=1, check_intersections=True) -> np.ndarray:
    return _at_k("ndcg", model, test_interactions, train_interactions, k, user_features,
                 item_features, preserve_rows, num_threads, check_intersections)


ndcg_at_k.__doc__ = ("Normalised discounted cumulative gain at ``k`` with binary relevance: "
                     "sum over test items ranked r < k of 1/log2(r + 2), divided by its "
                     "ideal value for min(k, #test items).\n" + _AT_K_DOC)


def map_at_k(model, test_interactions, train_interactions=None, k=10,
             user_features=None, item_features=None, preserve_rows=False,
             num_threads=1, check_intersections=True) -> np.ndarray:
    return _at_k("map", model, test_interactions, train_interactions, k, user_features,
                 item_features, preserve_rows, num_threads, check_intersections)


map_at_k.__doc__ = ("Average precision at ``k`` per user (its mean over users is MAP@k): "
                    "the mean of precision@(r+1) over the test items at ranks r < k, "
                    "divided by min(k, #test items).\n" + _AT_K_DOC)


def hit_rate_at_k(model, test_interactions, train_interactions=None, k=10,
                  user_features=None, item_features=None, preserve_rows=False,
                  num_threads=1, check_intersections=True) -> np.ndarray:
    return _at_k("hit_rate", model, test_interactions, train_interactions, k, user_features,
                 item_features, preserve_rows, num_threads, check_intersections)


hit_rate_at_k.__doc__ = ("1 if any test item is in the user's top ``k``, else 0.\n"
                         + _AT_K_DOC)


def auc_score(model, test_interactions, train_interactions=None, user_features=None,
              item_features=None, preserve_rows=False, num_threads=1,
              check_intersections=True) -> np.ndarray:
    """Per-user ROC AUC of the test items against all items that are neither test nor
    train items (LightFM's computation from ranks; 0.5 without negatives or for users
    without test items when ``preserve_rows``).

    Parameters as ``precision_at_k`` (without ``k``).
    """
    result, train = _rank(model, test_interactions, train_interactions, user_features,
                          item_features, num_threads, check_intersections)
    return _rows(_user_metrics(result, train, [1], num_threads).auc, result, preserve_rows,
                 0.5)


def reciprocal_rank(model, test_interactions, train_interactions=None, user_features=None,
                    item_features=None, preserve_rows=False, num_threads=1,
                    check_intersections=True) -> np.ndarray:
    """``1 / (rank + 1)`` of the user's best-ranked test item (0 for users without test
    items when ``preserve_rows``). Parameters as ``precision_at_k`` (without ``k``)."""
    # Only each user's best rank matters.
    result, train = _rank(model, test_interactions, train_interactions, user_features,
                          item_features, num_threads, check_intersections, exact_below=0,
                          best=True)
    per_user = _user_metrics(result, train, [1], num_threads, with_auc=False)
    return _rows(per_user.reciprocal_rank, result, preserve_rows, 0.0)


def item_popularity(train: sp.csr_matrix, test: sp.csr_matrix) -> np.ndarray:
    """Fraction of users with an interaction with each item: from ``train`` when it has
    entries, else from ``test`` (how ``popularity_at_k`` and ``evaluate`` measure it).

    Parameters
    ----------
    train, test : scipy.sparse.csr_matrix, shape (n_users, n_items)

    Returns
    -------
    numpy.ndarray of float64, shape (n_items,)
    """
    source = train if train.nnz else test
    return np.bincount(source.indices, minlength=source.shape[1]) / max(source.shape[0], 1)


def _top_k_lists(model, test_interactions, train_interactions, k, user_features,
                 item_features, num_threads, check_intersections):
    k = check_positive_int(k, "k")
    result, train = _rank(model, test_interactions, train_interactions, user_features,
                          item_features, num_threads, check_intersections, top_k=k,
                          exact_below=0)   # the lists only, no ranks
    if result.top_items.shape[1] != k:
        raise ValueError("coverage and popularity need a model with "
                         "get_user_representations / get_item_representations.")
    return result, train


def coverage_at_k(model, test_interactions, train_interactions=None, k=10,
                  user_features=None, item_features=None, num_threads=1,
                  check_intersections=True) -> float:
    """Catalogue coverage: the fraction of all items that appear in at least one top-``k``
    list of the users with test interactions (train items excluded from the lists).

    Parameters as ``precision_at_k`` (without ``preserve_rows``).

    Returns
    -------
    float
    """
    result, _ = _top_k_lists(model, test_interactions, train_interactions, k, user_features,
                             item_features, num_threads, check_intersections)
    return _coverage(result)


def _coverage(result: RankResult) -> float:
    items = result.top_items[result.top_items >= 0]
    return float(np.unique(items).shape[0] / max(result.test.shape[1], 1))


def _popularity(result: RankResult, train: sp.csr_matrix, k: int) -> np.ndarray:
    return _list_popularity(result.top_items, item_popularity(train, result.test), k)


def _list_popularity(top_items: np.ndarray, popularity: np.ndarray, k: int) -> np.ndarray:
    """Mean item popularity of each top-``k`` list (``-1`` padding ignored)."""
    top = top_items[:, :k]
    valid = top >= 0
    values = np.where(valid, popularity[np.maximum(top, 0)], 0.0)
    return values.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def popularity_at_k(model, test_interactions, train_interactions=None, k=10,
                    user_features=None, item_features=None, preserve_rows=False,
                    num_threads=1, check_intersections=True) -> np.ndarray:
    """Mean popularity of each user's top-``k`` list, popularity being the fraction of
    users who interacted with the item in ``train_interactions`` (or in the test matrix
    when no train matrix is given): the popularity-bias check.

    Parameters as ``precision_at_k``.
    """
    result, train = _top_k_lists(model, test_interactions, train_interactions, k,
                                 user_features, item_features, num_threads,
                                 check_intersections)
    return _rows(_popularity(result, train, int(k)), result, preserve_rows, 0.0)


def evaluate(model, test_interactions, train_interactions=None, k=(5, 10, 20),
             metrics=("precision", "recall", "ndcg", "map", "hit_rate", "auc",
                      "reciprocal_rank", "coverage", "popularity"),
             user_features=None, item_features=None, num_threads=1,
             check_intersections=True) -> pd.DataFrame:
    """Several metrics at several cut-offs from one ranking pass, as a tidy DataFrame.

    Parameters
    ----------
    model, test_interactions, train_interactions, user_features, item_features,
    num_threads, check_intersections
        As in ``precision_at_k``.
    k : int or sequence of int, default (5, 10, 20)
        Cut-offs for the ``@k`` metrics.
    metrics : str or sequence of str
        Any of ``precision, recall, ndcg, map, hit_rate, popularity`` (per cut-off) and
        ``auc, reciprocal_rank, coverage`` (``coverage`` per cut-off as well).

    Returns
    -------
    pandas.DataFrame
        Columns ``metric``, ``k`` (``<NA>`` for auc and reciprocal_rank), ``mean``,
        ``stderr`` (standard error of the mean over users; NaN for coverage) and
        ``n_users`` (users with test interactions).
    """
    ks, metrics = check_evaluate_arguments(k, metrics)
    options = evaluation_rank_options(ks, metrics)
    result, train = _rank(model, test_interactions, train_interactions, user_features,
                          item_features, num_threads, check_intersections,
                          top_k=options["k"], exact_below=options["exact_below"],
                          best=options["best"])
    popularity = item_popularity(train, result.test) if "popularity" in metrics else None
    return summarise(evaluation_parts(result, train, ks, metrics, popularity, num_threads))


def check_evaluate_arguments(k, metrics) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``evaluate``'s cut-offs and metric names, checked (ValueError naming them)."""
    ks = [k] if isinstance(k, numbers.Integral) else list(k)
    if not ks:
        raise ValueError("k must name at least one cut-off.")
    ks = tuple(check_positive_int(value, "k") for value in ks)
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [name for name in metrics if name not in AT_K_METRICS + GLOBAL_METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metrics {unknown}; choose from "
                         f"{AT_K_METRICS + GLOBAL_METRICS}.")
    return ks, metrics


def evaluation_rank_options(ks: tuple[int, ...], metrics: tuple[str, ...]) -> dict:
    """The ``rank_items`` options (``k``, ``exact_below``, ``best``) ``evaluate`` needs:
    top-``max(ks)`` lists for coverage and popularity; every rank for AUC, otherwise only
    the ranks below the largest cut-off and each user's best one."""
    at_k = any(name in ("precision", "recall", "ndcg", "map", "hit_rate") for name in metrics)
    needs_lists = "coverage" in metrics or "popularity" in metrics
    return {"k": max(ks) if needs_lists else 0,
            "exact_below": None if "auc" in metrics else (max(ks) if at_k else 0),
            "best": "reciprocal_rank" in metrics}


def evaluation_parts(result: RankResult, train: sp.csr_matrix, ks: tuple[int, ...],
                     metrics: tuple[str, ...], popularity: np.ndarray | None,
                     num_threads: int) -> EvaluationParts:
    """Per-user metric values of ``result``'s users, reduced to exactly combinable sums.

    ``result`` must carry top-``max(ks)`` lists when coverage or popularity is asked for;
    ``popularity`` is the item popularity (``item_popularity`` of the whole data set, not
    of one part of the users).
    """
    per_user = _user_metrics(result, train, ks, num_threads, with_auc="auc" in metrics)
    parts = EvaluationParts(metrics, ks, result.test.shape[1], per_user.users.shape[0])
    for name in metrics:
        if name in ("auc", "reciprocal_rank"):
            parts.add_values(name, None, getattr(per_user, name))
            continue
        for j, cut in enumerate(ks):
            if name == "coverage":
                parts.add_coverage(cut, result.top_items)
            elif name == "popularity":
                parts.add_values(name, cut, _list_popularity(result.top_items, popularity, cut))
            else:
                parts.add_values(name, cut, getattr(per_user, name)[:, j])
    return parts
