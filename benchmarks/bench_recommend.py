"""Top-k recommendations for every user: hybridrec vs a LightFM predict() loop, and scale.

What is measured
    1. MovieLens-1M-derived RecEraser split (6,040 users x 3,706 items, 64 components):
       ``Recommender.recommend(k=10)`` for every user (seen items excluded), at 1 and 2
       threads, beside the usual LightFM idiom (one ``predict`` call per user, then
       ``argpartition``) on the same trained embeddings. Correctness column: the share of
       users whose top-10 lists agree.
    2. Scale: ``hybridrec._scoring.top_k`` (the engine under ``recommend``) for
       ``--users`` x ``--items`` random representations (``--components``), 2 threads,
       with peak RSS: scores live only in per-thread tiles (``scoring.top_users``), so
       memory is O(users x (k + components)) + O(threads x tile), never users x items.
       The rate in multiply-adds per second is printed for comparison with sgemm.

Run from the repository root::

    python benchmarks/bench_recommend.py                        # ml-1m + 100k x 100k
    python benchmarks/bench_recommend.py --users 1000000        # the 1M x 100k target
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
from _common import (
    add_data_dir_argument,
    format_table,
    load_ml1m_receraser,
    optional_import,
    print_banner,
    time_interleaved,
)

from hybridrec import Recommender
from hybridrec._scoring import top_k


def _frame(matrix) -> pd.DataFrame:
    coo = matrix.tocoo()
    return pd.DataFrame({"user_id": coo.row, "item_id": coo.col})


def _lightfm_loop(model, n_users: int, n_items: int, seen, k: int) -> np.ndarray:
    """The LightFM idiom: score every item per user, mask seen, take the top k."""
    items = np.arange(n_items, dtype=np.int32)
    out = np.empty((n_users, k), dtype=np.int64)
    for user in range(n_users):
        scores = model.predict(user, items)
        scores[seen.indices[seen.indptr[user]:seen.indptr[user + 1]]] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        out[user] = top[np.argsort(-scores[top], kind="stable")]
    return out


def movielens(args: argparse.Namespace) -> list[list[str]]:
    train, _ = load_ml1m_receraser(args.data_dir)
    train = train.tocsr()
    frame = _frame(train)
    recommender = Recommender(no_components=64, epochs=2, num_threads=2, random_state=0)
    recommender.fit(frame)
    users = recommender.user_mapper_.keys.to_numpy()
    steps = {("hybridrec", t): (lambda t=t: recommender.set_params(num_threads=t)
                                .recommend(k=10)) for t in args.threads}
    lightfm = optional_import("lightfm")
    seen = recommender.interactions_
    n_users, n_items = seen.shape
    if lightfm is not None:
        # The same embeddings in LightFM's own class, in the Recommender's row order.
        theirs = lightfm.LightFM(no_components=64).fit(seen, epochs=0)
        snapshot = recommender.scoring_snapshot()
        theirs.user_biases, theirs.user_embeddings = (snapshot.user_biases,
                                                      snapshot.user_vectors)
        theirs.item_biases, theirs.item_embeddings = (snapshot.item_biases,
                                                      snapshot.item_vectors)
        steps[("LightFM predict loop", 1)] = lambda: _lightfm_loop(theirs, n_users, n_items,
                                                                   seen, 10)
    timings = time_interleaved(steps, args.repeats)
    agreement = "-"
    if lightfm is not None:
        ours = recommender.recommend(k=10)
        ours_items = recommender.item_mapper_.transform(ours["item"].to_numpy())
        ours_items = ours_items.reshape(len(users), 10)
        theirs_items = _lightfm_loop(theirs, n_users, n_items, seen, 10)
        same = np.mean([set(a) == set(b) for a, b in
                        zip(ours_items, theirs_items, strict=True)])
        agreement = f"{same:.4f}"
    rows = []
    for (system, threads), timing in timings.items():
        rows.append(["ml-1m all users, k=10", system, str(threads),
                     f"{timing.median:.3f}", f"{timing.min:.3f}",
                     agreement if system == "hybridrec" else "-", "-"])
    return rows


def scale(args: argparse.Namespace) -> list[list[str]]:
    rng = np.random.default_rng(0)
    users = rng.standard_normal((args.users, args.components), dtype=np.float32)
    items = rng.standard_normal((args.items, args.components), dtype=np.float32)
    biases = np.zeros(args.items, dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    top_k(users[:100], items, biases, np.arange(100), 10, 2)  # compile / warm up
    start = time.perf_counter()
    top_items, _ = top_k(users, items, biases, np.arange(args.users), 10, 2)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert top_items.shape == (args.users, 10) and top_items.min() >= 0
    rate = args.users * args.items * args.components / elapsed / 1e9
    return [[f"synthetic {args.users:,} x {args.items:,} x {args.components}, k=10",
             f"hybridrec top_k ({rate:.0f} GMAD/s)", "2", f"{elapsed:.1f}", "-", "-",
             f"{peak:.0f} MiB (+{peak - before:.0f} over the inputs)"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--skip-movielens", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    add_data_dir_argument(parser)
    args = parser.parse_args()
    print_banner(args.markdown)
    rows = [] if args.skip_movielens else movielens(args)
    rows += scale(args)
    headers = ["workload", "system", "threads", "median s", "min s",
               "top-10 agreement", "peak RSS"]
    print(format_table(headers, rows, args.markdown))


if __name__ == "__main__":
    main()
