"""recommend's ranking controls (item biases off, popularity penalty, MMR diversity)
against plain NumPy references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybridrec import Recommender
from hybridrec.data import synthetic

K = 8


@pytest.fixture(scope="module")
def rec():
    data = synthetic(n_users=150, n_items=90, n_interactions=3000, random_state=2)
    return Recommender(no_components=12, epochs=4, random_state=0).fit(data.interactions)


def _reference(rec: Recommender, ranking: np.ndarray, k: int) -> dict:
    """Per user: the top-k item keys of ``ranking`` (users x items), seen items out."""
    seen = rec.interactions_.toarray() > 0
    ranking = np.where(seen, -np.inf, ranking)
    keys = rec.item_mapper_.keys.to_numpy()
    users = rec.user_mapper_.keys.to_numpy()
    return {user: list(keys[np.argsort(-row, kind="stable")[:k]])
            for user, row in zip(users, ranking, strict=True)}


def _parts(rec: Recommender):
    snapshot = rec.scoring_snapshot()
    dots = snapshot.user_vectors.astype(np.float64) @ snapshot.item_vectors.T.astype(np.float64)
    return snapshot, dots


def _lists(frame: pd.DataFrame) -> dict:
    return {user: list(group["item"]) for user, group in frame.groupby("user", sort=False)}


def test_without_item_biases(rec):
    snapshot, dots = _parts(rec)
    out = rec.recommend(k=K, item_biases=False)
    assert _lists(out) == _reference(rec, dots, K)
    # score stays the model's; ranking_score is what ordered the list.
    rows = rec.user_mapper_.transform(out["user"])
    items = rec.item_mapper_.transform(out["item"])
    model = dots[rows, items] + snapshot.item_biases[items] + snapshot.user_biases[rows]
    np.testing.assert_allclose(out["score"], model, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["ranking_score"], dots[rows, items]
                               + snapshot.user_biases[rows], rtol=1e-5, atol=1e-5)
    assert (out.groupby("user")["ranking_score"].diff().dropna() <= 1e-6).all()


def test_popularity_penalty(rec):
    snapshot, dots = _parts(rec)
    counts = np.asarray((rec.interactions_ > 0).sum(axis=0)).ravel()
    for penalty in (0.1, 1.0):
        out = rec.recommend(k=K, popularity_penalty=penalty)
        ranking = dots + snapshot.item_biases - penalty * np.log1p(counts)
        assert _lists(out) == _reference(rec, ranking, K)
    heavy = rec.recommend(k=K, popularity_penalty=5.0)
    plain = rec.recommend(k=K)
    popularity = pd.Series(counts, index=rec.item_mapper_.keys)
    assert popularity[heavy["item"]].mean() < popularity[plain["item"]].mean()


def _mmr_reference(candidates, relevance, unit, k, weight):
    rel = (relevance - relevance.min()) / (relevance.max() - relevance.min())
    chosen, max_sim = [], np.zeros(len(candidates))
    for _ in range(k):
        value = (1 - weight) * rel - weight * max_sim
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        max_sim = np.maximum(max_sim, unit[candidates] @ unit[candidates[best]])
    return [candidates[i] for i in chosen]


def test_diversity_is_maximal_marginal_relevance(rec):
    snapshot, dots = _parts(rec)
    unit = snapshot.item_vectors / np.linalg.norm(snapshot.item_vectors, axis=1,
                                                  keepdims=True)
    seen = rec.interactions_.toarray() > 0
    for weight in (0.3, 0.7):
        out = rec.recommend(k=K, diversity=weight)
        lists = _lists(out)
        for row, user in enumerate(rec.user_mapper_.keys[:25]):
            ranking = np.where(seen[row], -np.inf, dots[row] + snapshot.item_biases)
            pool = np.argsort(-ranking, kind="stable")[:max(3 * K, K + 20)]
            expected = _mmr_reference(pool, ranking[pool], unit, K, weight)
            assert lists[user] == list(rec.item_mapper_.keys[expected]), (user, weight)
    plain = rec.recommend(k=K, diversity=0.0)
    assert "ranking_score" not in plain.columns
    pd.testing.assert_frame_equal(plain, rec.recommend(k=K))

    def intra_similarity(frame):
        values = []
        for _, group in frame.groupby("user"):
            rows = unit[rec.item_mapper_.transform(group["item"])]
            sims = rows @ rows.T
            values.append(sims[np.triu_indices(len(rows), 1)].mean())
        return np.mean(values)

    assert intra_similarity(rec.recommend(k=K, diversity=0.7)) < intra_similarity(plain)


def test_controls_honour_candidates_and_bad_values(rec):
    items = list(rec.item_mapper_.keys[:12])
    out = rec.recommend(k=5, items=items, diversity=0.5, popularity_penalty=0.2)
    assert set(out["item"]) <= set(items)
    with pytest.raises(ValueError, match="popularity_penalty must be a finite number >= 0"):
        rec.recommend(k=3, popularity_penalty=-1)
    with pytest.raises(ValueError, match=r"diversity must be a number in \[0, 1\]"):
        rec.recommend(k=3, diversity=2)
    with pytest.raises(ValueError, match="item_biases must be True or False"):
        rec.recommend(k=3, item_biases="no")
