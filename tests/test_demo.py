"""The README's main command, on small sizes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from hybridrec.data import synthetic


def test_demo_runs_and_reports_metrics():
    result = subprocess.run(
        [sys.executable, "-m", "hybridrec", "demo", "--users", "300", "--items", "200",
         "--epochs", "3"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "popularity baseline" in result.stdout
    assert "LightFM (hybrid: + genres)" in result.stdout
    assert "Top-5 recommendations" in result.stdout


def test_synthetic_data_shapes_and_split():
    data = synthetic(n_users=50, n_items=80, interactions_per_user=10, random_state=1)
    train, test = data["train"], data["test"]
    assert train.shape == test.shape == (50, 80)
    assert train.nnz + test.nnz == 500
    assert train.multiply(test).nnz == 0
    features = data["item_features"]
    assert features.shape == (80, 80 + 12)
    np.testing.assert_allclose(np.asarray(features.sum(axis=1)).ravel(), 1.0, rtol=1e-6)
    again = synthetic(n_users=50, n_items=80, interactions_per_user=10, random_state=1)
    assert (again["train"] != train).nnz == 0
