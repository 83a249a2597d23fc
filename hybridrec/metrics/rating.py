"""Errors of predicted scores against explicit ratings."""

from __future__ import annotations

import numpy as np

from .._validation import check_sparse


def _errors(model, test_interactions, user_features, item_features, num_threads
            ) -> np.ndarray:
    check_sparse(test_interactions, "test_interactions")
    test = test_interactions.tocoo()
    if test.nnz == 0:
        raise ValueError("test_interactions has no stored entries to score.")
    predictions = model.predict(test.row, test.col, item_features=item_features,
                                user_features=user_features, num_threads=num_threads)
    return np.asarray(predictions, dtype=np.float64) - test.data.astype(np.float64)


def rmse(model, test_interactions, user_features=None, item_features=None,
         num_threads=1) -> float:
    """Root mean squared error of ``model.predict`` on the stored test ratings.

    Parameters
    ----------
    model : LightFM-like
        Anything with LightFM's ``predict``.
    test_interactions : scipy.sparse matrix
        Stored entries are the true ratings.
    user_features, item_features : scipy.sparse matrix, optional
    num_threads : int, default 1

    Returns
    -------
    float
    """
    errors = _errors(model, test_interactions, user_features, item_features, num_threads)
    return float(np.sqrt(np.mean(errors**2)))


def mae(model, test_interactions, user_features=None, item_features=None,
        num_threads=1) -> float:
    """Mean absolute error of ``model.predict`` on the stored test ratings (see ``rmse``)."""
    errors = _errors(model, test_interactions, user_features, item_features, num_threads)
    return float(np.mean(np.abs(errors)))
