"""Data-layer scale benchmark: string-keyed interaction rows -> CSR.

What is measured: ``hybridrec.data.interactions_from_frame`` on a DataFrame of
``--rows`` interactions (default 10 million) whose user and item keys are strings
(``"u0000123"``, ``"i004567"``), drawn by ``hybridrec.data.synthetic`` (power-law users
and items). The build hashes both key columns into new ``IdMapper`` objects, sums
duplicate pairs and returns a float32 CSR with int32 indices. Target: under 10 s on the
2-core reference machine.

Reported: wall time of each repeat (``time.perf_counter``; the first call is also the
warm-up, there is nothing to compile), the peak memory the build allocates on top of
its input (``tracemalloc``, in a separate run because tracing slows allocation down), the
process' peak RSS (``resource.getrusage``), and a correctness column (shape, nnz and the
sum of the weights equal to the number of rows).

Run from the repository root::

    python benchmarks/bench_data.py                 # 10M rows, 3 repeats
    python benchmarks/bench_data.py --rows 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
from _common import format_table, print_banner

from hybridrec.data import interactions_from_frame, synthetic


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments.

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print_banner(args.markdown)

    start = time.perf_counter()
    data = synthetic(n_users=args.users, n_items=args.items, n_interactions=args.rows,
                     n_user_features=1, n_item_features=1, random_state=0, unique=False)
    frame = data.interactions
    generated = time.perf_counter() - start
    print(f"generated {len(frame):,} rows in {generated:.1f} s; key dtypes "
          f"{frame['user_id'].dtype}/{frame['item_id'].dtype}; frame memory "
          f"{frame.memory_usage(deep=True).sum() / 2**20:,.0f} MiB (deep)")

    times = []
    result = None
    for _ in range(args.repeats):
        result = None
        start = time.perf_counter()
        result = interactions_from_frame(frame, "user_id", "item_id")
        times.append(time.perf_counter() - start)
    matrix = result.matrix
    correct = (matrix.shape == (len(result.user_mapper), len(result.item_mapper))
               and matrix.indices.dtype == np.int32 and matrix.dtype == np.float32
               and int(round(float(matrix.data.sum(dtype=np.float64)))) == len(frame)
               and matrix.has_sorted_indices)
    del result, matrix

    tracemalloc.start()
    traced = interactions_from_frame(frame, "user_id", "item_id")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB

    rows = [[
        f"{len(frame):,}",
        f"{np.median(times):.2f}",
        f"{min(times):.2f}",
        " ".join(f"{t:.2f}" for t in times),
        f"{peak / 2**20:,.0f}",
        f"{max_rss:,.0f}",
        f"{matrix_shape(frame)}",
        "yes" if correct else "NO",
    ]]
    print(format_table(
        ["rows", "median s", "min s", "all s", "build peak MiB (tracemalloc)",
         "process max RSS MiB", "shape", "correct"], rows, args.markdown))
    return 0 if correct else 1


def matrix_shape(frame) -> str:
    """Shape string of the matrix the frame gives (distinct users x distinct items).

    Parameters
    ----------
    frame : pandas.DataFrame
        The interactions.

    Returns
    -------
    str
        ``"n_users x n_items"``.
    """
    return f"{frame['user_id'].nunique():,} x {frame['item_id'].nunique():,}"


if __name__ == "__main__":
    raise SystemExit(main())
