"""Spotlight's ``spotlight.evaluation``: MRR, precision/recall and RMSE, Spotlight's way.

Every function calls ``model.predict`` exactly as Spotlight's do (``predict(user_id)``
for a user's scores over all items, ``predict(sequence)`` for a sequence model, and
``predict(user_ids, item_ids)`` for RMSE), so they evaluate any model with that
contract, and rank the same way: ranks are ``scipy.stats.rankdata`` ranks of the
negated scores (ties share the average rank; computed for the target items only), items
of ``train`` or of the preceding sequence are pushed to the bottom by setting their
negated score to the float32 maximum, and the top ``k`` is NumPy's ``argsort`` of the
negated scores.

Return shapes follow Spotlight's documentation; the one deliberate difference is that
``precision_recall_score`` with a list ``k`` always returns 2-d arrays (Spotlight's
``squeeze`` drops the axis when ``k`` has one element or there is one user).
"""

from __future__ import annotations

import numpy as np

from .._validation import is_integer
from .interactions import Interactions, SequenceInteractions

__all__ = ["mrr_score", "precision_recall_score", "rmse_score", "sequence_mrr_score",
           "sequence_precision_recall_score"]

FLOAT_MAX = np.finfo(np.float32).max


def _interactions(value: object, name: str) -> Interactions:
    if not isinstance(value, Interactions):
        raise ValueError(f"{name} must be a hybridrec.spotlight.interactions.Interactions, got "
                         f"{type(value).__name__}.")
    value.check()
    return value


def _sequences(value: object) -> SequenceInteractions:
    if not isinstance(value, SequenceInteractions):
        raise ValueError("test must be a hybridrec.spotlight.interactions.SequenceInteractions "
                         f"(from Interactions.to_sequence), got {type(value).__name__}.")
    return value


def _negated_scores(model: object, query: object, expected: int | None = None) -> np.ndarray:
    """``-model.predict(query)`` as a float array, checked to be 1-d."""
    scores = np.asarray(model.predict(query))
    if scores.ndim != 1 or (expected is not None and scores.shape[0] < expected):
        raise ValueError(
            f"model.predict({type(query).__name__}) must return one score per item (a 1-d "
            f"array of at least {expected} scores), got shape {scores.shape}."
        )
    if np.isnan(scores).any():
        raise ValueError(f"model.predict({type(query).__name__}) returned NaN scores.")
    return -scores


def _train_rows(train: Interactions | None, test: Interactions):
    if train is None:
        return None
    train = _interactions(train, "train")
    if train.num_users < test.num_users or train.num_items < test.num_items:
        # Spotlight indexes train rows by the test user ids: the shapes must cover them.
        raise ValueError(
            f"train ({train.num_users} users x {train.num_items} items) must cover test's "
            f"{test.num_users} users x {test.num_items} items (split both from one data set)."
        )
    return train.tocsr()


def mrr_score(model: object, test: Interactions, train: Interactions | None = None
              ) -> np.ndarray:
    """Mean reciprocal rank of each test user's test items.

    Parameters
    ----------
    model : fitted model with ``predict(user_id)`` returning scores for all items
    test : Interactions
    train : Interactions, optional
        Items a user has in train are ranked last, so they do not push test items down.

    Returns
    -------
    numpy.ndarray of float64, shape (n_test_users,)
        For each user with test interactions (increasing user id), the mean of
        ``1 / rank`` over the user's test items (rank 1 is the top; ties share the
        average rank).
    """
    test = _interactions(test, "test")
    train_rows = _train_rows(train, test)
    rows = test.tocsr()
    mrrs = []
    for user_id in np.flatnonzero(np.diff(rows.indptr)):
        targets = rows.indices[rows.indptr[user_id]:rows.indptr[user_id + 1]]
        predictions = _negated_scores(model, int(user_id), test.num_items)
        if train_rows is not None:
            predictions[train_rows.indices[train_rows.indptr[user_id]:
                                           train_rows.indptr[user_id + 1]]] = FLOAT_MAX
        mrrs.append((1.0 / _average_ranks(predictions, targets)).mean())
    return np.array(mrrs)


def _average_ranks(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(values)[targets]`` (ties get their average rank) without
    ranking every value: a sort and two binary searches per target."""
    ordered = np.sort(values)
    chosen = values[targets]
    below = np.searchsorted(ordered, chosen, side="left")
    equal = np.searchsorted(ordered, chosen, side="right") - below
    return below + (equal + 1) / 2.0


def _precision_recall(top: np.ndarray, targets: np.ndarray, k: int) -> tuple[float, float]:
    top = top[:k]
    hits = len(set(top.tolist()) & set(targets.tolist()))
    return hits / len(top), hits / len(targets)


def _check_k(k: object) -> tuple[np.ndarray, bool]:
    scalar = np.isscalar(k)
    values = np.atleast_1d(np.asarray(k))
    if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iu" \
            or (values < 1).any():
        raise ValueError(f"k must be a positive integer or a 1-d array of them, got {k!r}.")
    return values.astype(np.int64), scalar


def precision_recall_score(model: object, test: Interactions, train: Interactions | None = None,
                           k: int | list[int] = 10) -> tuple[np.ndarray, np.ndarray]:
    """Precision@k and recall@k of each test user.

    Parameters
    ----------
    model : fitted model with ``predict(user_id)``
    test : Interactions
    train : Interactions, optional
        Items a user has in train are ranked last.
    k : int or array of int, default 10

    Returns
    -------
    (precision, recall) : numpy arrays
        Shape ``(n_test_users,)`` for a scalar ``k``, ``(n_test_users, len(k))`` for an
        array. Precision divides the hits by ``min(k, num_items)``, recall by the number
        of the user's (distinct) test items.
    """
    ks, scalar = _check_k(k)
    test = _interactions(test, "test")
    train_rows = _train_rows(train, test)
    rows = test.tocsr()
    precision, recall = [], []
    for user_id in np.flatnonzero(np.diff(rows.indptr)):
        targets = rows.indices[rows.indptr[user_id]:rows.indptr[user_id + 1]]
        predictions = _negated_scores(model, int(user_id), test.num_items)
        if train_rows is not None:
            predictions[train_rows.indices[train_rows.indptr[user_id]:
                                           train_rows.indptr[user_id + 1]]] = FLOAT_MAX
        ranking = predictions.argsort()
        pairs = [_precision_recall(ranking, targets, int(x)) for x in ks]
        precision.append([p for p, _ in pairs])
        recall.append([r for _, r in pairs])
    precision = np.array(precision, dtype=np.float64).reshape(-1, len(ks))
    recall = np.array(recall, dtype=np.float64).reshape(-1, len(ks))
    if scalar:
        return precision[:, 0], recall[:, 0]
    return precision, recall


def sequence_mrr_score(model: object, test: SequenceInteractions,
                       exclude_preceding: bool = False) -> np.ndarray:
    """Reciprocal rank of the last item of each test sequence, predicted from the rest.

    Parameters
    ----------
    model : fitted sequence model with ``predict(sequence)`` returning scores for all items
    test : SequenceInteractions
    exclude_preceding : bool, default False
        Rank the items already in the sequence last.

    Returns
    -------
    numpy.ndarray of float64, shape (num_sequences,)
    """
    test = _sequences(test)
    sequences = test.sequences[:, :-1]
    targets = test.sequences[:, -1:]
    mrrs = np.empty(len(sequences))
    for i in range(len(sequences)):
        predictions = _negated_scores(model, sequences[i], test.num_items)
        if exclude_preceding:
            predictions[sequences[i]] = FLOAT_MAX
        mrrs[i] = (1.0 / _average_ranks(predictions, targets[i])).mean()
    return mrrs


def sequence_precision_recall_score(model: object, test: SequenceInteractions, k: int = 10,
                                    exclude_preceding: bool = False
                                    ) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of the top ``k`` against the last ``k`` items of each sequence,
    predicted from the items before them.

    Parameters
    ----------
    model : fitted sequence model with ``predict(sequence)``
    test : SequenceInteractions
    k : int, default 10
        Number of held-out items and of predictions (``< max_sequence_length``).
    exclude_preceding : bool, default False
        Rank the items of the input part of the sequence last.

    Returns
    -------
    (precision, recall) : numpy arrays of shape (num_sequences,)
        Equal whenever the ``k`` targets are distinct (``k`` predictions, ``k`` targets).
    """
    test = _sequences(test)
    if not is_integer(k) or not (
            1 <= k < test.max_sequence_length):
        raise ValueError(f"k must be an integer in [1, max_sequence_length) = [1, "
                         f"{test.max_sequence_length}), got {k!r}.")
    sequences = test.sequences[:, :-k]
    targets = test.sequences[:, -k:]
    precision = np.empty(len(sequences))
    recall = np.empty(len(sequences))
    for i in range(len(sequences)):
        predictions = _negated_scores(model, sequences[i], test.num_items)
        if exclude_preceding:
            predictions[sequences[i]] = FLOAT_MAX
        precision[i], recall[i] = _precision_recall(predictions.argsort()[:k], targets[i], k)
    return precision, recall


def rmse_score(model: object, test: Interactions) -> float:
    """Root mean squared error of ``model.predict(test.user_ids, test.item_ids)`` against
    ``test.ratings``.

    Returns
    -------
    float
        Computed in float64.
    """
    test = _interactions(test, "test")
    if test.ratings is None:
        raise ValueError("rmse_score needs test.ratings; these interactions have none.")
    if len(test) == 0:
        raise ValueError("rmse_score needs at least one test interaction, got none.")
    predictions = np.asarray(model.predict(test.user_ids, test.item_ids), dtype=np.float64)
    if predictions.shape != (len(test),):
        raise ValueError(f"model.predict(user_ids, item_ids) must return one prediction per "
                         f"pair ({len(test)}), got shape {predictions.shape}.")
    return float(np.sqrt(((test.ratings.astype(np.float64) - predictions) ** 2).mean()))
