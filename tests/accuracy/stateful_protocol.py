"""The protocol of the stateful-quality checks (issue "Recommender rebuilt"), shared by
``tests/accuracy/test_stateful.py`` and ``benchmarks/bench_stateful.py``.

MovieLens 100k, WARP, 30 components, 15 epochs, a 20% random test split. Entities held
out of the base fit come back through the path under test (fold-in, fit_partial,
add_items, features at fit, recommend with user features) and are compared with the
reference users would compare with: a full retrain, or ``hybridrec.LightFM`` on the
equivalent hand-built feature matrix (identity + side features, L1-normalised).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hybridrec import LightFM, Recommender
from hybridrec.data import features_from_frame, normalize_rows
from hybridrec.metrics import auc_score

PARAMS = dict(loss="warp", no_components=30, epochs=15)


@dataclass
class MovieLens:
    ratings: pd.DataFrame   # user, item, rating
    genres: pd.DataFrame    # item, genres (list of genre names)
    users: pd.DataFrame     # user, gender, age, occupation


def load(folder: Path) -> MovieLens:
    """MovieLens 100k from its files (``u.data``, ``u.item``, ``u.genre``, ``u.user``)."""
    ratings = pd.read_csv(folder / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    names = [line.split("|")[0] for line in
             (folder / "u.genre").read_text(encoding="latin-1").strip().splitlines()]
    items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1")
    flags = items[list(range(5, 24))].to_numpy().astype(bool)
    genres = pd.DataFrame({"item": items[0],
                           "genres": [[g for g, on in zip(names, row, strict=True) if on]
                                      for row in flags]})
    users = pd.read_csv(folder / "u.user", sep="|",
                        names=["user", "age", "gender", "occupation", "zip"])
    return MovieLens(ratings[["user", "item", "rating"]], genres,
                     users[["user", "gender", "age", "occupation"]])


def split(data: MovieLens, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """20% random test split of the ratings."""
    test = np.random.default_rng(seed).random(len(data.ratings)) < 0.2
    return data.ratings[~test], data.ratings[test]


def held_out(data: MovieLens, side: str, n: int, seed: int) -> np.ndarray:
    """``n`` users or items with at least 20 ratings, drawn with ``seed``."""
    counts = data.ratings[side].value_counts()
    eligible = np.sort(counts.index[counts >= 20].to_numpy())
    return np.random.default_rng(seed + (100 if side == "item" else 200)).choice(
        eligible, n, replace=False)


def top10(rec: Recommender, test: pd.DataFrame, new_items: np.ndarray) -> dict[str, float]:
    """precision@10 over the test users (all items, and the old items only) and the new
    items' share of the top-10 slots against their share of the test rows."""
    users = test["user"].unique()
    recs = rec.recommend(users, k=10)
    truth = test[["user", "item"]].drop_duplicates()
    hits = recs.merge(truth, on=["user", "item"])
    is_new = recs["item"].isin(new_items)
    old_recs = rec.recommend(users, k=10, filter_items=new_items)
    old_hits = old_recs.merge(truth, on=["user", "item"])
    return {"precision": len(hits) / (10 * len(users)),
            "old_precision": len(old_hits) / (10 * len(users)),
            "share": float(is_new.mean()),
            "test_share": float(test["item"].isin(new_items).mean())}


def fold_in_items_run(data: MovieLens, seed: int, epochs: int = 5) -> dict[str, dict]:
    """100 items held out of the base fit, folded in from their training rows."""
    train, test = split(data, seed)
    new = held_out(data, "item", 100, seed)
    full = Recommender(**PARAMS, random_state=seed).fit(train, "user", "item")
    rec = Recommender(**PARAMS, random_state=seed).fit(train[~train["item"].isin(new)],
                                                       "user", "item")
    rec.fold_in_items(train[train["item"].isin(new)], epochs=epochs)
    return {"retrain": top10(full, test, new), "folded": top10(rec, test, new)}


def mixed_batch_run(data: MovieLens, seed: int, method: str, epochs: int = 5
                    ) -> dict[str, dict]:
    """Base fitted without 150 users and 100 items; one ``method`` call (fit_partial or
    fold_in) with all their training rows (new users x old items, old users x new
    items, new x new)."""
    train, test = split(data, seed)
    items = held_out(data, "item", 100, seed)
    users = held_out(data, "user", 150, seed)
    held = train["item"].isin(items) | train["user"].isin(users)
    full = Recommender(**PARAMS, random_state=seed).fit(train, "user", "item")
    rec = Recommender(**PARAMS, random_state=seed).fit(train[~held], "user", "item")
    getattr(rec, method)(train[held], epochs=epochs)
    return {"retrain": top10(full, test, items), "updated": top10(rec, test, items)}


def _lightfm_cold_auc(train: pd.DataFrame, cold_rows: pd.DataFrame, side: str,
                      frame: pd.DataFrame, seed: int) -> float:
    """hybridrec.LightFM on the equivalent hand-built matrix: identity + side features
    of every entity of ``side`` (L1-normalised), warm entities first; trained on the
    warm interactions (the cold entities' rows and columns exist but hold none, so
    they are not drawn as negatives); AUC of ``cold_rows`` ranked among all items."""
    key = side
    warm = pd.unique(train[key])
    cold = np.setdiff1d(frame[key].to_numpy(), warm)
    order = np.concatenate([warm, cold])
    other = "item" if side == "user" else "user"
    others = pd.unique(pd.concat([train[other], cold_rows[other]]))
    index = {side: pd.Index(order), other: pd.Index(others)}
    features = features_from_frame(frame.set_index(key).loc[order].reset_index(), key)
    matrix = normalize_rows(features.matrix)
    shape = {"user": None, "item": None}
    shape[side], shape[other] = len(order), len(others)

    def coo(rows: pd.DataFrame, n_side: int) -> sp.coo_matrix:
        r = index["user"].get_indexer(rows["user"])
        c = index["item"].get_indexer(rows["item"])
        dims = (n_side if side == "user" else shape["user"],
                n_side if side == "item" else shape["item"])
        return sp.coo_matrix((np.ones(len(rows), np.float32), (r, c)), shape=dims)

    model = LightFM(loss="warp", no_components=30, random_state=seed)
    side_args = {f"{side}_features": matrix[:len(warm)]}
    model.fit(coo(train, len(warm)), epochs=15, **side_args)
    test = coo(cold_rows, len(order)).tocsr()
    train_full = coo(train, len(order)).tocsr()
    return float(auc_score(model, test, train_full, **{f"{side}_features": matrix}).mean())


def cold_start_run(data: MovieLens, seed: int, side: str) -> dict[str, float]:
    """Cold-start AUC of 100 held-out entities of ``side`` (all their ratings are the
    test) described by their features (items: genres; users: gender, age, occupation):
    added with ``add_items`` / ``add_users``, given only in fit's feature frame, and for
    users ``recommend(user_features=...)`` (checked equal to ``add_users``' lists);
    against hybridrec.LightFM on the equivalent hand-built matrix."""
    other = "item" if side == "user" else "user"
    train, _ = split(data, seed)
    cold = held_out(data, side, 100, seed)
    warm_train = train[~train[side].isin(cold)]
    cold_rows = data.ratings[data.ratings[side].isin(cold)
                             & data.ratings[other].isin(warm_train[other])]
    features = data.genres if side == "item" else data.users
    argument = f"{side}_features"
    added = Recommender(**PARAMS, random_state=seed).fit(
        warm_train, "user", "item", **{argument: features[~features[side].isin(cold)]})
    frame = features[features[side].isin(cold)]
    if side == "user":
        from_features = added.recommend(frame["user"], k=10, user_features=frame)
        added.add_users(frame)
        pd.testing.assert_frame_equal(from_features, added.recommend(frame["user"], k=10))
    else:
        added.add_items(frame)
    at_fit = Recommender(**PARAMS, random_state=seed).fit(warm_train, "user", "item",
                                                          **{argument: features})

    def auc(rec: Recommender) -> float:
        return float(rec.evaluate(cold_rows, metrics=("auc",))["mean"].iloc[0])

    return {"added": auc(added), "features_at_fit": auc(at_fit),
            "lightfm": _lightfm_cold_auc(warm_train, cold_rows, side, features, seed)}
