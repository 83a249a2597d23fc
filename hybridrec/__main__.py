"""Command line: ``python -m hybridrec demo``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import LightFM, __version__
from .data import (
    IdMapper,
    features_from_frame,
    interactions_from_frame,
    per_user_train_test_split,
    synthetic,
)
from .metrics import auc_score, precision_at_k, recall_at_k


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
    genre = data.items["genre"].to_numpy()
    cold_set = set(cold_keys.tolist())
    segment = data.users["segment"].to_numpy()
    print("\nTop-5 recommendations (hybrid model), unseen items only:")
    for user in range(3):
        scores = model.predict(user, np.arange(len(items)), item_features=item_features)
        scores[train.indices[train.indptr[user]:train.indptr[user + 1]]] = -np.inf
        top = np.argsort(-scores)[:5]
        liked = np.unique(genre[train.indices[train.indptr[user]:train.indptr[user + 1]]],
                          return_counts=True)
        favourites = liked[0][np.argsort(-liked[1])][:2].tolist()
        keys = items.inverse_transform(top)
        print(f"  user {users.inverse_transform([user])[0]} (segment {segment[user]}, "
              f"favourite genres {favourites}): " + ", ".join(
                  f"{key} ({genre[i]}{', cold' if key in cold_set else ''})"
                  for key, i in zip(keys, top, strict=True)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m hybridrec``."""
    parser = argparse.ArgumentParser(prog="python -m hybridrec")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="train on synthetic data and print results")
    demo_parser.add_argument("--users", type=int, default=2000)
    demo_parser.add_argument("--items", type=int, default=1000)
    demo_parser.add_argument("--loss", default="warp",
                             choices=["warp", "bpr", "logistic", "warp-kos"])
    demo_parser.add_argument("--components", type=int, default=32)
    demo_parser.add_argument("--epochs", type=int, default=15)
    demo_parser.add_argument("--threads", type=int, default=1)
    demo_parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args)
    return 2  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":
    sys.exit(main())
