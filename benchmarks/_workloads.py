"""Workloads of ``run.py``: every dataset as binary train/test CSR matrices (+ item features).

Datasets (read from ``--data-dir``, by default ``../shared/data``; nothing is copied into
the repository):

``ml-100k``
    MovieLens-100K ``u1.base`` / ``u1.test``; every rating counts as a positive (value 1).
``ml-1m-receraser``
    The MovieLens-1M-derived RecEraser split (``train.txt`` / ``test.txt``), positives only.
``ml-latest-small``
    MovieLens "latest small": 100,836 ratings of 610 users. Per-user temporal split: the
    latest 20% of each user's ratings (by timestamp) are test. Item features are
    identity + genres (``movies.csv``) + lower-cased free-text tags (``tags.csv``),
    each row L1-normalised (LightFM's ``Dataset`` convention), built with
    ``hybridrec.data.features_from_frame`` / ``features_from_long_frame`` /
    ``combine_features``.
``stackexchange``
    LightFM's StackExchange CrossValidated set through ``hybridrec.data.fetch_stackexchange``
    (time split, ``test_set_fraction=0.1`` as in LightFM's hybrid example); item features
    identity + question tags (unnormalised, as ``fetch_stackexchange`` returns them).
``synthetic-<size>``
    ``hybridrec.data.synthetic`` at a nominal size (``1M``, ``10M``, ``50M`` drawn
    interactions; repeated pairs dropped, so somewhat fewer remain), ``size / 50`` users and
    ``min(size / 500, 50,000)`` items, int keys; a random 10% of the pairs is test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _common import load_ml1m_receraser, load_ml100k

REAL_DATASETS = ("ml-100k", "ml-1m-receraser", "ml-latest-small", "stackexchange")
SYNTHETIC_SIZES = {"1M": 1_000_000, "10M": 10_000_000, "50M": 50_000_000}


@dataclass(frozen=True)
class Workload:
    """One dataset prepared for every system.

    Parameters
    ----------
    name : str
        Dataset name (``REAL_DATASETS`` or ``synthetic-<size>``).
    train, test : scipy.sparse.csr_matrix
        Binary float32 user x item interactions, sorted indices, disjoint.
    item_features : scipy.sparse.csr_matrix or None
        ``(n_items, n_features)`` float32; None means identity (pure collaborative
        filtering). implicit ignores it.
    description : str
        One line for the report.
    """

    name: str
    train: sp.csr_matrix
    test: sp.csr_matrix
    item_features: sp.csr_matrix | None
    description: str

    @property
    def n_users(self) -> int:
        """Number of users (rows)."""
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return self.train.shape[1]

    @property
    def n_train(self) -> int:
        """Training interactions: the updates of one epoch."""
        return int(self.train.nnz)


def binary_csr(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Stored entries of ``matrix`` as a float32 CSR of ones with sorted int32 indices.

    Parameters
    ----------
    matrix : scipy.sparse matrix

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sum_duplicates()
    csr.data = np.ones_like(csr.data)
    csr.indices = csr.indices.astype(np.int32)
    csr.indptr = csr.indptr.astype(np.int32)
    csr.sort_indices()
    return csr


def _describe(train: sp.csr_matrix, test: sp.csr_matrix, extra: str) -> str:
    return (f"{train.shape[0]:,} users x {train.shape[1]:,} items; train {train.nnz:,}, "
            f"test {test.nnz:,}; {extra}")


def load_ml100k_workload(data_dir: Path) -> Workload:
    """MovieLens-100K ``u1.base`` / ``u1.test``, every rating a positive.

    Parameters
    ----------
    data_dir : pathlib.Path

    Returns
    -------
    Workload
    """
    train, test = (binary_csr(m) for m in load_ml100k(data_dir))
    return Workload("ml-100k", train, test, None,
                    _describe(train, test, "u1.base/u1.test, all ratings positive"))


def load_ml1m_workload(data_dir: Path) -> Workload:
    """The MovieLens-1M-derived RecEraser split.

    Parameters
    ----------
    data_dir : pathlib.Path

    Returns
    -------
    Workload
    """
    train, test = (binary_csr(m) for m in load_ml1m_receraser(data_dir))
    return Workload("ml-1m-receraser", train, test, None,
                    _describe(train, test, "RecEraser train.txt/test.txt"))


def load_latest_small_workload(data_dir: Path) -> Workload:
    """MovieLens latest-small, per-user temporal 80/20 split, genre + tag item features.

    Parameters
    ----------
    data_dir : pathlib.Path

    Returns
    -------
    Workload
    """
    from hybridrec.data import (
        IdMapper,
        combine_features,
        features_from_frame,
        features_from_long_frame,
        interactions_from_frame,
        load_movielens,
        temporal_train_test_split,
    )

    frames = load_movielens(data_dir / "ml-latest-small")
    ratings, items, tags = frames["ratings"], frames["items"], frames["tags"].copy()
    users = IdMapper().fit(ratings["user_id"].unique())
    item_mapper = IdMapper().fit(items["item_id"])
    train_df, test_df = temporal_train_test_split(ratings, "timestamp", test_fraction=0.2,
                                                  user_col="user_id")
    train, test = (
        binary_csr(interactions_from_frame(frame, "user_id", "item_id", user_mapper=users,
                                           item_mapper=item_mapper).matrix)
        for frame in (train_df, test_df)
    )
    tags["tag"] = tags["tag"].astype(str).str.strip().str.lower()
    genres = features_from_frame(items[["item_id", "genres"]], "item_id",
                                 multi_valued=["genres"], mapper=item_mapper,
                                 identity=False, normalize=False)
    tag_features = features_from_long_frame(tags, "item_id", "tag", mapper=item_mapper,
                                             unknown="ignore", identity=False,
                                             normalize=False)
    features = combine_features([genres, tag_features], mapper=item_mapper, identity=True,
                                normalize=True)
    matrix = sp.csr_matrix(features.matrix, dtype=np.float32)
    extra = (f"per-user temporal split (latest 20% of each user's ratings are test); "
             f"item features identity + {matrix.shape[1] - matrix.shape[0]:,} genres/tags")
    return Workload("ml-latest-small", train, test, matrix, _describe(train, test, extra))


def load_stackexchange_workload(data_dir: Path, identity: bool = True,
                                tags: bool = True) -> Workload:
    """StackExchange CrossValidated as in LightFM's hybrid example (time split, 10% test).

    Parameters
    ----------
    data_dir : pathlib.Path
    identity : bool, default True
        Include one indicator feature per question.
    tags : bool, default True
        Include the question tags.

    Returns
    -------
    Workload
    """
    from hybridrec.data import fetch_stackexchange

    data = fetch_stackexchange("crossvalidated", test_set_fraction=0.1,
                               indicator_features=identity, tag_features=tags,
                               path=data_dir / "stackexchange-crossvalidated")
    train, test = binary_csr(data["train"]), binary_csr(data["test"])
    features = sp.csr_matrix(data["item_features"], dtype=np.float32)
    parts = " + ".join(p for p, on in (("identity", identity), ("tags", tags)) if on)
    extra = f"time split (latest 10% of answers are test); item features {parts}"
    return Workload("stackexchange", train, test, features, _describe(train, test, extra))


def synthetic_shape(size: int) -> tuple[int, int]:
    """Users and items of a synthetic workload with ``size`` drawn interactions.

    Parameters
    ----------
    size : int

    Returns
    -------
    n_users, n_items : int
    """
    return max(size // 50, 100), min(max(size // 500, 100), 50_000)


def load_synthetic_workload(label: str) -> Workload:
    """Synthetic implicit feedback from ``hybridrec.data.synthetic``, random 10% test.

    Parameters
    ----------
    label : str
        A key of ``SYNTHETIC_SIZES`` (``"1M"``, ...).

    Returns
    -------
    Workload
    """
    from hybridrec.data import synthetic

    size = SYNTHETIC_SIZES[label]
    n_users, n_items = synthetic_shape(size)
    frame = synthetic(n_users, n_items, size, n_user_features=1, n_item_features=1,
                      random_state=0, string_keys=False).interactions
    rows = frame["user_id"].to_numpy(np.int32)
    cols = frame["item_id"].to_numpy(np.int32)
    del frame
    is_test = np.random.default_rng(0).random(rows.shape[0]) < 0.1
    shape = (n_users, n_items)

    def part(mask: np.ndarray) -> sp.csr_matrix:
        ones = np.ones(int(mask.sum()), dtype=np.float32)
        return binary_csr(sp.coo_matrix((ones, (rows[mask], cols[mask])), shape=shape))

    train, test = part(~is_test), part(is_test)
    return Workload(f"synthetic-{label}", train, test, None,
                    _describe(train, test, f"hybridrec.data.synthetic, {label} drawn, "
                                           "random 10% test"))


def load_workload(name: str, data_dir: Path) -> Workload:
    """Load a workload by name.

    Parameters
    ----------
    name : str
        One of ``REAL_DATASETS`` or ``synthetic-<size>``.
    data_dir : pathlib.Path

    Returns
    -------
    Workload
    """
    loaders = {
        "ml-100k": load_ml100k_workload,
        "ml-1m-receraser": load_ml1m_workload,
        "ml-latest-small": load_latest_small_workload,
        "stackexchange": load_stackexchange_workload,
    }
    if name.startswith("synthetic-"):
        return load_synthetic_workload(name.removeprefix("synthetic-"))
    return loaders[name](data_dir)


# ------------------------------------------------------------ hand-off to child processes


def save_workload(workload: Workload, path: Path) -> None:
    """Write a workload to an ``.npz`` file (for the peak-memory child processes).

    Parameters
    ----------
    workload : Workload
    path : pathlib.Path
    """
    arrays: dict[str, np.ndarray] = {"name": np.array(workload.name),
                                     "description": np.array(workload.description)}
    parts = {"train": workload.train, "test": workload.test,
             "features": workload.item_features}
    for key, matrix in parts.items():
        if matrix is None:
            continue
        arrays.update({f"{key}_data": matrix.data, f"{key}_indices": matrix.indices,
                       f"{key}_indptr": matrix.indptr,
                       f"{key}_shape": np.array(matrix.shape)})
    np.savez(path, **arrays)


def read_workload(path: Path) -> Workload:
    """Read a workload written by :func:`save_workload`.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    Workload
    """
    with np.load(path) as archive:
        def matrix(key: str) -> sp.csr_matrix | None:
            if f"{key}_data" not in archive.files:
                return None
            return sp.csr_matrix((archive[f"{key}_data"], archive[f"{key}_indices"],
                                  archive[f"{key}_indptr"]),
                                 shape=tuple(archive[f"{key}_shape"]))

        return Workload(str(archive["name"]), matrix("train"), matrix("test"),
                        matrix("features"), str(archive["description"]))
