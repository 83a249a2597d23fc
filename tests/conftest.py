"""Shared fixtures: tiny synthetic problems and the path to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Path of a file in ../shared/data; skips the test if missing, fails under CI=true."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"required data file {path} is missing"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: data-dependent tests must not be skipped)")
        pytest.skip(message)
    return path


@pytest.fixture
def tiny_interactions() -> sp.coo_matrix:
    """A 12 x 15 implicit matrix with 40 positives (fixed seed)."""
    rng = np.random.default_rng(7)
    cells = rng.choice(12 * 15, size=40, replace=False)
    return sp.coo_matrix(
        (np.ones(40, dtype=np.float32), (cells // 15, cells % 15)), shape=(12, 15)
    )


@pytest.fixture(scope="session")
def ml100k() -> dict:
    """MovieLens 100k u1.base / u1.test as (943, 1682) COO with ratings as values, plus
    genre item features (identity beside the 19 genres, rows L1-normalised)."""
    import pandas as pd

    def load(name: str) -> sp.coo_matrix:
        frame = pd.read_csv(shared_data_path("ml-100k", name), sep="\t", header=None)
        return sp.coo_matrix(
            (frame[2].to_numpy(np.float32), (frame[0].to_numpy() - 1, frame[1].to_numpy() - 1)),
            shape=(943, 1682),
        )

    items = pd.read_csv(shared_data_path("ml-100k", "u.item"), sep="|", header=None,
                        encoding="latin-1")
    genres = sp.csr_matrix(items.iloc[:, -19:].to_numpy(np.float32))
    hybrid = sp.hstack([sp.identity(1682, dtype=np.float32, format="csr"), genres]).tocsr()
    hybrid = sp.csr_matrix(sp.diags(1.0 / np.asarray(hybrid.sum(axis=1)).ravel()) @ hybrid,
                           dtype=np.float32)
    return {"train": load("u1.base"), "test": load("u1.test"), "item_features": hybrid}
