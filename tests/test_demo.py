"""The README's main command, on small sizes."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd

from hybridrec.data import synthetic


def test_demo_runs_and_reports_metrics():
    result = subprocess.run(
        [sys.executable, "-m", "hybridrec", "demo", "--users", "300", "--items", "200",
         "--epochs", "3"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "popularity baseline" in result.stdout
    assert "LightFM (hybrid: + genres)" in result.stdout
    assert "Top-5 recommendations" in result.stdout
    match = re.search(r"hybrid model (beats|does NOT beat) pure collaborative filtering "
                      r"\(AUC ([0-9.]+) vs ([0-9.]+)\)", result.stdout)
    assert match is not None, result.stdout
    assert match.group(1) == "beats", result.stdout


def test_synthetic_data_frames_and_determinism():
    data = synthetic(n_users=50, n_items=80, n_interactions=500, random_state=1)
    assert list(data.interactions.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert not data.interactions.duplicated(["user_id", "item_id"]).any()
    assert len(data.users) == 50 and len(data.items) == 80
    again = synthetic(n_users=50, n_items=80, n_interactions=500, random_state=1)
    pd.testing.assert_frame_equal(again.interactions, data.interactions)
