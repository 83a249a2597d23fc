"""The demo: ``python -m hybridrec demo`` trains on the package's synthetic data.

It first runs its own pipeline on tiny data, so numba compiles (first run on a machine)
or loads from its cache (later runs) every kernel the real run uses, and says which, with
its time; the fit times in the table are then warm.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import LightFM, __version__
from ._threads import check_num_threads, default_num_threads
from ._warmup import compile_phrase, specialisations, warm_up, watch_kernels
from .data import (
    IdMapper,
    SyntheticData,
    features_from_frame,
    interactions_from_frame,
    per_user_train_test_split,
    synthetic,
)
from .metrics import auc_score, precision_at_k, recall_at_k
from .recommender import Recommender

#: Cut-off of the ranking metrics.
K = 10
#: Share of the items held out of training entirely (the cold-start items).
COLD_SHARE = 0.1
#: Size of the warm-up run: big enough that every branch the real run takes is taken
#: (at least ``K`` cold items), small enough to take milliseconds once compiled.
WARM_UP_USERS, WARM_UP_ITEMS = 60, 200


@dataclass(frozen=True)
class DemoSettings:
    """The command line's options."""

    users: int = 2000
    items: int = 1000
    loss: str = "warp"
    components: int = 32
    epochs: int = 15
    threads: int = 1               # the command defaults to default_num_threads()
    seed: int = 0


@dataclass
class DemoData:
    """Synthetic interactions split into train / warm test / cold test, and features."""

    frames: SyntheticData          # the frames: interactions, users, items
    users: IdMapper
    items: IdMapper
    train: sp.csr_matrix
    test: sp.csr_matrix            # held-out interactions with warm items
    cold_test: sp.csr_matrix       # every interaction with a cold item
    cold_items: np.ndarray         # int32 indices of the cold items
    item_features: sp.csr_matrix   # identity + genre, price bins, tags
    n_side_features: int


@dataclass
class ModelRow:
    """One row of the results table."""

    label: str
    fit_seconds: float
    precision: float
    recall: float
    auc: float
    cold_precision: float
    cold_auc: float


def make_data(settings: DemoSettings) -> DemoData:
    """Synthetic data with 10% of the items never seen in training (cold start)."""
    frames = synthetic(n_users=settings.users, n_items=settings.items,
                       n_interactions=30 * settings.users, random_state=settings.seed)
    users = IdMapper(frames.users["user_id"])
    items = IdMapper(frames.items["item_id"])
    rng = np.random.default_rng(settings.seed)
    cold_keys = frames.items["item_id"].to_numpy()[rng.random(len(frames.items)) < COLD_SHARE]
    is_cold = frames.interactions["item_id"].isin(cold_keys).to_numpy()
    warm = interactions_from_frame(frames.interactions[~is_cold], "user_id", "item_id",
                                   user_mapper=users, item_mapper=items).matrix
    cold_test = interactions_from_frame(frames.interactions[is_cold], "user_id", "item_id",
                                        user_mapper=users, item_mapper=items).matrix
    train, test = per_user_train_test_split(warm, test_fraction=0.2,
                                            random_state=settings.seed)
    features = features_from_frame(frames.items, "item_id", mapper=items,
                                   categorical=["genre"], numeric=["price"],
                                   multi_valued=["tags"])
    return DemoData(frames=frames, users=users, items=items, train=train.tocsr(),
                    test=test.tocsr(), cold_test=cold_test.tocsr(),
                    cold_items=np.sort(items.transform(cold_keys)).astype(np.int32),
                    item_features=features.matrix.tocsr(),
                    n_side_features=features.shape[1] - features.n_identity)


def popularity_precision(train: sp.csr_matrix, test: sp.csr_matrix, k: int) -> float:
    """precision@k of recommending the most popular unseen items (a baseline)."""
    popularity = np.asarray(train.sum(axis=0)).ravel()
    ranked = np.argsort(-popularity, kind="stable")
    precisions = []
    for user in np.flatnonzero(np.diff(test.indptr)):  # demo-sized: a loop is fine
        seen = set(train.indices[train.indptr[user]:train.indptr[user + 1]])
        top = [item for item in ranked[: k + len(seen)] if item not in seen][:k]
        truth = set(test.indices[test.indptr[user]:test.indptr[user + 1]])
        precisions.append(len(truth.intersection(top)) / k)
    return float(np.mean(precisions))


def cold_chance_precision(data: DemoData, k: int) -> float:
    """Expected cold precision@k of a random ranking of the cold items.

    A random top-k of ``n`` cold items holds each of a user's ``c`` cold test items with
    probability ``min(k, n) / n``, so its precision@k is ``c min(k, n) / (n k)``, averaged
    over the users with cold test items (the users the metric counts).
    """
    per_user = np.diff(data.cold_test.indptr)
    n = len(data.cold_items)
    return float(np.mean(per_user[per_user > 0]) * min(k, n) / (n * k))


def cold_precision(model: LightFM, data: DemoData, item_features: sp.csr_matrix | None,
                   k: int, num_threads: int) -> float:
    """precision@k of ``model`` when each user ranks only the cold items.

    The cold items' rows of the item features (identity rows for a model without
    features) make a catalogue of just those items, so the metric's ranking, top-k and
    masking run unchanged on it.
    """
    if item_features is None:
        item_features = sp.identity(len(data.items), dtype=np.float32, format="csr")
    cold = data.cold_items
    return float(precision_at_k(model, data.cold_test[:, cold].tocsr(),
                                data.train[:, cold].tocsr(),  # empty: cold items are unseen
                                k=k, item_features=item_features[cold],
                                num_threads=num_threads).mean())


def fit_and_score(data: DemoData, settings: DemoSettings) -> list[ModelRow]:
    """Fit LightFM without and with item features; time the fits and score both."""
    rows = []
    for label, item_features in (("LightFM (collaborative only)", None),
                                 ("LightFM (hybrid: + genres)", data.item_features)):
        model = LightFM(loss=settings.loss, no_components=settings.components,
                        random_state=settings.seed)
        start = time.perf_counter()
        model.fit(data.train, item_features=item_features, epochs=settings.epochs,
                  num_threads=settings.threads)
        elapsed = time.perf_counter() - start
        common = dict(item_features=item_features, num_threads=settings.threads)
        rows.append(ModelRow(
            label=label, fit_seconds=elapsed,
            precision=precision_at_k(model, data.test, data.train, k=K, **common).mean(),
            recall=recall_at_k(model, data.test, data.train, k=K, **common).mean(),
            auc=auc_score(model, data.test, data.train, **common).mean(),
            cold_precision=cold_precision(model, data, item_features, K, settings.threads),
            cold_auc=auc_score(model, data.cold_test, data.train, **common).mean()))
    return rows


def facade_recommendations(data: DemoData, settings: DemoSettings, shown: int = 3,
                           k: int = 5) -> list[tuple]:
    """Fit the DataFrame facade on the same training data; recommend and explain.

    Returns one ``(user, favourite genres, [(item, genre, is cold, score, reasons)])``
    tuple per shown user.
    """
    coo = data.train.tocoo()
    train_frame = pd.DataFrame({"user_id": data.users.inverse_transform(coo.row),
                                "item_id": data.items.inverse_transform(coo.col)})
    recommender = Recommender(loss=settings.loss, no_components=settings.components,
                              epochs=settings.epochs, num_threads=settings.threads,
                              random_state=settings.seed)
    item_frame = data.frames.items
    recommender.fit(train_frame, item_features=item_frame[["item_id", "genre", "price",
                                                           "tags"]])
    genre = dict(zip(item_frame["item_id"], item_frame["genre"], strict=True))
    cold = set(data.items.inverse_transform(data.cold_items).tolist())
    users = data.users.inverse_transform(np.arange(shown))
    recommendations = recommender.recommend(users=users, k=k)
    results = []
    for user in users:
        rows = recommendations[recommendations["user"] == user]
        history = train_frame.loc[train_frame["user_id"] == user, "item_id"]
        favourites = list(pd.Series([genre[i] for i in history]).value_counts().index[:2])
        listed = []
        for item, score in zip(rows["item"], rows["score"], strict=True):
            because = recommender.explain(user, item, n=2)
            reasons = ", ".join(f"{h} ({genre[h]}, sim {s:.2f})" for h, s in
                                zip(because["history_item"], because["similarity"],
                                    strict=True))
            listed.append((item, genre[item], item in cold, score, reasons))
        results.append((user, favourites, listed))
    return results


def _whole_run(settings: DemoSettings) -> None:
    """Everything the demo computes, printing nothing (the warm-up)."""
    data = make_data(settings)
    fit_and_score(data, settings)
    facade_recommendations(data, settings)


def _print_table(data: DemoData, rows: list[ModelRow], settings: DemoSettings) -> None:
    print(f"\n{'model':<34}{'fit s':>7}{'P@10':>8}{'R@10':>8}{'AUC':>8}"
          f"{'cold P@10':>11}{'cold AUC':>10}")
    print(f"{'popularity baseline':<34}{'':>7}"
          f"{popularity_precision(data.train, data.test, K):>8.4f}")
    for row in rows:
        print(f"{row.label:<34}{row.fit_seconds:>7.2f}{row.precision:>8.4f}"
              f"{row.recall:>8.4f}{row.auc:>8.4f}{row.cold_precision:>11.4f}"
              f"{row.cold_auc:>10.4f}")
    chance = cold_chance_precision(data, K)
    print(f"\n{'fit s':<15}wall time of {settings.epochs} epochs on {settings.threads} "
          "thread(s), kernels compiled beforehand")
    print(f"{'P@10 R@10 AUC':<15}held-out interactions with warm items; each user ranks all "
          f"{len(data.items)} items but its training items")
    print(f"{'cold P@10':<15}precision@10 when each user ranks only the "
          f"{len(data.cold_items)} cold items (random ranking: {chance:.4f})")
    print(f"{'cold AUC':<15}a cold item the user chose vs. every item the user has not "
          "seen (random: 0.5)")


def demo(args: argparse.Namespace) -> int:
    """Train on synthetic data and print metrics and a few recommendations."""
    # Checked before the warm-up, so a bad value is reported before any work.
    threads = default_num_threads() if args.threads is None else check_num_threads(args.threads)
    settings = DemoSettings(users=args.users, items=args.items, loss=args.loss,
                            components=args.components, epochs=args.epochs,
                            threads=threads, seed=args.seed)
    thread_note = (" (every core available; --threads 1 makes the run reproducible bit "
                   "for bit)" if args.threads is None and threads > 1 else "")
    print(f"hybridrec {__version__} demo: synthetic data, {settings.users} users x "
          f"{settings.items} items, loss={settings.loss}, {settings.epochs} epochs, "
          f"{threads} thread(s){thread_note}")
    tiny = replace(settings, users=WARM_UP_USERS, items=WARM_UP_ITEMS, epochs=1)
    warm_up(lambda: _whole_run(tiny), stream=sys.stdout)
    data = make_data(settings)
    print(f"train {data.train.nnz} interactions, test {data.test.nnz} (warm items), "
          f"cold-item test {data.cold_test.nnz} ({len(data.cold_items)} items never seen "
          f"in training); item features: identity + {data.n_side_features} (genre, price "
          "bins, tags)")
    with watch_kernels() as timed:
        rows = fit_and_score(data, settings)
    _print_table(data, rows, settings)
    if timed.first_used:
        # The warm-up should have left nothing to load or compile; say so if it did,
        # since the fit times above then include that work.
        what = compile_phrase(timed) if timed.compiled else "loaded from the cache"
        print(f"note: {specialisations(timed.first_used)} first used after the "
              f"warm-up ({what}); the fit times above may include that.")
    collaborative, hybrid = rows
    better = (hybrid.cold_auc > collaborative.cold_auc
              and hybrid.cold_precision > collaborative.cold_precision)
    verdict = "beats" if better else "does NOT beat"
    print(f"\nCold-start items: the hybrid model {verdict} pure collaborative filtering "
          f"(AUC {hybrid.cold_auc:.3f} vs {collaborative.cold_auc:.3f}, cold P@10 "
          f"{hybrid.cold_precision:.3f} vs {collaborative.cold_precision:.3f}): only side "
          "features describe items without interactions.")
    print("\nTop-5 recommendations (Recommender facade, hybrid), unseen items only, each "
          "with the user's most similar past items as the explanation:")
    for user, favourites, listed in facade_recommendations(data, settings):
        print(f"  user {user} (favourite genres {favourites}):")
        for item, genre, is_cold, score, reasons in listed:
            cold = ", cold item" if is_cold else ""
            print(f"    {item} ({genre}{cold}) score {score:.2f}  because you liked "
                  f"{reasons}")
    return 0
