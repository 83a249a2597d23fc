"""How a ``Recommender`` trains its model: examples, the item range, the epoch loop.

Kept apart from the facade so each rule lives once:

- ``examples``: interactions become LightFM examples (``+1`` weighted by the stored
  weight; dislikes ``-1``). Entries with zero weight are known positives / dislikes that
  are not visited (``with_zero_weights``): incremental updates train on new rows while
  every known interaction still counts as a positive.
- the item range: only items with at least one stored interaction or dislike take part
  in training. Items known only by their features (cold-start items, added with
  ``add_items`` or given only in a feature frame) are never drawn as negatives: nobody
  could have chosen them when the training interactions happened, and drawing them
  would teach the model that "an item described by side features alone" is bad (it
  halved their AUC on MovieLens 100k). They are scored by their features at query time.
- ``train``: the epoch loop with optional early stopping on a validation set (best
  epoch kept), and optional frozen rows (fold-in: only new entities' rows move).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .metrics import evaluate
from .model import LightFM


def examples(positives: sp.csr_matrix, dislikes: sp.csr_matrix | None = None
             ) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """LightFM's ``(interactions, sample_weight)`` with identical coordinates: the entries
    of ``positives`` as ``+1`` weighted by their values, then those of ``dislikes`` as
    ``-1`` weighted by theirs."""
    coo = positives.tocoo()
    if dislikes is None or dislikes.nnz == 0:
        ones = sp.coo_matrix((np.ones(coo.nnz, np.float32), (coo.row, coo.col)),
                             shape=coo.shape)
        return ones, sp.coo_matrix((coo.data.astype(np.float32), (coo.row, coo.col)),
                                   shape=coo.shape)
    bad = dislikes.tocoo()
    rows = np.concatenate([coo.row, bad.row])
    cols = np.concatenate([coo.col, bad.col])
    values = np.concatenate([np.ones(coo.nnz, np.float32), np.full(bad.nnz, -1.0, np.float32)])
    weights = np.concatenate([coo.data, bad.data]).astype(np.float32)
    return (sp.coo_matrix((values, (rows, cols)), shape=coo.shape),
            sp.coo_matrix((weights, (rows, cols)), shape=coo.shape))


def with_zero_weights(stored: sp.csr_matrix, added: sp.csr_matrix) -> sp.csr_matrix:
    """``added``'s entries with their weights plus ``stored``'s with weight zero (still
    known positives or dislikes, but not visited). Both must have the same shape."""
    old, new = stored.tocoo(), added.tocoo()
    return sp.csr_matrix(
        (np.concatenate([np.zeros(old.nnz, np.float32), new.data.astype(np.float32)]),
         (np.concatenate([old.row, new.row]), np.concatenate([old.col, new.col]))),
        shape=added.shape)


def items_with_data(*matrices: sp.spmatrix) -> np.ndarray:
    """Sorted item columns holding at least one stored entry in any of ``matrices``."""
    counts = np.zeros(matrices[0].shape[1], dtype=np.int64)
    for matrix in matrices:
        counts += np.bincount(sp.csr_matrix(matrix).indices, minlength=counts.size)
    return np.flatnonzero(counts).astype(np.int32)


def restricted(matrix: sp.coo_matrix, items: np.ndarray) -> sp.coo_matrix:
    """``matrix`` with its columns renumbered to positions in the sorted ``items`` (every
    stored column must be one of them); shape ``(n_users, len(items))``."""
    return sp.coo_matrix((matrix.data, (matrix.row, np.searchsorted(items, matrix.col))),
                         shape=(matrix.shape[0], items.size))


@dataclass(frozen=True)
class Validation:
    """Early stopping: evaluate precision@``k`` (and AUC) on ``test`` after every epoch,
    stop after ``patience`` epochs without a better precision, keep the best epoch."""

    test: sp.csr_matrix
    train: sp.csr_matrix
    k: int
    patience: int


@dataclass(frozen=True)
class Plan:
    """What one training call does.

    Attributes
    ----------
    interactions, sample_weight : COO (n_users, n_items)
        LightFM's inputs over all items (from :func:`examples`).
    user_matrix, item_matrix : CSR
        The model's feature matrices (all entities).
    items : int32 array
        The items that take part (see the module doc); the others are left out of the
        matrices the model sees.
    trainable_user_features, trainable_item_features : int array or None
        Feature rows allowed to change (None: all of that side).
    replayed : int array or None
        Positions (in ``interactions``' entries) of stored interactions that are
        revisited as a fresh random sample of share ``replay`` every epoch (their weight
        is zero in the other epochs); None: every entry keeps its weight.
    replay : float
    """

    interactions: sp.coo_matrix
    sample_weight: sp.coo_matrix
    user_matrix: sp.csr_matrix
    item_matrix: sp.csr_matrix
    items: np.ndarray
    trainable_user_features: np.ndarray | None = None
    trainable_item_features: np.ndarray | None = None
    replayed: np.ndarray | None = None
    replay: float = 1.0


def train(model: LightFM, plan: Plan, epochs: int, num_threads: int, fresh: bool,
          validation: Validation | None = None, verbose: bool = False
          ) -> tuple[list[dict], int]:
    """Train ``model`` in place for ``epochs`` epochs; returns the per-epoch records
    (``epoch``, ``train_time`` and, with ``validation``, ``precision_at_k`` and
    ``auc``) and the epoch whose parameters the model holds at the end.

    ``fresh`` starts from a new initialisation (``LightFM.fit``), else training resumes.
    """
    interactions = restricted(plan.interactions, plan.items)
    weights = restricted(plan.sample_weight, plan.items)
    item_matrix = plan.item_matrix[plan.items]
    sample = plan.replayed is not None and plan.replay < 1.0
    if sample:
        full_weights = weights.data.copy()
        # The replay sample is drawn from the model's generator: reproducible with an
        # int random_state, and independent of num_threads.
        replay_rng = np.random.default_rng(model.random_state_.integers(1, 2**63))
    frozen = (plan.trainable_user_features is not None
              or plan.trainable_item_features is not None)

    def run(epoch_count: int, first: bool) -> None:
        arguments = dict(user_features=plan.user_matrix, item_features=item_matrix,
                         sample_weight=weights, epochs=epoch_count, num_threads=num_threads)
        if first:
            model.fit(interactions, **arguments)
        elif frozen:
            model._fit_partial_rows(interactions,
                                    trainable_user_features=plan.trainable_user_features,
                                    trainable_item_features=plan.trainable_item_features,
                                    **arguments)
        else:
            model.fit_partial(interactions, **arguments)

    if epochs == 0:
        if fresh:
            run(0, True)
        return [], 0
    history: list[dict] = []
    best_score, best_state, best_epoch, since_best = -np.inf, None, epochs, 0
    epoch_range = range(1, epochs + 1)
    if verbose:
        from tqdm.auto import tqdm

        epoch_range = tqdm(epoch_range, desc="Epoch")
    for epoch in epoch_range:
        start = time.perf_counter()
        if sample:
            weights.data = full_weights.copy()
            dropped = replay_rng.random(plan.replayed.size) >= plan.replay
            weights.data[plan.replayed[dropped]] = 0.0
        run(1, fresh and epoch == 1)
        record = {"epoch": epoch, "train_time": time.perf_counter() - start}
        if validation is not None:
            scores = evaluate(model, validation.test, validation.train, k=validation.k,
                              metrics=("precision", "auc"), num_threads=num_threads,
                              check_intersections=False, user_features=plan.user_matrix,
                              item_features=plan.item_matrix)
            record["precision_at_k"] = float(scores["mean"].iloc[0])
            record["auc"] = float(scores["mean"].iloc[1])
            if verbose:
                epoch_range.set_postfix(precision=f"{record['precision_at_k']:.4f}")
            if record["precision_at_k"] > best_score:
                best_score, best_epoch, since_best = record["precision_at_k"], epoch, 0
                best_state = model._snapshot(into=best_state)
            else:
                since_best += 1
        history.append(record)
        if validation is not None and since_best >= validation.patience:
            break
    if best_state is not None and best_epoch != history[-1]["epoch"]:
        model._restore_snapshot(best_state, generator=False)
    return history, best_epoch if validation is not None else history[-1]["epoch"]
