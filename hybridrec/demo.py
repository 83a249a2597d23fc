"""The demo: ``python -m hybridrec demo`` trains on the package's synthetic data."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from . import LightFM, __version__
from .data import (
    IdMapper,
    features_from_frame,
    interactions_from_frame,
    per_user_train_test_split,
    synthetic,
)
from .metrics import auc_score, precision_at_k, recall_at_k
from .recommender import Recommender


def _popularity_precision(train, test, k: int) -> float:
    """precision@k of recommending the most popular unseen items (a baseline)."""
    train_csr = train.tocsr()
    test_csr = test.tocsr()
    popularity = np.asarray(train_csr.sum(axis=0)).ravel()
    ranked = np.argsort(-popularity, kind="stable")
    precisions = []
    for user in np.flatnonzero(np.diff(test_csr.indptr)):  # demo-sized: a loop is fine
        seen = set(train_csr.indices[train_csr.indptr[user]:train_csr.indptr[user + 1]])
        top = [item for item in ranked[: k + len(seen)] if item not in seen][:k]
        truth = set(test_csr.indices[test_csr.indptr[user]:test_csr.indptr[user + 1]])
        precisions.append(len(truth.intersection(top)) / k)
    return float(np.mean(precisions))


def demo(args: argparse.Namespace) -> int:
    """Train on synthetic data and print metrics and a few recommendations."""
    print(f"hybridrec {__version__} demo: synthetic data, {args.users} users x "
          f"{args.items} items, loss={args.loss}, {args.epochs} epochs, "
          f"{args.threads} thread(s)")
    data = synthetic(n_users=args.users, n_items=args.items,
                     n_interactions=30 * args.users, random_state=args.seed)
    users = IdMapper(data.users["user_id"])
    items = IdMapper(data.items["item_id"])
    # Hold out 10% of the items entirely: they are cold-start items at test time.
    rng = np.random.default_rng(args.seed)
    cold_keys = data.items["item_id"].to_numpy()[
        rng.random(len(data.items)) < 0.1]
    is_cold = data.interactions["item_id"].isin(cold_keys).to_numpy()
    warm = interactions_from_frame(data.interactions[~is_cold], "user_id", "item_id",
                                   user_mapper=users, item_mapper=items).matrix
    cold_test = interactions_from_frame(data.interactions[is_cold], "user_id", "item_id",
                                        user_mapper=users, item_mapper=items).matrix
    train, test = per_user_train_test_split(warm, test_fraction=0.2,
                                            random_state=args.seed)
    train, test = train.tocsr(), test.tocsr()
    features = features_from_frame(data.items, "item_id", mapper=items,
                                   categorical=["genre"], numeric=["price"],
                                   multi_valued=["tags"])
    n_side = features.shape[1] - features.n_identity
    print(f"train {train.nnz} interactions, test {test.nnz} (warm items), "
          f"cold-item test {cold_test.nnz} ({len(cold_keys)} items never seen in "
          f"training); item features: identity + {n_side} (genre, price bins, tags)")
    k = 10
    print(f"\n{'model':<34}{'fit s':>7}{'P@10':>8}{'R@10':>8}{'AUC':>8}"
          f"{'cold P@10':>11}{'cold AUC':>10}")
    print(f"{'popularity baseline':<34}{'':>7}{_popularity_precision(train, test, k):>8.4f}"
          f"{'':>16}{_popularity_precision(train, cold_test, k):>11.4f}")
    models = {}
    for label, item_features in (("LightFM (collaborative only)", None),
                                 ("LightFM (hybrid: + genres)", features.matrix)):
        model = LightFM(loss=args.loss, no_components=args.components,
                        random_state=args.seed)
        start = time.perf_counter()
        model.fit(train, item_features=item_features, epochs=args.epochs,
                  num_threads=args.threads)
        elapsed = time.perf_counter() - start
        kwargs = dict(item_features=item_features, num_threads=args.threads)
        p = precision_at_k(model, test, train, k=k, **kwargs).mean()
        r = recall_at_k(model, test, train, k=k, **kwargs).mean()
        a = auc_score(model, test, train, **kwargs).mean()
        cold_p = precision_at_k(model, cold_test, train, k=k, **kwargs).mean()
        cold_a = auc_score(model, cold_test, train, **kwargs).mean()
        print(f"{label:<34}{elapsed:>7.2f}{p:>8.4f}{r:>8.4f}{a:>8.4f}"
              f"{cold_p:>11.4f}{cold_a:>10.4f}")
        models[label] = (model, item_features, cold_a)
    cf_cold = models["LightFM (collaborative only)"][2]
    model, item_features, hybrid_cold = models["LightFM (hybrid: + genres)"]
    verdict = "beats" if hybrid_cold > cf_cold else "does NOT beat"
    print(f"\nCold-start items: the hybrid model {verdict} pure collaborative filtering "
          f"(AUC {hybrid_cold:.3f} vs {cf_cold:.3f}): only side features describe items "
          f"without interactions.")
    # The same data through the DataFrame facade: recommendations with explanations.
    coo = train.tocoo()
    train_frame = pd.DataFrame({"user_id": users.inverse_transform(coo.row),
                                "item_id": items.inverse_transform(coo.col)})
    recommender = Recommender(loss=args.loss, no_components=args.components,
                              epochs=args.epochs, num_threads=args.threads,
                              random_state=args.seed)
    recommender.fit(train_frame, item_features=data.items[["item_id", "genre", "price",
                                                           "tags"]])
    genre = dict(zip(data.items["item_id"], data.items["genre"], strict=True))
    cold_set = set(cold_keys.tolist())
    shown = users.inverse_transform(np.arange(3))
    recommendations = recommender.recommend(users=shown, k=5)
    print("\nTop-5 recommendations (Recommender facade, hybrid), unseen items only, each "
          "with the user's most similar past items as the explanation:")
    for user in shown:
        rows = recommendations[recommendations["user"] == user]
        history = train_frame.loc[train_frame["user_id"] == user, "item_id"]
        favourites = pd.Series([genre[i] for i in history]).value_counts().index[:2]
        print(f"  user {user} (favourite genres {list(favourites)}):")
        for item, score in zip(rows["item"], rows["score"], strict=True):
            because = recommender.explain(user, item, n=2)
            reasons = ", ".join(f"{h} ({genre[h]}, sim {s:.2f})" for h, s in
                                zip(because["history_item"], because["similarity"],
                                    strict=True))
            cold = ", cold item" if item in cold_set else ""
            print(f"    {item} ({genre[item]}{cold}) score {score:.2f}  because you liked "
                  f"{reasons}")
    return 0
