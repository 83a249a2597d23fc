"""Spotlight's ``spotlight.datasets.goodbooks``: Goodbooks-10k, read from a local copy.

The ratings come from the ``ratings.csv`` of https://github.com/zygmuntz/goodbooks-10k
(columns ``user_id,book_id,rating``), or from Spotlight's cached ``goodbooks.hdf5``
(needs ``h5py``). Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..interactions import Interactions
from . import _local

__all__ = ["get_goodbooks_dataset"]


def _read(path: Path) -> Interactions:
    if path.is_dir():
        path = path / "ratings.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path.parent} holds no ratings.csv (Goodbooks-10k).")
    if path.suffix in (".hdf5", ".h5"):
        (ratings,) = _local.read_hdf5(path, ("ratings",))
        users, items, values = ratings[:, 0], ratings[:, 1], ratings[:, 2]
    else:
        frame = pd.read_csv(path)
        missing = [c for c in ("user_id", "book_id", "rating") if c not in frame.columns]
        if missing:
            raise ValueError(f"{path} has no column(s) {missing}; expected Goodbooks-10k's "
                             "user_id,book_id,rating.")
        users, items, values = (frame["user_id"].to_numpy(), frame["book_id"].to_numpy(),
                                frame["rating"].to_numpy())
    # As in Spotlight: the file's row order stands in for time.
    return Interactions(users, items, ratings=np.asarray(values, dtype=np.float32),
                        timestamps=np.arange(len(users), dtype=np.int32))


def get_goodbooks_dataset(path: str | os.PathLike | None = None,
                          data_home: str | os.PathLike | None = None) -> Interactions:
    """The Goodbooks-10k ratings (about 6M ratings of 10k books by 53k users).

    Parameters
    ----------
    path : path-like, optional
        ``ratings.csv``, the directory holding it, or Spotlight's ``goodbooks.hdf5``.
    data_home : path-like, optional
        Looked in for ``goodbooks-10k/ratings.csv`` (default ``$HYBRIDREC_DATA`` or
        ``~/hybridrec_data``); then Spotlight's cache
        ``~/spotlight_data/goodbooks/goodbooks.hdf5``.

    Returns
    -------
    Interactions
        Ids as in the file (1-based), float32 ratings, timestamps ``0 .. n - 1`` in file
        order (the data have no times).

    Raises
    ------
    FileNotFoundError
        If no local copy is found (the message lists where it looked).
    """
    if path is not None:
        location = Path(path).expanduser()
        if not location.exists():
            raise FileNotFoundError(f"path {location} does not exist.")
        return _read(location)
    candidates = [_local.data_home(data_home) / "goodbooks-10k" / "ratings.csv",
                  _local.SPOTLIGHT_DATA_DIR / "goodbooks" / "goodbooks.hdf5"]
    found = _local.first_existing(candidates)
    if found is None:
        raise _local.not_found("Goodbooks-10k", candidates,
                               "Get ratings.csv from https://github.com/zygmuntz/goodbooks-10k.")
    return _read(found)
