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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._early_stopping import EarlyStopping
from ._guard import private
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
    Early stopping is LightFM's own (``hybridrec.EarlyStopping``); the validation ranks
    the items that take part in training (see the module doc).
    """
    interactions = restricted(plan.interactions, plan.items)
    weights = restricted(plan.sample_weight, plan.items)
    item_matrix = plan.item_matrix[plan.items]
    frozen = (plan.trainable_user_features is not None
              or plan.trainable_item_features is not None)
    early = None
    if validation is not None:
        early = EarlyStopping(
            validation.test[:, plan.items], validation.train[:, plan.items],
            metric="precision", k=validation.k, patience=validation.patience,
            record=("auc",), user_features=plan.user_matrix, item_features=item_matrix,
            check_intersections=False)

    def run(epoch_count: int, first: bool) -> None:
        arguments = dict(user_features=plan.user_matrix, item_features=item_matrix,
                         sample_weight=weights, epochs=epoch_count, num_threads=num_threads)
        if frozen:
            model._fit_partial_rows(interactions,
                                    trainable_user_features=plan.trainable_user_features,
                                    trainable_item_features=plan.trainable_item_features,
                                    **arguments)
        elif first:
            model.fit(interactions, verbose=verbose, early_stopping=early, **arguments)
        else:
            model.fit_partial(interactions, verbose=verbose, early_stopping=early, **arguments)

    with private(model):  # a copy nobody else reads: no published copy needed
        return _train_epochs(model, plan, run, weights, epochs, fresh, validation)


def _train_epochs(model: LightFM, plan: Plan, run: Callable[[int, bool], None],
                  weights: sp.coo_matrix, epochs: int, fresh: bool,
                  validation: Validation | None) -> tuple[list[dict], int]:
    if plan.replayed is None or plan.replay >= 1.0:
        run(epochs, fresh)
        return _records(model.history_, validation), model.best_epoch_
    # A fresh replay sample every epoch: one epoch per call (no early stopping here).
    full_weights = weights.data.copy()
    # Drawn from the model's generator: reproducible with an int random_state, and
    # independent of num_threads.
    replay_rng = np.random.default_rng(model.random_state_.integers(1, 2**63))
    history: list[dict] = []
    for epoch in range(1, epochs + 1):
        weights.data = full_weights.copy()
        weights.data[plan.replayed[replay_rng.random(plan.replayed.size) >= plan.replay]] = 0
        run(1, fresh and epoch == 1)
        history.append({**_records(model.history_, None)[0], "epoch": epoch})
    return history, epochs


def _records(history: list[dict], validation: Validation | None) -> list[dict]:
    """LightFM's per-epoch records in the Recommender's column names."""
    records = []
    for entry in history:
        record = {"epoch": entry["epoch"], "train_time": entry["train_time"]}
        if validation is not None:
            record["precision_at_k"] = entry[f"precision@{validation.k}"]
            record["auc"] = entry["auc"]
        records.append(record)
    return records
