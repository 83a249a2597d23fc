"""Scale: one epoch of a synthetic 50M-interaction fit, with peak memory.

What it measures: the wall time of ``LightFM.fit(..., epochs=1)`` (validation,
conversion, positives lookup, one Hogwild epoch, the per-epoch state copy and finite
check) and of one further ``fit_partial`` epoch, on a synthetic implicit matrix of
``--interactions`` entries (default 50 million) between ``--users`` users and ``--items``
items with a Zipf-like item popularity; and the process's peak resident memory
(``ru_maxrss``) after generating the data and after each fit. Positions into the
interactions are int64 (no limit at 2**31 - 1 entries; ids are int32, at most 2**31 - 1
users, items or features, guarded in ``hybridrec._validation``); this script shows the
memory per interaction that sizes a machine.

Run::

    python benchmarks/bench_scale.py                 # 50M, warp, 32 components, 2 threads
    python benchmarks/bench_scale.py --interactions 5000000 --loss bpr

Compilation is warmed up on a tiny problem first and not timed.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import _common  # noqa: F401 - puts the working tree's hybridrec first on sys.path
import numba
import numpy as np
import scipy
import scipy.sparse as sp

import hybridrec  # noqa: E402 - after the sys.path set-up below
from hybridrec import LightFM  # noqa: E402


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def synthetic(n_users: int, n_items: int, nnz: int, seed: int) -> sp.coo_matrix:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n_users, size=nnz, dtype=np.int32)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    cdf = np.cumsum(popularity / popularity.sum())
    cols = np.searchsorted(cdf, rng.random(nnz, dtype=np.float32)).astype(np.int32)
    np.minimum(cols, n_items - 1, out=cols)
    return sp.coo_matrix((np.ones(nnz, np.float32), (rows, cols)), shape=(n_users, n_items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=50_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=32)
    parser.add_argument("--loss", default="warp")
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    args = parser.parse_args()
    print(f"hybridrec {hybridrec.__version__}, numba {numba.__version__}, numpy "
          f"{np.__version__}, scipy {scipy.__version__}, Python "
          f"{platform.python_version()}, {numba.config.NUMBA_NUM_THREADS} numba threads")

    LightFM(loss=args.loss, no_components=args.components).fit(  # warm-up / compile
        sp.random(50, 40, density=0.1, random_state=0, format="coo"), num_threads=args.threads)
    print(f"after warm-up: peak RSS {peak_rss_gib():.2f} GiB")

    start = time.perf_counter()
    train = synthetic(args.users, args.items, args.interactions, seed=0)
    print(f"data: {train.nnz:,} interactions, {args.users:,} users x {args.items:,} items "
          f"in {time.perf_counter() - start:.1f} s; peak RSS {peak_rss_gib():.2f} GiB")

    model = LightFM(loss=args.loss, no_components=args.components, random_state=0)
    start = time.perf_counter()
    model.fit(train, epochs=1, num_threads=args.threads)
    fit_time = time.perf_counter() - start
    print(f"fit (1 epoch, {args.loss}, d={args.components}, {args.threads} threads): "
          f"{fit_time:.1f} s; peak RSS {peak_rss_gib():.2f} GiB")

    start = time.perf_counter()
    model.fit_partial(train, epochs=1, num_threads=args.threads)
    partial_time = time.perf_counter() - start
    print(f"fit_partial (1 more epoch): {partial_time:.1f} s; peak RSS "
          f"{peak_rss_gib():.2f} GiB; {args.interactions / partial_time / 1e6:.2f} M "
          "interactions/s")

    names = model._state_names()
    state_bytes = sum(getattr(model, name).nbytes for name in names)
    backup = {name: np.empty_like(getattr(model, name)) for name in names}
    start = time.perf_counter()
    for name in names:
        np.copyto(backup[name], getattr(model, name))
    copy_time = time.perf_counter() - start
    start = time.perf_counter()
    healthy = model._is_healthy()
    check_time = time.perf_counter() - start
    print(f"model state: {state_bytes / 2**20:.0f} MiB in 12 arrays; per-epoch rollback copy "
          f"{copy_time * 1e3:.0f} ms, finite check {check_time * 1e3:.0f} ms "
          f"({100 * (copy_time + check_time) / partial_time:.1f}% of an epoch); "
          f"healthy={healthy}")


if __name__ == "__main__":
    main()
