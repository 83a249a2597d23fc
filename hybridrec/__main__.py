"""Command line: ``python -m hybridrec demo``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import LightFM, __version__
from .data import synthetic
from .metrics import auc_score, precision_at_k, recall_at_k


def _popularity_precision(train, test, k: int) -> float:
    """precision@k of recommending the most popular unseen items (a baseline)."""
    train_csr = train.tocsr()
    test_csr = test.tocsr()
    popularity = np.asarray(train_csr.sum(axis=0)).ravel()
    ranked = np.argsort(-popularity, kind="stable")
    precisions = []
    for user in np.flatnonzero(np.diff(test_csr.indptr)):
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
    data = synthetic(n_users=args.users, n_items=args.items, random_state=args.seed)
    train, test, features = data["train"], data["test"], data["item_features"]
    print(f"train {train.nnz} interactions, test {test.nnz}; item features: identity + "
          f"{features.shape[1] - args.items} genres")
    k = 10
    print(f"\n{'model':<34}{'fit s':>7}{'P@10':>8}{'R@10':>8}{'AUC':>8}")
    print(f"{'popularity baseline':<34}{'':>7}{_popularity_precision(train, test, k):>8.4f}")
    models = {}
    for label, item_features in (("LightFM (collaborative only)", None),
                                 ("LightFM (hybrid: + genres)", features)):
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
        print(f"{label:<34}{elapsed:>7.2f}{p:>8.4f}{r:>8.4f}{a:>8.4f}")
        models[label] = (model, item_features)
    model, item_features = models["LightFM (hybrid: + genres)"]
    genres = data["item_genres"]
    train_csr = train.tocsr()
    print("\nTop-5 recommendations (hybrid model), unseen items only:")
    for user in range(3):
        scores = model.predict(user, np.arange(args.items), item_features=item_features)
        scores[train_csr.indices[train_csr.indptr[user]:train_csr.indptr[user + 1]]] = -np.inf
        top = np.argsort(-scores)[:5]
        liked = np.bincount(np.concatenate([genres[i] for i in train_csr[user].indices]),
                            minlength=max(map(max, genres)) + 1)
        print(f"  user {user} (favourite genres {np.argsort(-liked)[:3].tolist()}): " + ", ".join(
            f"item {i} genres {sorted(genres[i].tolist())}" for i in top))
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
