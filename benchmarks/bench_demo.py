"""The demo (``python -m hybridrec demo``): first vs later runs, and 1 vs 2 threads.

What is measured
    runs:    the demo command in child processes sharing one fresh ``NUMBA_CACHE_DIR``:
             the first run compiles every kernel it uses, later ones (``--later-runs``,
             default 2) load them from the cache. Reported per run: the warm-up line
             (compile or cache-load time), the two LightFM fit times of its table, and the
             child's whole wall time seen from the parent.
    threads: in this process, the demo's two fits (collaborative only, hybrid) on the
             demo's default data, with 1 and with every available thread, interleaved
             round by round (``--repeats``, default 7) after an untimed round; medians
             and the ratio. Rounds are interleaved so that load from other processes on
             a shared machine hits both thread counts alike.

Run from the repository root::

    python benchmarks/bench_demo.py                 # both parts
    python benchmarks/bench_demo.py --part threads --repeats 11
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from _common import REPO_ROOT, print_banner, usable_cpus

TABLE_ROW = re.compile(r"^(LightFM \([^)]*\))\s+([0-9.]+)\s", re.MULTILINE)
WARM_UP_LINE = re.compile(r"^(compiling kernels once.*|kernels loaded from.*)$", re.MULTILINE)


def runs(later_runs: int) -> None:
    """First and later runs of the demo in child processes sharing a fresh cache."""
    with tempfile.TemporaryDirectory(prefix="hybridrec-demo-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for run in range(1 + later_runs):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "hybridrec", "demo"], env=env,
                                    cwd=REPO_ROOT, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - start
            warm_up = WARM_UP_LINE.search(result.stdout)
            fits = ", ".join(f"{label} {seconds} s"
                             for label, seconds in TABLE_ROW.findall(result.stdout))
            name = "first run" if run == 0 else f"run {run + 1}"
            print(f"{name}: whole command {wall:.1f} s; "
                  f"{warm_up.group(1) if warm_up else '(no warm-up line)'}; fits: {fits}",
                  flush=True)


def threads(repeats: int) -> None:
    """Median fit times of the demo's two models at 1 and at every available thread."""
    import numba

    from hybridrec.demo import DemoSettings, fit_and_score, make_data

    counts = sorted({1, min(usable_cpus(), numba.config.NUMBA_NUM_THREADS)})
    data = make_data(DemoSettings())
    times: dict[tuple[int, str], list[float]] = {}
    for round_no in range(repeats + 1):
        for count in counts:
            for row in fit_and_score(data, DemoSettings(threads=count)):
                if round_no > 0:
                    times.setdefault((count, row.label), []).append(row.fit_seconds)
    labels = sorted({label for _, label in times})
    for label in labels:
        medians = {count: statistics.median(times[count, label]) for count in counts}
        text = ", ".join(f"{count} thread(s) {medians[count]:.3f} s" for count in counts)
        ratio = (f"; {counts[-1]} vs 1 thread: {medians[1] / medians[counts[-1]]:.2f}x faster"
                 if len(counts) > 1 else "")
        print(f"{label}: median of {repeats} fits (15 epochs): {text}{ratio}", flush=True)
    print(f"load average after the runs: {os.getloadavg()[0]:.1f}")


def main() -> None:
    """Parse the options and run the requested parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["runs", "threads", "both"], default="both")
    parser.add_argument("--later-runs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print_banner()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    if args.part in ("runs", "both"):
        runs(args.later_runs)
    if args.part in ("threads", "both"):
        threads(args.repeats)


if __name__ == "__main__":
    main()
