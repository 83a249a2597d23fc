"""Baselines every model should be compared against: popularity and random ranking.

Both expose the LightFM model surface the metrics use (``predict``, ``predict_rank``,
``get_user_representations``, ``get_item_representations``), so every metric in
``hybridrec.metrics`` works on them unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._scoring import prepare_test_train, rank_items
from ._threads import check_num_threads
from ._validation import as_id_array, as_interactions

_NOT_FITTED = "You must fit the model before trying to obtain predictions."


class _RepresentationBaseline:
    """Scores = user_vectors . item_vectors + item_biases; subclasses fill the arrays."""

    user_vectors_: np.ndarray | None = None
    item_vectors_: np.ndarray | None = None
    item_biases_: np.ndarray | None = None

    def _check_fitted(self) -> None:
        if self.item_vectors_ is None:
            raise ValueError(_NOT_FITTED)

    def _no_features(self, user_features, item_features) -> None:
        if user_features is not None or item_features is not None:
            raise ValueError(f"{type(self).__name__} does not use user or item features; "
                             "pass user_features=None and item_features=None.")

    def get_user_representations(self, features=None) -> tuple[np.ndarray, np.ndarray]:
        """``(biases, vectors)`` of the users (biases are zero)."""
        self._check_fitted()
        self._no_features(features, None)
        return np.zeros(self.user_vectors_.shape[0], np.float32), self.user_vectors_.copy()

    def get_item_representations(self, features=None) -> tuple[np.ndarray, np.ndarray]:
        """``(biases, vectors)`` of the items."""
        self._check_fitted()
        self._no_features(None, features)
        return self.item_biases_.copy(), self.item_vectors_.copy()

    def predict(self, user_ids, item_ids, item_features=None, user_features=None,
                num_threads=1) -> np.ndarray:
        """Scores of (user, item) pairs; a scalar user id is paired with every item."""
        self._check_fitted()
        self._no_features(user_features, item_features)
        check_num_threads(num_threads)
        items = as_id_array(item_ids, "item_ids")
        users = as_id_array(user_ids, "user_ids")
        if np.ndim(user_ids) == 0:
            users = np.full(items.shape[0], users[0], dtype=users.dtype)
        if users.shape[0] != items.shape[0]:
            raise ValueError(f"Expected the number of user IDs ({users.shape[0]}) to equal "
                             f"the number of item IDs ({items.shape[0]})")
        for name, ids, limit in (("user_ids", users, self.user_vectors_.shape[0]),
                                 ("item_ids", items, self.item_vectors_.shape[0])):
            if ids.size and ids.max() >= limit:
                raise ValueError(f"{name} contains id {ids.max()}, but the model was fitted "
                                 f"on {limit} (ids 0..{limit - 1}).")
        scores = np.einsum("ij,ij->i", self.user_vectors_[users], self.item_vectors_[items])
        return (scores + self.item_biases_[items]).astype(np.float32)

    def predict_rank(self, test_interactions, train_interactions=None, item_features=None,
                     user_features=None, num_threads=1, check_intersections=True
                     ) -> sp.csr_matrix:
        """Ranks of the test entries, train items excluded (as ``LightFM.predict_rank``)."""
        self._check_fitted()
        self._no_features(user_features, item_features)
        num_threads = check_num_threads(num_threads)
        test, train = prepare_test_train(test_interactions, train_interactions,
                                         check_intersections)
        n_users, n_items = test.shape
        if n_users > self.user_vectors_.shape[0] or n_items > self.item_vectors_.shape[0]:
            raise ValueError(
                f"test_interactions has shape {test.shape} but the model was fitted on "
                f"{(self.user_vectors_.shape[0], self.item_vectors_.shape[0])}."
            )
        result = rank_items(self.user_vectors_, self.item_vectors_, self.item_biases_, test,
                            train, num_threads)
        return sp.csr_matrix((result.ranks, test.indices, test.indptr), shape=test.shape)


class PopularityModel(_RepresentationBaseline):
    """Recommends the items with the most positive training interactions to everyone.

    The score of an item is the (sample-weighted) number of its positive interactions.
    """

    def fit(self, interactions, user_features=None, item_features=None, sample_weight=None,
            epochs=1, num_threads=1, verbose=False) -> PopularityModel:
        """Count positives per item (the extra arguments mirror ``LightFM.fit``)."""
        self._no_features(user_features, item_features)
        data = as_interactions(interactions, sample_weight)
        positive = data.values > 0
        counts = np.bincount(data.item_ids[positive], weights=data.weights[positive],
                             minlength=data.shape[1])
        self.user_vectors_ = np.zeros((data.shape[0], 1), dtype=np.float32)
        self.item_vectors_ = np.zeros((data.shape[1], 1), dtype=np.float32)
        self.item_biases_ = counts.astype(np.float32)
        return self


class RandomModel(_RepresentationBaseline):
    """Ranks items at random for every user (a fixed random ranking per user).

    Users and items get i.i.d. Gaussian vectors; for a given user the scores of the items
    are then i.i.d., so each user's ranking is a uniformly random permutation.

    Parameters
    ----------
    no_components : int, default 32
    random_state : int or None
    """

    def __init__(self, no_components: int = 32, random_state: int | None = None) -> None:
        self.no_components = no_components
        self.random_state = random_state

    def fit(self, interactions, user_features=None, item_features=None, sample_weight=None,
            epochs=1, num_threads=1, verbose=False) -> RandomModel:
        """Draw the random vectors for the matrix's users and items."""
        self._no_features(user_features, item_features)
        data = as_interactions(interactions, sample_weight)
        rng = np.random.default_rng(self.random_state)
        n_users, n_items = data.shape
        self.user_vectors_ = rng.standard_normal((n_users, self.no_components),
                                                 dtype=np.float32)
        self.item_vectors_ = rng.standard_normal((n_items, self.no_components),
                                                 dtype=np.float32)
        self.item_biases_ = np.zeros(n_items, dtype=np.float32)
        return self
