"""Compile cost: hybridrec's cold vs warm numba cache, each run in a fresh process.

What is compared
    A child Python process loads MovieLens-100K ``u1.base`` (numpy and scipy are imported
    by then), starts a ``time.perf_counter`` timer, runs ``import hybridrec`` and fits
    ``hybridrec.LightFM(loss="warp")`` (default parameters) for one epoch, and reports the
    seconds to the end of the import and to the end of the fit.

    cold: ``NUMBA_CACHE_DIR`` set to a fresh, empty temporary folder, so every kernel the
          import and the fit need is compiled (numba writes its cache there, not to
          ``hybridrec/kernels/__pycache__``, when the variable is set);
    warm: the same command again with the same ``NUMBA_CACHE_DIR``, so kernels load from
          the cache; median of ``--warm-runs`` runs (default 3).

    The table also shows the fit alone (import+fit - import), the child's whole wall time
    seen from the parent (interpreter start, numpy/scipy import and data loading included)
    and the size of the cache written by the cold run.

Run from the repository root::

    python benchmarks/bench_compile.py
    python benchmarks/bench_compile.py --warm-runs 5 --threads 2 --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import REPO_ROOT, add_data_dir_argument, format_table, print_banner

BENCH_DIR = Path(__file__).resolve().parent

CHILD_CODE = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from _common import load_ml100k_split
train = load_ml100k_split(Path(sys.argv[2]), "u1.base")
n_threads = int(sys.argv[3])
start = time.perf_counter()
import hybridrec
imported = time.perf_counter()
hybridrec.LightFM(loss="warp").fit(train, epochs=1, num_threads=n_threads)
fitted = time.perf_counter()
print(json.dumps({"import": imported - start, "import_fit": fitted - start}))
"""


@dataclass(frozen=True)
class Run:
    """Timings of one child process, in seconds.

    Parameters
    ----------
    import_s : float
        ``import hybridrec``.
    import_fit_s : float
        ``import hybridrec`` + one-epoch fit.
    wall_s : float
        The child's wall time seen from the parent.
    """

    import_s: float
    import_fit_s: float
    wall_s: float


def run_child(cache_dir: Path, data_dir: Path, n_threads: int) -> Run:
    """Run the timed child process with ``NUMBA_CACHE_DIR=cache_dir``.

    Parameters
    ----------
    cache_dir : pathlib.Path
        Numba cache folder for the child.
    data_dir : pathlib.Path
        Folder holding ``ml-100k/``.
    n_threads : int
        ``num_threads`` of the fit.

    Returns
    -------
    Run

    Raises
    ------
    RuntimeError
        If the child fails; its stderr is included.
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    command = [sys.executable, "-c", CHILD_CODE, str(BENCH_DIR), str(data_dir), str(n_threads)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"child process failed (exit {done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(result["import"], result["import_fit"], wall)


def cache_size(cache_dir: Path) -> tuple[int, int]:
    """Count the files and total bytes under ``cache_dir``.

    Parameters
    ----------
    cache_dir : pathlib.Path

    Returns
    -------
    files, size : int
    """
    files = [path for path in cache_dir.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def summary_row(label: str, runs: list[Run]) -> list[str]:
    """Median over ``runs`` of each timing, as table cells.

    Parameters
    ----------
    label : str
        ``"cold"`` or ``"warm"``.
    runs : list of Run

    Returns
    -------
    list of str
        Cells in the order of ``HEADERS``.
    """
    imports = statistics.median(run.import_s for run in runs)
    totals = statistics.median(run.import_fit_s for run in runs)
    fits = statistics.median(run.import_fit_s - run.import_s for run in runs)
    walls = statistics.median(run.wall_s for run in runs)
    return [label, str(len(runs)), f"{imports:.2f}", f"{fits:.2f}", f"{totals:.2f}",
            f"{walls:.2f}"]


HEADERS = ("cache", "runs", "import (s)", "fit 1 epoch (s)", "import+fit (s)",
           "process wall (s)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-runs", type=int, default=3,
                        help="warm-cache runs; the median is reported (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="num_threads of the one-epoch fit (default 1)")
    parser.add_argument("--markdown", action="store_true",
                        help="print a markdown table (for benchmarks/README.md)")
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.warm_runs < 1 or args.threads < 1:
        parser.error(f"--warm-runs and --threads must be at least 1, got {args.warm_runs}, "
                     f"{args.threads}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run one cold and ``--warm-runs`` warm children and print the table.

    Parameters
    ----------
    argv : list of str, optional
        Defaults to ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    print_banner(args.markdown)
    with tempfile.TemporaryDirectory(prefix="hybridrec-numba-cache-") as folder:
        cache_dir = Path(folder)
        cold = run_child(cache_dir, args.data_dir, args.threads)
        files, size = cache_size(cache_dir)
        warm = [run_child(cache_dir, args.data_dir, args.threads)
                for _ in range(args.warm_runs)]
    print(f"hybridrec import + LightFM(loss='warp').fit(ml-100k u1.base, epochs=1, "
          f"num_threads={args.threads}) in fresh processes; cold run wrote {files} cache "
          f"files ({size / 1e6:.1f} MB)\n")
    rows = [summary_row("cold", [cold]), summary_row("warm", warm)]
    print(format_table(HEADERS, rows, args.markdown))


if __name__ == "__main__":
    main()
