"""Per-epoch validation for ``LightFM.fit`` / ``fit_partial``: history, early stopping, best
epoch.

``EarlyStopping`` is the configuration a user passes (``fit(..., early_stopping=...)``);
``start`` checks it against the fit's data once and returns a ``ValidationTracker`` that
scores the model after each epoch and says whether the epoch is the best so far and
whether to stop. The model keeps the best epoch's state itself (``LightFM._snapshot``), so
this module never touches model internals; it only calls ``hybridrec.metrics.evaluate``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import scipy.sparse as sp

from ._scoring import prepare_test_train
from ._threads import check_num_threads
from ._validation import is_integer, is_real
from .metrics.ranking import AT_K_METRICS, GLOBAL_METRICS, evaluate

__all__ = ["EarlyStopping", "ValidationTracker", "MONITORED_METRICS"]

#: Metrics that may decide the best epoch (higher is better for each).
MONITORED_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "auc",
                     "reciprocal_rank")


def metric_key(name: str, k: int) -> str:
    """The history key of a metric: ``"precision@10"`` for cut-off metrics, else the name
    (``"auc"``, ``"reciprocal_rank"``)."""
    return f"{name}@{k}" if name in AT_K_METRICS or name == "coverage" else name


class EarlyStopping:
    """Validate after every epoch of ``LightFM.fit`` / ``fit_partial``; stop when the
    validation metric stops improving and keep the best epoch.

    Pass it as ``model.fit(train, epochs=100, early_stopping=EarlyStopping(test, train))``.
    After the call, ``model.history_`` holds one record (dict) per epoch run::

        {"epoch": 1, "train_time": 0.21, "eval_time": 0.03, "precision@10": 0.31, ...}

    and ``model.best_epoch_`` the epoch (1-based, counted within the call) whose state
    the model holds at the end. Without ``early_stopping`` nothing is evaluated and
    ``fit`` costs what it always did (its history has only ``epoch`` and ``train_time``).

    The configuration holds no state of a fit, so one object can serve many fits (and
    ``clone``d estimators).

    Parameters
    ----------
    validation_interactions : scipy.sparse matrix, shape (n_users, n_items)
        Held-out interactions, with the shape of the training interactions. Every stored
        entry is a relevant item, as in ``hybridrec.metrics`` (and ``lightfm.evaluation``).
    train_interactions : scipy.sparse matrix, same shape, optional
        Items left out of each user's validation ranking, usually the training matrix
        (as ``train_interactions`` of ``precision_at_k``). Default: none left out.
    metric : str, default "precision"
        The metric that decides the best epoch (higher is better): one of
        ``precision, recall, ndcg, map, hit_rate`` (at cut-off ``k``), ``auc``,
        ``reciprocal_rank``. Means over validation users, as ``hybridrec.metrics.evaluate``.
    k : int, default 10
        Cut-off of the ``@k`` metrics.
    patience : int or None, default 3
        Stop after this many consecutive epochs without an improvement; ``None`` runs
        every epoch (recording the history and keeping the best epoch all the same).
    min_delta : float, default 0.0
        An epoch improves only if its metric exceeds the best so far by more than this.
    record : str or sequence of str, default ()
        More metrics to record each epoch (any of ``evaluate``'s: the monitored ones and
        ``popularity``, ``coverage``), computed in the same ranking pass.
    restore_best : bool, default True
        End the fit with the best epoch's parameters, accumulators and generator state
        (so a later ``fit_partial`` continues from there). False keeps the last epoch.
    user_features, item_features : scipy.sparse matrix, optional
        Feature matrices for the validation ranking. Default: those given to ``fit``.
    check_intersections : bool, default True
        Refuse validation and train matrices that share entries (checked once).
    num_threads : int, optional
        Threads of the validation ranking. Default: ``fit``'s ``num_threads``.

    Raises
    ------
    ValueError
        For an unknown metric or invalid ``k``, ``patience`` or ``min_delta`` (at
        construction), and for matrices of the wrong shape (at ``fit``).
    """

    def __init__(self, validation_interactions: sp.spmatrix,
                 train_interactions: sp.spmatrix | None = None, *,
                 metric: str = "precision", k: int = 10, patience: int | None = 3,
                 min_delta: float = 0.0, record: str | Sequence[str] = (),
                 restore_best: bool = True, user_features: sp.spmatrix | None = None,
                 item_features: sp.spmatrix | None = None, check_intersections: bool = True,
                 num_threads: int | None = None) -> None:
        if metric not in MONITORED_METRICS:
            raise ValueError(f"metric must be one of {MONITORED_METRICS} (higher is better), "
                             f"got {metric!r}.")
        if not is_integer(k) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        if patience is not None and (not is_integer(patience) or patience < 1):
            raise ValueError(f"patience must be a positive integer or None, got {patience!r}.")
        if not is_real(min_delta) or not math.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}.")
        record = (record,) if isinstance(record, str) else tuple(record)
        unknown = [name for name in record if name not in AT_K_METRICS + GLOBAL_METRICS]
        if unknown:
            raise ValueError(f"record: unknown metrics {unknown}; choose from "
                             f"{AT_K_METRICS + GLOBAL_METRICS}.")
        if num_threads is not None:
            check_num_threads(num_threads)
        self.validation_interactions = validation_interactions
        self.train_interactions = train_interactions
        self.metric = metric
        self.k = int(k)
        self.patience = None if patience is None else int(patience)
        self.min_delta = float(min_delta)
        self.record = record
        self.restore_best = bool(restore_best)
        self.user_features = user_features
        self.item_features = item_features
        self.check_intersections = bool(check_intersections)
        self.num_threads = num_threads

    def __repr__(self) -> str:
        """Short description (the matrices by shape)."""
        shape = getattr(self.validation_interactions, "shape", None)
        return (f"EarlyStopping(validation {shape}, metric={self.metric!r}, k={self.k}, "
                f"patience={self.patience}, min_delta={self.min_delta}, "
                f"record={self.record}, restore_best={self.restore_best})")

    @property
    def key(self) -> str:
        """History key of the monitored metric (e.g. ``"precision@10"``)."""
        return metric_key(self.metric, self.k)

    def start(self, shape: tuple[int, int], user_features: sp.spmatrix | None,
              item_features: sp.spmatrix | None, num_threads: int) -> ValidationTracker:
        """Check the matrices against a fit's data once; the tracker for that fit.

        Parameters
        ----------
        shape : (int, int)
            Shape of the training interactions.
        user_features, item_features : scipy.sparse matrix or None
            The fit's feature matrices (used unless this object has its own).
        num_threads : int
            The fit's thread count (used unless this object has its own).

        Returns
        -------
        ValidationTracker
        """
        for name in ("validation_interactions", "train_interactions"):
            matrix = getattr(self, name)
            if matrix is None and name == "train_interactions":
                continue
            if not sp.issparse(matrix):
                raise ValueError(f"early_stopping: {name} must be a scipy.sparse matrix, got "
                                 f"{type(matrix).__name__}.")
            if matrix.shape != tuple(shape):
                raise ValueError(
                    f"early_stopping: {name} has shape {matrix.shape} but the training "
                    f"interactions have shape {tuple(shape)}; they must match (one row per "
                    "user, one column per item)."
                )
        # Converted and checked once: every epoch's evaluate then uses them as they are.
        try:
            test, train = prepare_test_train(self.validation_interactions,
                                             self.train_interactions, self.check_intersections)
        except ValueError as error:  # name the arguments as the user knows them
            message = str(error).replace("test_interactions", "validation_interactions")
            raise ValueError(f"early_stopping: {message}") from None
        if self.train_interactions is None:
            train = None
        if test.nnz == 0:
            raise ValueError("early_stopping: validation_interactions has no entries, so "
                             "there is nothing to validate on.")
        metrics = (self.metric,) + tuple(name for name in self.record if name != self.metric)
        return ValidationTracker(
            config=self, test=test, train=train, metrics=metrics,
            user_features=self.user_features if self.user_features is not None
            else user_features,
            item_features=self.item_features if self.item_features is not None
            else item_features,
            num_threads=check_num_threads(self.num_threads if self.num_threads is not None
                                          else num_threads))


@dataclass
class ValidationTracker:
    """The validation state of one fit: best score so far and epochs since it.

    Made by ``EarlyStopping.start``; the model calls ``score`` after each epoch.
    """

    config: EarlyStopping
    test: sp.csr_matrix
    train: sp.csr_matrix | None
    metrics: tuple[str, ...]
    user_features: sp.spmatrix | None
    item_features: sp.spmatrix | None
    num_threads: int
    best_score: float = -math.inf
    best_epoch: int | None = None
    since_best: int = 0

    def score(self, model: object, record: dict) -> tuple[bool, bool]:
        """Evaluate ``model`` now and add the metrics (and ``eval_time``) to ``record``.

        Parameters
        ----------
        model : LightFM
            The model after the epoch ``record["epoch"]``.
        record : dict
            The epoch's history record, updated in place.

        Returns
        -------
        improved : bool
            This epoch is the best so far (the model should keep a copy of its state).
        stop : bool
            ``patience`` epochs in a row brought no improvement.
        """
        start = time.perf_counter()
        table = evaluate(model, self.test, self.train, k=self.config.k, metrics=self.metrics,
                         user_features=self.user_features, item_features=self.item_features,
                         num_threads=self.num_threads, check_intersections=False)
        for name, mean in zip(table["metric"], table["mean"], strict=True):
            record[metric_key(name, self.config.k)] = float(mean)
        record["eval_time"] = time.perf_counter() - start
        value = record[self.config.key]
        improved = value > self.best_score + self.config.min_delta
        if improved:
            self.best_score, self.best_epoch, self.since_best = value, record["epoch"], 0
        else:
            self.since_best += 1
        patience = self.config.patience
        return improved, patience is not None and self.since_best >= patience
