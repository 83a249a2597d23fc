"""All-users top-k on a Dask cluster (hybridrec.distributed) vs the single-process path.

What is measured
    A Recommender over ``--users`` x ``--items`` (default 2,000,000 x 50,000, 64
    components; trained one epoch on two synthetic interactions per user, which is
    enough for the scoring cost, independent of the values), then top-``--k`` for every
    user, seen items excluded, by

    1. ``Recommender.recommend(k=...)`` in this process with ``--threads`` numba threads;
    2. ``recommend_dask`` on a ``distributed.LocalCluster`` of ``--workers`` processes x
       ``--threads-per-worker`` (or on ``--scheduler ADDRESS``, a real cluster), the
       result written with ``to_parquet`` by the workers (``--sink parquet``, the way a
       batch job hands results on) or gathered into this process (``--sink memory``).

    Reported: median wall time over ``--repeats`` (the two paths interleaved), the
    overhead ratio dask / single process, peak RSS of this process during the single
    path (sampled) and of each worker (its RSS once the snapshot arrived, and its peak
    during the runs, sampled every 20 ms). With ``--verify`` the dask result is compared
    with the single-process one (equal, row for row).

Run from the repository root (needs the dask extra: pip install -e ".[dask]")::

    python benchmarks/bench_dask.py                             # the 2M x 50k workload
    python benchmarks/bench_dask.py --users 200000 --verify     # a quick check
    python benchmarks/bench_dask.py --scheduler tcp://10.0.0.5:8786   # a real cluster
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import format_table, print_banner

from hybridrec import Recommender


def _rss_mib() -> float:
    """Current resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Samples this process' RSS every 20 ms while active: peak minus the start value."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


def _start_worker_sampler(dask_worker) -> float:
    """Sample the worker's RSS every 20 ms from now on (ru_maxrss is no use here: a
    spawned worker reports its parent's peak); returns the current RSS."""
    state = {"peak": _rss_mib()}

    def sample() -> None:
        while True:
            state["peak"] = max(state["peak"], _rss_mib())
            time.sleep(0.02)

    dask_worker.hybridrec_rss = state
    threading.Thread(target=sample, daemon=True).start()
    return state["peak"]


def _worker_peak_mib(dask_worker) -> float:
    return max(dask_worker.hybridrec_rss["peak"], _rss_mib())


def build_model(n_users: int, n_items: int, components: int, threads: int) -> Recommender:
    """A fitted Recommender with every user and item known (2 interactions per user)."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(n_users, dtype=np.int64), 2)
    items = rng.integers(0, n_items, size=users.shape[0])
    items[:n_items] = np.arange(n_items)  # every item appears
    frame = pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates()
    model = Recommender(no_components=components, epochs=1, num_threads=threads,
                        random_state=0)
    return model.fit(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2,
                        help="numba threads of the single-process path")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--partition-users", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sink", choices=("parquet", "memory"), default="parquet")
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler (default: LocalCluster)")
    parser.add_argument("--verify", action="store_true",
                        help="check the dask result equals the single-process one")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    import dask.dataframe as dd
    import distributed

    from hybridrec.distributed import recommend_dask, scatter_recommender

    print_banner(args.markdown)
    start = time.perf_counter()
    model = build_model(args.users, args.items, args.components, args.threads)
    print(f"model: {args.users:,} users x {args.items:,} items x {args.components}, "
          f"built and fitted in {time.perf_counter() - start:.1f} s")

    if args.scheduler:
        cluster = None
        client = distributed.Client(args.scheduler)
    else:
        cluster = distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=args.threads_per_worker,
            processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
            memory_limit=0, silence_logs=50)
        client = distributed.Client(cluster)
    scratch = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    try:
        start = time.perf_counter()
        handle = scatter_recommender(model, client)
        scatter_time = time.perf_counter() - start
        after_scatter = client.run(_start_worker_sampler)
        # Warm up both paths (numba loads its cache in every worker process).
        model.recommend(users=model.user_mapper_.keys[:10], k=args.k)
        warm = dd.from_pandas(pd.Series(model.user_mapper_.keys[:10].to_numpy(),
                                        name="user"), npartitions=2)
        recommend_dask(handle, warm, k=args.k).compute()

        single_times, dask_times, single_peaks = [], [], []
        single = distributed_result = None
        for repeat in range(args.repeats):
            with PeakRss() as rss:
                start = time.perf_counter()
                single = model.recommend(k=args.k)
                single_times.append(time.perf_counter() - start)
            single_peaks.append(rss.peak - rss.start)
            lazy = recommend_dask(handle, k=args.k, partition_users=args.partition_users)
            start = time.perf_counter()
            if args.sink == "parquet":
                target = scratch / f"recs-{repeat}"
                lazy.to_parquet(target, write_index=False)
            else:
                distributed_result = lazy.compute()
            dask_times.append(time.perf_counter() - start)
            print(f"repeat {repeat}: single {single_times[-1]:.1f} s, "
                  f"dask {dask_times[-1]:.1f} s", flush=True)
        worker_peaks = client.run(_worker_peak_mib)

        if args.verify:
            if distributed_result is None:
                # dd.read_parquet keeps the partition order (part.10 after part.9).
                distributed_result = dd.read_parquet(
                    scratch / f"recs-{args.repeats - 1}").compute()
            got = distributed_result.reset_index(drop=True)
            expected = single.astype({"user": got["user"].dtype})
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
            print(f"verified: {len(got):,} rows equal to the single-process result")

        single_median = statistics.median(single_times)
        dask_median = statistics.median(dask_times)
        where = args.scheduler or (f"LocalCluster {args.workers} workers x "
                                   f"{args.threads_per_worker} thread")
        workers = "; ".join(f"{after_scatter[w]:.0f} -> {worker_peaks[w]:.0f}"
                            for w in sorted(worker_peaks))
        rows = [
            ["single process (Recommender.recommend)", f"{args.threads} threads",
             f"{single_median:.1f}", "1.00", f"+{max(single_peaks):.0f} MiB (sampled)"],
            [f"recommend_dask -> {args.sink}", where, f"{dask_median:.1f}",
             f"{dask_median / single_median:.2f}",
             f"per worker {workers} MiB (RSS after scatter -> peak in runs)"],
        ]
        print(f"\nworkload: top-{args.k} for {args.users:,} users x {args.items:,} items x "
              f"{args.components} comps, {args.partition_users:,} users per partition; "
              f"scatter {scatter_time:.1f} s; {args.repeats} repeat(s), medians")
        print(format_table(["path", "where", "wall s", "ratio", "peak memory"], rows,
                           args.markdown))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
