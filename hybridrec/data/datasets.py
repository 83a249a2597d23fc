"""Data sets: a synthetic hybrid-recommendation generator with item side features."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def synthetic(n_users: int = 1000, n_items: int = 500, n_genres: int = 12,
              interactions_per_user: int = 30, test_fraction: float = 0.2,
              random_state: int | None = 0) -> dict:
    """Generate implicit feedback whose structure a hybrid model can learn.

    Every item carries one to three of ``n_genres`` genres; every user likes a few
    genres. A user interacts with items drawn with probability proportional to
    ``popularity * exp(6 * genre affinity)``, so both collaborative signal (shared
    tastes) and content signal (genres) are present. Each user's interactions are split
    at random into train and test.

    Parameters
    ----------
    n_users, n_items, n_genres : int
        Sizes; ``n_items >= 2 * interactions_per_user`` is sensible.
    interactions_per_user : int
        Distinct items each user interacts with (train + test).
    test_fraction : float
        Fraction of each user's items held out for testing, in (0, 1).
    random_state : int or None
        Seed of the generator.

    Returns
    -------
    dict
        ``train``, ``test``: ``scipy.sparse.coo_matrix`` of float32 ones, shape
        ``(n_users, n_items)``, disjoint. ``item_features``: CSR float32
        ``(n_items, n_items + n_genres)`` = identity beside the genre one-hot, rows
        L1-normalised. ``item_feature_names``: array of str (``item:<i>``,
        ``genre:<g>``). ``item_genres``: list of genre index arrays per item.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}.")
    if interactions_per_user < 2 or interactions_per_user > n_items:
        raise ValueError(
            f"interactions_per_user must be in [2, n_items={n_items}], "
            f"got {interactions_per_user}."
        )
    rng = np.random.default_rng(random_state)
    n_item_genres = rng.integers(1, 4, size=n_items)
    item_genres = [rng.choice(n_genres, size=k, replace=False) for k in n_item_genres]
    genre_matrix = np.zeros((n_items, n_genres), dtype=np.float32)
    for item, genres in enumerate(item_genres):
        genre_matrix[item, genres] = 1.0
    user_taste = rng.dirichlet(np.full(n_genres, 0.3), size=n_users).astype(np.float32)
    popularity = rng.pareto(3.0, size=n_items) + 1.0
    affinity = user_taste @ genre_matrix.T  # (n_users, n_items)
    weights = popularity[None, :] * np.exp(6.0 * affinity)
    # Gumbel top-k: k distinct items per user, drawn proportionally to the weights.
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    chosen = np.argpartition(-keys, interactions_per_user - 1, axis=1)[
        :, :interactions_per_user
    ]
    rows = np.repeat(np.arange(n_users), interactions_per_user)
    cols = chosen.ravel()
    is_test = np.zeros((n_users, interactions_per_user), dtype=bool)
    n_test = max(1, int(round(test_fraction * interactions_per_user)))
    for user in range(n_users):
        is_test[user, rng.choice(interactions_per_user, size=n_test, replace=False)] = True
    is_test = is_test.ravel()
    shape = (n_users, n_items)

    def matrix(mask: np.ndarray) -> sp.coo_matrix:
        return sp.coo_matrix(
            (np.ones(int(mask.sum()), dtype=np.float32), (rows[mask], cols[mask])), shape=shape
        )

    features = sp.hstack(
        [sp.identity(n_items, dtype=np.float32, format="csr"), sp.csr_matrix(genre_matrix)]
    ).tocsr()
    row_sums = np.asarray(features.sum(axis=1)).ravel()
    features = sp.csr_matrix(sp.diags(1.0 / row_sums) @ features, dtype=np.float32)
    names = np.array([f"item:{i}" for i in range(n_items)]
                     + [f"genre:{g}" for g in range(n_genres)], dtype=object)
    return {
        "train": matrix(~is_test),
        "test": matrix(is_test),
        "item_features": features,
        "item_feature_names": names,
        "item_genres": item_genres,
    }
