"""Fixtures of the Spotlight front-door tests: MovieLens 100K as Spotlight loads it."""

from __future__ import annotations

import pytest

from hybridrec.spotlight.datasets.movielens import get_movielens_dataset
from hybridrec.spotlight.interactions import Interactions
from tests.conftest import shared_data_path


@pytest.fixture
def movielens_100k() -> Interactions:
    """MovieLens 100K from the shared u.data (a fresh object: tests may modify it)."""
    return get_movielens_dataset("100K", path=shared_data_path("ml-100k"))
