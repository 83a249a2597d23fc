"""Spotlight's ``spotlight.datasets.amazon``: the Amazon co-purchasing ratings.

Spotlight builds this data set from its own preprocessed ``amazon_co_purchasing.hdf5``
(from the SNAP amazon-meta archive); the front door reads that file from a local copy
(``path``, or Spotlight's cache ``~/spotlight_data/amazon/amazon_co_purchasing.hdf5``)
and needs ``h5py`` for it. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..interactions import Interactions
from . import _local

__all__ = ["get_amazon_dataset"]


def _kept_ids(ids: np.ndarray, min_count: int) -> np.ndarray:
    """The sorted distinct ids occurring at least ``min_count`` times."""
    unique, counts = np.unique(ids, return_counts=True)
    return unique[counts >= min_count]


def get_amazon_dataset(min_user_interactions: int = 10, min_item_interactions: int = 10,
                       path: str | os.PathLike | None = None) -> Interactions:
    """Ratings of Amazon products (SNAP amazon-meta: ~8M ratings of 550k products).

    Users with fewer than ``min_user_interactions`` ratings and items with fewer than
    ``min_item_interactions`` are dropped (independently, on the full data, as in
    Spotlight), then the remaining ids are renumbered ``1 .. n`` in increasing order of
    the original ids (0 stays unused).

    Parameters
    ----------
    min_user_interactions, min_item_interactions : int, default 10
    path : path-like, optional
        Spotlight's ``amazon_co_purchasing.hdf5``.

    Returns
    -------
    Interactions
        ``num_users`` = kept users + 1, ``num_items`` = kept items + 1.

    Raises
    ------
    FileNotFoundError
        If no local copy is found.
    """
    candidates = ([Path(path).expanduser()] if path is not None else
                  [_local.SPOTLIGHT_DATA_DIR / "amazon" / "amazon_co_purchasing.hdf5"])
    found = _local.first_existing(candidates)
    if found is None:
        raise _local.not_found(
            "the Amazon co-purchasing data", candidates,
            "It is Spotlight's preprocessed file (release 0.1.0 of "
            "maciejkula/recommender_datasets, amazon_co_purchasing.hdf5).")
    user_ids, item_ids, ratings, timestamps = _local.read_hdf5(
        found, ("/user_id", "/item_id", "/rating", "/timestamp"))
    kept_users = _kept_ids(user_ids, min_user_interactions)
    kept_items = _kept_ids(item_ids, min_item_interactions)
    keep = np.isin(user_ids, kept_users) & np.isin(item_ids, kept_items)
    # Kept ids are sorted, so their position + 1 is Spotlight's contiguous id.
    users = np.searchsorted(kept_users, user_ids[keep]) + 1
    items = np.searchsorted(kept_items, item_ids[keep]) + 1
    return Interactions(users, items, ratings=ratings[keep], timestamps=timestamps[keep],
                        num_users=len(kept_users) + 1, num_items=len(kept_items) + 1)
