"""Serving while training: what isolation costs (memory) and read latency during a fit.

For each data set (the MovieLens-1M-derived RecEraser split; ``--synthetic N`` for N
synthetic interactions from ``hybridrec.data.synthetic``), WARP with 64 components:

1. memory: the peak of Python-tracked allocations (``tracemalloc``; numpy reports its
   buffers there) during one ``LightFM.fit_partial`` epoch, as published for concurrent
   readers (the default) and as a private copy (nothing published: what a Recommender's
   training copy does), beside the model's state size; and during one
   ``Recommender.fit_partial`` (which trains a copy of the published model);
2. latency: ``Recommender.recommend`` for 100 users, k=10, alone and while another thread
   runs ``fit_partial`` (medians of the calls; the kernels of both share the 2 cores and
   numba launches parallel kernels one at a time, so reads wait for the running epoch's
   chunk, not for the whole fit).

Run from the repository root::

    python benchmarks/bench_serving.py [--synthetic 10000000]
"""

from __future__ import annotations

import argparse
import threading
import time
import tracemalloc

import numpy as np
import pandas as pd
from _common import add_data_dir_argument, format_table, load_ml1m_receraser, print_banner

from hybridrec import LightFM, Recommender
from hybridrec import _guard
from hybridrec.data import synthetic


def _frame(matrix) -> pd.DataFrame:
    coo = matrix.tocoo()
    return pd.DataFrame({"user_id": coo.row, "item_id": coo.col})


def _peak(call) -> float:
    """Peak traced allocation (MiB) above the start, during ``call``."""
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - start) / 2**20


def _latency(rec: Recommender, users: np.ndarray, batch: pd.DataFrame, busy: bool,
             rounds: int) -> float:
    """Median seconds of recommend(users, k=10), alone or beside fit_partial calls."""
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            rec.fit_partial(batch, epochs=1, replay=0.0)

    thread = threading.Thread(target=writer) if busy else None
    if thread is not None:
        thread.start()
        time.sleep(0.2)
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            rec.recommend(users, k=10)
            times.append(time.perf_counter() - start)
    finally:
        stop.set()
        if thread is not None:
            thread.join()
    return float(np.median(times))


def measure(name: str, frame: pd.DataFrame, threads: int, rounds: int) -> list[list[str]]:
    interactions = frame
    users = frame["user_id"].unique()[:100]
    rec = Recommender(no_components=64, epochs=1, num_threads=threads, random_state=0)
    rec.fit(interactions)
    state_mib = rec.model_._snapshot().nbytes / 2**20
    matrix = rec.interactions_
    copy = LightFM(no_components=64, loss="warp", random_state=0).fit(matrix, epochs=1,
                                                                      num_threads=threads)

    def shared_fit():
        copy.fit_partial(matrix, epochs=1, num_threads=threads)

    def private_fit():
        with _guard.private(copy):
            copy.fit_partial(matrix, epochs=1, num_threads=threads)

    rows = []
    published, private = [], []
    for _ in range(3):   # interleaved
        published.append(_peak(shared_fit))
        private.append(_peak(private_fit))
    batch = frame.sample(n=min(len(frame), 20_000), random_state=0)
    recommender_peak = _peak(lambda: rec.fit_partial(batch, epochs=1))
    rows.append([name, f"{state_mib:.1f}", f"{np.median(published):.1f}",
                 f"{np.median(private):.1f}", f"{recommender_peak:.1f}"])
    idle = _latency(rec, users, batch, False, rounds)
    busy = _latency(rec, users, batch, True, rounds)
    rows[-1] += [f"{idle * 1e3:.1f}", f"{busy * 1e3:.1f}"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--synthetic", type=int, default=0,
                        help="also a synthetic data set of this many interactions")
    args = parser.parse_args()
    print_banner(markdown=True)
    train, _ = load_ml1m_receraser(args.data_dir)
    rows = measure("ml-1m RecEraser", _frame(train), args.threads, args.rounds)
    if args.synthetic:
        n_users = max(1000, args.synthetic // 50)
        data = synthetic(n_users=n_users, n_items=max(500, n_users // 10),
                         n_interactions=args.synthetic, random_state=0, string_keys=False)
        rows += measure(f"synthetic {args.synthetic:,}",
                        data.interactions[["user_id", "item_id"]], args.threads, args.rounds)
    print(format_table(["data", "model state MiB", "LightFM.fit_partial peak MiB (published)",
                        "same, private copy", "Recommender.fit_partial peak MiB",
                        "recommend(100 users) idle ms", "during fit_partial ms"],
                       rows, markdown=True))


if __name__ == "__main__":
    main()
