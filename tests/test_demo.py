"""The README's main command, ``python -m hybridrec demo``, as a new user runs it."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec import LightFM
from hybridrec._threads import default_num_threads
from hybridrec.data import synthetic
from hybridrec.demo import DemoSettings, K, cold_chance_precision, cold_precision, make_data

TABLE_ROW = re.compile(r"^(LightFM \([^)]*\))\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+"
                       r"([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", re.MULTILINE)
WARM_UP = re.compile(r"^(compiling kernels once \(cached on disk for later runs\) \.\.\. "
                     r"done: \d+ kernel specialisations? in [0-9.]+ s"
                     r"|kernels loaded from the on-disk cache in [0-9.]+ s \(nothing to "
                     r"compile\))$", re.MULTILINE)


@pytest.fixture(scope="module")
def transcript() -> str:
    """The demo's output with its default options (the README's command)."""
    result = subprocess.run([sys.executable, "-m", "hybridrec", "demo"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _table(transcript: str) -> dict[str, dict[str, float]]:
    names = ("fit_s", "precision", "recall", "auc", "cold_precision", "cold_auc")
    return {label: dict(zip(names, map(float, values), strict=True))
            for label, *values in TABLE_ROW.findall(transcript)}


def test_demo_fit_times_exclude_compilation(transcript):
    # The warm-up ran before the table (compiling the kernels or loading them from the
    # cache, and saying which, with its time) ...
    warm_up = WARM_UP.search(transcript)
    assert warm_up is not None, transcript
    assert warm_up.start() < transcript.index("fit s")
    # ... and left nothing to compile or load for the timed fits (the demo checks with
    # numba's dispatchers and prints a note when anything was).
    assert "first used after the warm-up" not in transcript, transcript
    assert "kernels compiled beforehand" in transcript
    table = _table(transcript)
    assert set(table) == {"LightFM (collaborative only)", "LightFM (hybrid: + genres)"}
    assert all(0 < row["fit_s"] for row in table.values())


def test_demo_uses_every_available_core_by_default(transcript):
    assert f"15 epochs, {default_num_threads()} thread(s)" in transcript.splitlines()[0]


def test_demo_cold_start_column_shows_the_hybrid_model_ranking_cold_items(transcript):
    chance = float(re.search(r"^cold P@10\s+precision@10 when each user ranks only the "
                             r"\d+ cold items \(random ranking: ([0-9.]+)\)$", transcript,
                             re.MULTILINE).group(1))
    assert 0.01 < chance < 0.06
    table = _table(transcript)
    hybrid = table["LightFM (hybrid: + genres)"]
    collaborative = table["LightFM (collaborative only)"]
    # Measured over seeds 0-4 at 1 and 2 threads: hybrid 4.9-5.6x chance, collaborative
    # 0.8-1.2x chance (it knows nothing about items it never saw).
    assert hybrid["cold_precision"] > 3 * chance, transcript
    assert collaborative["cold_precision"] < 1.6 * chance, transcript
    assert hybrid["cold_auc"] > 0.7 and collaborative["cold_auc"] < 0.5
    # Warm-item metrics well above the popularity baseline.
    popularity = float(re.search(r"^popularity baseline\s+([0-9.]+)$", transcript,
                                 re.MULTILINE).group(1))
    assert min(row["precision"] for row in table.values()) > 1.5 * popularity
    match = re.search(r"hybrid model (beats|does NOT beat) pure collaborative filtering "
                      r"\(AUC ([0-9.]+) vs ([0-9.]+), cold P@10 ([0-9.]+) vs ([0-9.]+)\)",
                      transcript)
    assert match is not None and match.group(1) == "beats", transcript


def test_demo_shows_explained_recommendations(transcript):
    assert "Top-5 recommendations" in transcript
    lines = re.findall(r"^    i\d+ \(topic\d+(?:, cold item)?\) score -?[0-9.]+  because you "
                       r"liked i\d+ \(topic\d+, sim -?[0-9.]+\)", transcript, re.MULTILINE)
    assert len(lines) == 15, transcript


@pytest.mark.parametrize("items", [200, 20])      # 20 items: fewer cold items than K
def test_cold_chance_level_is_the_mean_precision_of_random_rankings(items):
    data = make_data(DemoSettings(users=300, items=items, seed=3))
    truth = data.cold_test[:, data.cold_items].toarray() > 0
    truth = truth[truth.any(axis=1)]                 # the users the metric counts
    rng = np.random.default_rng(0)
    means = []
    for _ in range(400):
        order = rng.random(truth.shape).argsort(axis=1)[:, :K]
        hits = np.take_along_axis(truth, order, axis=1).sum(axis=1)
        means.append(np.mean(hits / K))
    error = np.std(means) / np.sqrt(len(means))
    assert abs(np.mean(means) - cold_chance_precision(data, K)) <= 4 * error + 1e-12


@pytest.mark.parametrize("hybrid", [False, True])
def test_cold_precision_ranks_only_the_cold_items(hybrid):
    data = make_data(DemoSettings(users=300, items=200, seed=1))
    features = data.item_features if hybrid else None
    model = LightFM(no_components=8, random_state=0).fit(data.train, item_features=features,
                                                         epochs=3)
    # NumPy reference: every user with cold test items scores the cold items only,
    # takes the top K and counts the hits.
    rows = (data.item_features if hybrid
            else sp.identity(len(data.items), dtype=np.float32, format="csr"))[data.cold_items]
    user_biases, user_vectors = model.get_user_representations()
    item_biases, item_vectors = model.get_item_representations(rows)
    truth = data.cold_test[:, data.cold_items].toarray() > 0
    users = np.flatnonzero(truth.any(axis=1))
    scores = (user_vectors[users] @ item_vectors.T + user_biases[users, None]
              + item_biases[None, :])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    expected = np.mean(np.take_along_axis(truth[users], top, axis=1).sum(axis=1) / K)
    assert cold_precision(model, data, features, K, num_threads=1) == pytest.approx(
        expected, abs=1e-6)


def test_synthetic_data_frames_and_determinism():
    data = synthetic(n_users=50, n_items=80, n_interactions=500, random_state=1)
    assert list(data.interactions.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert not data.interactions.duplicated(["user_id", "item_id"]).any()
    assert len(data.users) == 50 and len(data.items) == 80
    again = synthetic(n_users=50, n_items=80, n_interactions=500, random_state=1)
    pd.testing.assert_frame_equal(again.interactions, data.interactions)
