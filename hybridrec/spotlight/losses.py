"""Spotlight's ``spotlight.losses`` as NumPy functions of predictions.

Same names, arguments and formulas as Spotlight 0.1.6's PyTorch losses; they take
arrays and return the mean loss as a float (Spotlight's return a tensor). The models do
not call these to train (their gradients are in hybridrec's numba kernels); they report
epoch losses (``fit(verbose=True)``) and let code that computed Spotlight losses on
predictions keep doing so.

Note that Spotlight's ``pointwise_loss`` is ``(1 - sigmoid(positive)) +
sigmoid(negative)``, not the logistic log-loss its docstring names; hybridrec's
``pointwise`` training loss is the log-loss (see the README's migration table).
"""

from __future__ import annotations

import numpy as np

__all__ = ["adaptive_hinge_loss", "bpr_loss", "hinge_loss", "logistic_loss", "pointwise_loss",
           "poisson_loss", "regression_loss"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _masked_mean(loss: np.ndarray, mask: object) -> float:
    if mask is None:
        return float(np.mean(loss))
    mask = np.asarray(mask, dtype=np.float64)
    return float((loss * mask).sum() / mask.sum())


def pointwise_loss(positive_predictions: object, negative_predictions: object,
                   mask: object = None) -> float:
    """Spotlight's pointwise loss: mean of ``1 - sigmoid(positive) + sigmoid(negative)``.

    Parameters
    ----------
    positive_predictions, negative_predictions : array
        Scores of known positives and of sampled negatives (same shape).
    mask : array, optional
        Weights (0/1) of the entries; the loss is their weighted mean.

    Returns
    -------
    float
    """
    loss = (1.0 - _sigmoid(positive_predictions)) + _sigmoid(negative_predictions)
    return _masked_mean(loss, mask)


def bpr_loss(positive_predictions: object, negative_predictions: object,
             mask: object = None) -> float:
    """Spotlight's BPR loss: mean of ``1 - sigmoid(positive - negative)``."""
    difference = np.asarray(positive_predictions, np.float64) - np.asarray(
        negative_predictions, np.float64)
    return _masked_mean(1.0 - _sigmoid(difference), mask)


def hinge_loss(positive_predictions: object, negative_predictions: object,
               mask: object = None) -> float:
    """Hinge loss: mean of ``max(0, negative - positive + 1)``."""
    loss = np.maximum(np.asarray(negative_predictions, np.float64)
                      - np.asarray(positive_predictions, np.float64) + 1.0, 0.0)
    return _masked_mean(loss, mask)


def adaptive_hinge_loss(positive_predictions: object, negative_predictions: object,
                        mask: object = None) -> float:
    """Hinge loss against the highest of several negatives.

    ``negative_predictions`` has shape ``(n_negatives, *positive_predictions.shape)``;
    the maximum over the first axis is the negative of each positive.
    """
    highest = np.max(np.asarray(negative_predictions, np.float64), axis=0)
    return hinge_loss(positive_predictions, highest, mask=mask)


def regression_loss(observed_ratings: object, predicted_ratings: object) -> float:
    """Mean squared error."""
    error = np.asarray(observed_ratings, np.float64) - np.asarray(predicted_ratings, np.float64)
    return float(np.mean(error ** 2))


def poisson_loss(observed_ratings: object, predicted_ratings: object) -> float:
    """Poisson loss of predicted rates: mean of ``predicted - observed * log(predicted)``."""
    predicted = np.asarray(predicted_ratings, np.float64)
    return float(np.mean(predicted - np.asarray(observed_ratings, np.float64)
                         * np.log(predicted)))


def logistic_loss(observed_ratings: object, predicted_ratings: object) -> float:
    """Binary cross-entropy of logits ``predicted_ratings`` against ``observed_ratings``
    clamped to [0, 1] (so -1/+1 labels become 0/1), as Spotlight computes it."""
    target = np.clip(np.asarray(observed_ratings, np.float64), 0.0, 1.0)
    logits = np.asarray(predicted_ratings, np.float64)
    # log(1 + exp(-|x|)) + max(x, 0) - x * t: the stable form of the cross-entropy.
    loss = np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0.0) - logits * target
    return float(np.mean(loss))
