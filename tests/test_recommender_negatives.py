"""Recommender with negative feedback: ``negatives=`` frames, ``negative_mixing`` and
``num_negative_samples`` passed to the model, validation, persistence."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from hybridrec.recommender import Recommender


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two clusters of 30 users x 100 items (string keys); each user likes 15 items of
    their cluster and dislikes 5 others of it (kept only if somebody likes them, so all
    keys are known): without the dislikes they look like good recommendations."""
    rng = np.random.default_rng(seed)
    likes, dislikes = [], []
    for user in range(60):
        chosen = rng.choice(100, 20, replace=False) + (0 if user < 30 else 100)
        likes += [(f"u{user}", f"i{item}") for item in chosen[:15]]
        dislikes += [(f"u{user}", f"i{item}") for item in chosen[15:]]
    likes = pd.DataFrame(likes, columns=["user_id", "item_id"])
    dislikes = pd.DataFrame(dislikes, columns=["user_id", "item_id"])
    return likes, dislikes[dislikes["item_id"].isin(likes["item_id"])].reset_index(drop=True)


def _dislike_rank(rec: Recommender, dislikes: pd.DataFrame) -> float:
    """Mean rank of the dislikes in each user's full recommendation list (0 = top,
    1 = bottom; seen items excluded)."""
    everything = rec.recommend(k=len(rec.item_mapper_))
    merged = dislikes.merge(everything, left_on=["user_id", "item_id"],
                            right_on=["user", "item"])
    assert len(merged) == len(dislikes)
    lengths = merged["user"].map(everything.groupby("user").size())
    return float(((merged["rank"] - 1) / (lengths - 1)).mean())


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _frames(0)


def test_params_reach_the_model(data):
    likes, _ = data
    assert Recommender().get_params()["num_negative_samples"] == 1
    assert Recommender().get_params()["negative_mixing"] == 0.0
    rec = Recommender(loss="hinge", num_negative_samples=3, negative_mixing=0.25, epochs=1,
                      random_state=0).fit(likes)
    assert rec.model_.num_negative_samples == 3
    assert rec.model_.negative_mixing == 0.25
    with pytest.raises(ValueError, match="negative_mixing must be <= 1"):
        Recommender(negative_mixing=2.0).fit(likes)
    with pytest.raises(ValueError, match="negative_mixing > 0 needs loss in"):
        Recommender(loss="logistic", negative_mixing=0.5).fit(likes)


@pytest.mark.parametrize("loss", ["warp", "warp-kos", "bpr", "logistic"])
def test_dislikes_rank_lower(loss):
    """End to end: the same likes with and without the dislikes. Measured (seeds 0-2,
    20 epochs): warp 0.26-0.27 -> 0.80-0.85 with negative_mixing=0.5, warp-kos
    0.31-0.33 -> 0.74-0.77, bpr 0.24-0.28 -> 0.85; logistic (dislikes as label-0
    examples, no mixing) 0.50-0.55 -> 0.75-0.76."""
    likes, dislikes = _frames(1)
    mixing = 0.0 if loss == "logistic" else 0.5
    plain = Recommender(loss=loss, epochs=20, random_state=0).fit(likes)
    informed = Recommender(loss=loss, negative_mixing=mixing, epochs=20, random_state=0)
    informed.fit(likes, negatives=dislikes)
    before, after = _dislike_rank(plain, dislikes), _dislike_rank(informed, dislikes)
    assert after > before + 0.15, (before, after)


def test_without_mixing_dislikes_change_nothing(data):
    """warp with negative_mixing=0 ignores the dislikes (and says so), bit for bit; an
    empty negatives frame is no dislikes at all."""
    likes, dislikes = data
    reference = Recommender(epochs=2, random_state=0).fit(likes)
    with pytest.warns(UserWarning, match="only with negative_mixing > 0"):
        ignored = Recommender(epochs=2, random_state=0).fit(likes, negatives=dislikes)
    empty = Recommender(epochs=2, random_state=0).fit(likes, negatives=dislikes.iloc[:0])
    for other in (ignored, empty):
        np.testing.assert_array_equal(other.model_.item_embeddings,
                                      reference.model_.item_embeddings)
    assert ignored.negatives_.nnz == len(dislikes)
    assert empty.negatives_.nnz == 0 and reference.negatives_.nnz == 0


def test_negatives_validation(data):
    likes, dislikes = data
    rec = Recommender(negative_mixing=0.5, epochs=1, random_state=0)
    bad_user = pd.concat([dislikes, pd.DataFrame({"user_id": ["nobody"],
                                                  "item_id": ["i1"]})])
    with pytest.raises(ValueError, match=r"negatives\['user_id'\]: 1 unknown user\(s\) "
                                         r"\['nobody'\]"):
        rec.fit(likes, negatives=bad_user)
    bad_item = pd.concat([dislikes, pd.DataFrame({"user_id": ["u1"], "item_id": ["zz"]})])
    with pytest.raises(ValueError, match=r"negatives\['item_id'\]: 1 unknown item"):
        rec.fit(likes, negatives=bad_item)
    liked = pd.concat([dislikes, likes.iloc[[3]]])
    pair = tuple(likes.iloc[3])
    with pytest.raises(ValueError, match=r"negatives: 1 \(user, item\) pair\(s\) are also "
                                         rf"positive interactions: \({pair[0]!r}, "
                                         rf"{pair[1]!r}\)"):
        rec.fit(likes, negatives=liked)
    with pytest.raises(ValueError, match=r"negatives has no column\(s\) \['item_id'\]"):
        rec.fit(likes, negatives=dislikes[["user_id"]])
    with pytest.raises(TypeError, match="negatives must be a pandas.DataFrame"):
        rec.fit(likes, negatives=[("u1", "i2")])
    with pytest.raises(ValueError, match="loss='regression' fits the stored values"):
        Recommender(loss="regression", epochs=1).fit(likes, negatives=dislikes)
    assert not hasattr(rec, "model_")  # every refused fit left the object untouched
    weighted = likes.assign(weight=np.where(np.arange(len(likes)) == 0, -1.0, 1.0))
    with pytest.raises(ValueError, match="must hold non-negative weights.*negatives="):
        rec.fit(weighted, weight_col="weight")


def test_duplicate_dislikes_count_once(data):
    likes, dislikes = data
    rec = Recommender(negative_mixing=0.5, epochs=1, random_state=0)
    rec.fit(likes, negatives=pd.concat([dislikes, dislikes]))
    assert rec.negatives_.nnz == len(dislikes)
    assert set(np.unique(rec.negatives_.data)) == {1.0}


def test_fit_partial_adds_dislikes(data):
    likes, dislikes = data
    first, later = dislikes.iloc[:100], dislikes.iloc[100:]
    # 20 likes held out whose users and items keep other likes (all keys stay known).
    counts = likes["item_id"].map(likes["item_id"].value_counts())
    held = likes[counts >= 2].drop_duplicates("item_id").drop_duplicates("user_id")[:20]
    rec = Recommender(negative_mixing=0.5, epochs=2, random_state=0)
    rec.fit(likes.drop(held.index), negatives=first)
    assert rec.negatives_.nnz == 100
    rec.fit_partial(held, epochs=1, negatives=later)
    assert rec.negatives_.nnz == len(dislikes)
    assert rec.interactions_.nnz == len(likes)
    with pytest.raises(ValueError, match="new_interactions: 1 .* are stored dislikes"):
        rec.fit_partial(dislikes.iloc[[0]])
    with pytest.raises(ValueError, match="negatives: 1 .* also positive interactions"):
        rec.fit_partial(likes.iloc[:5], negatives=likes.iloc[[0]])
    assert rec.negatives_.nnz == len(dislikes)  # refused calls changed nothing


def test_save_load_and_growth(data, tmp_path):
    likes, dislikes = data
    rec = Recommender(loss="warp-kos", num_negative_samples=2, negative_mixing=0.3,
                      epochs=2, random_state=0).fit(likes, negatives=dislikes)
    path = rec.save(tmp_path / "model.hrec")
    loaded = Recommender.load(path)
    assert loaded.get_params() == rec.get_params()
    assert (loaded.negatives_ != rec.negatives_).nnz == 0
    pd.testing.assert_frame_equal(loaded.recommend(["u1", "u40"], k=5),
                                  rec.recommend(["u1", "u40"], k=5))
    loaded.fold_in(pd.DataFrame({"user_id": ["new"], "item_id": ["i3"]}), epochs=1)
    assert loaded.negatives_.shape == loaded.interactions_.shape == (61, rec.negatives_.shape[1])
    again = Recommender.load(loaded.save(tmp_path / "grown.hrec"))
    assert again.negatives_.nnz == len(dislikes)


def test_fit_with_dislikes_in_parallel(data):
    likes, dislikes = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = Recommender(negative_mixing=0.5, epochs=3, num_threads=2, random_state=0)
        rec.fit(likes, negatives=dislikes)
    assert np.isfinite(rec.model_.item_embeddings).all()
