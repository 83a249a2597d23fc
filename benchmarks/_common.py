"""Shared helpers for the benchmark scripts: data loaders, timing, tables, versions banner.

The data are read from ``../shared/data`` next to the repository (override with the
scripts' ``--data-dir``); nothing is copied into the repository. This module imports only
the standard library, numpy and scipy at import time (numba is imported lazily by the
banner), so ``bench_compile.py``'s child processes can use the loaders without paying for
numba before their timer starts.

Importing this module puts the repository root first on ``sys.path``, so the scripts
benchmark the working tree's ``hybridrec`` even when another copy is installed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import scipy
import scipy.sparse as sp

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

ML100K_SHAPE = (943, 1682)
ML1M_SHAPE = (6040, 3706)
N_GENRES = 19


# --------------------------------------------------------------------------- data


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    """Add the shared ``--data-dir`` option to a script's parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The script's parser.
    """
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder holding ml-100k/ and ml-1m-receraser/ (default: {DEFAULT_DATA_DIR})",
    )


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"benchmark data file {path} does not exist; pass --data-dir pointing at the "
            "folder that holds ml-100k/ and ml-1m-receraser/"
        )
    return path


def load_ml100k_split(data_dir: Path, name: str) -> sp.coo_matrix:
    """Read one MovieLens-100K split file (``u1.base``, ``u1.test``, ...).

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``ml-100k/``.
    name : str
        File name inside ``ml-100k/``; tab-separated ``user item rating timestamp``,
        1-based ids.

    Returns
    -------
    scipy.sparse.coo_matrix
        Shape (943, 1682), float32 ratings as values, 0-based int32 ids.
    """
    table = np.loadtxt(_require(data_dir / "ml-100k" / name), dtype=np.int64, delimiter="\t")
    users = (table[:, 0] - 1).astype(np.int32)
    items = (table[:, 1] - 1).astype(np.int32)
    ratings = table[:, 2].astype(np.float32)
    return sp.coo_matrix((ratings, (users, items)), shape=ML100K_SHAPE)


def load_ml100k(data_dir: Path) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """MovieLens-100K ``u1.base`` / ``u1.test`` as (train, test).

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``ml-100k/``.

    Returns
    -------
    train, test : scipy.sparse.coo_matrix
        Shape (943, 1682), float32 ratings as values.
    """
    return load_ml100k_split(data_dir, "u1.base"), load_ml100k_split(data_dir, "u1.test")


def load_ml100k_genres(data_dir: Path) -> sp.csr_matrix:
    """Genre indicators of the MovieLens-100K items from ``u.item``.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``ml-100k/``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (1682, 19), float32 0/1 values; row ``i`` is item id ``i + 1``.
    """
    genres = np.zeros((ML100K_SHAPE[1], N_GENRES), dtype=np.float32)
    text = _require(data_dir / "ml-100k" / "u.item").read_text(encoding="latin-1")
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        genres[int(fields[0]) - 1] = np.asarray(fields[-N_GENRES:], dtype=np.float32)
    return sp.csr_matrix(genres)


def _load_user_lists(path: Path, shape: tuple[int, int]) -> sp.coo_matrix:
    users: list[int] = []
    items: list[int] = []
    for line in _require(path).read_text().splitlines():
        ids = line.split()
        if len(ids) < 2:
            continue
        users.extend([int(ids[0])] * (len(ids) - 1))
        items.extend(int(i) for i in ids[1:])
    data = np.ones(len(users), dtype=np.float32)
    rows = np.asarray(users, dtype=np.int32)
    cols = np.asarray(items, dtype=np.int32)
    return sp.coo_matrix((data, (rows, cols)), shape=shape)


def load_ml1m_receraser(data_dir: Path) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """Load the MovieLens-1M-derived RecEraser split as (train, test).

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``ml-1m-receraser/`` with ``train.txt`` and ``test.txt`` (one line
        per user: ``user_id item_id item_id ...``, 0-based).

    Returns
    -------
    train, test : scipy.sparse.coo_matrix
        Shape (6040, 3706), float32 values 1.0.
    """
    folder = data_dir / "ml-1m-receraser"
    return (
        _load_user_lists(folder / "train.txt", ML1M_SHAPE),
        _load_user_lists(folder / "test.txt", ML1M_SHAPE),
    )


DATASETS: dict[str, Callable[[Path], tuple[sp.coo_matrix, sp.coo_matrix]]] = {
    "ml-100k": load_ml100k,
    "ml-1m-receraser": load_ml1m_receraser,
}


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls, in seconds.

    Parameters
    ----------
    times : tuple of float
        One entry per timed call (warm-up excluded).
    """

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median time in seconds."""
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        """Fastest time in seconds."""
        return min(self.times)


def time_once(fn: Callable[[], object]) -> float:
    """Seconds taken by one call of ``fn``, measured with ``time.perf_counter``.

    Parameters
    ----------
    fn : callable
        Called without arguments.

    Returns
    -------
    float
    """
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """Time ``fn`` after ``warmup`` untimed calls (which trigger numba compilation).

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeats : int
        Number of timed calls.
    warmup : int, default 1
        Number of untimed calls first.

    Returns
    -------
    Timing
    """
    for _ in range(warmup):
        fn()
    return Timing(tuple(time_once(fn) for _ in range(repeats)))


def time_interleaved(
    steps: Mapping[Hashable, Callable[[], object]],
    repeats: int,
    progress: bool = True,
) -> dict[Hashable, Timing]:
    """Time several callables in rounds, so that machine drift hits all of them alike.

    Every callable is called once untimed (warm-up), then ``repeats`` rounds each call
    every callable once, timed.

    Parameters
    ----------
    steps : mapping of key to callable
        Callables taking no arguments.
    repeats : int
        Number of timed rounds.
    progress : bool, default True
        Report each round's duration on stderr.

    Returns
    -------
    dict of key to Timing
    """
    times: dict[Hashable, list[float]] = {key: [] for key in steps}
    for round_no in range(repeats + 1):
        start = time.perf_counter()
        for key, step in steps.items():
            elapsed = time_once(step)
            if round_no > 0:
                times[key].append(elapsed)
        if progress:
            label = "warm-up" if round_no == 0 else f"round {round_no}/{repeats}"
            print(f"  {label}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return {key: Timing(tuple(values)) for key, values in times.items()}


# --------------------------------------------------------------------------- peers


def optional_import(name: str) -> ModuleType | None:
    """Import a peer package if installed, else say it is skipped and return None.

    Parameters
    ----------
    name : str
        Module name, e.g. ``"lightfm"``.

    Returns
    -------
    module or None
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        print(f"note: {name} is not importable ({error}); its rows are skipped", file=sys.stderr)
        return None


# --------------------------------------------------------------------------- banner


def _version(name: str) -> str:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


def _threading_layer() -> str:
    """Numba's threading layer, launching a tiny parallel kernel first if none ran yet."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        pass

    @numba.njit(parallel=True)
    def probe(values: np.ndarray) -> float:
        total = 0.0
        for i in numba.prange(values.shape[0]):
            total += values[i]
        return total

    probe(np.ones(64))
    return numba.threading_layer()


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (falls back to ``platform.processor()``).

    Returns
    -------
    str
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> int:
    """CPUs this process may run on (``nproc``).

    Returns
    -------
    int
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def banner_lines() -> list[str]:
    """Machine and versions, one ``key: value`` per line.

    Returns
    -------
    list of str
    """
    import numba

    import hybridrec

    return [
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"python: {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"cpu: {cpu_model()}; nproc: {usable_cpus()}",
        f"numpy: {np.__version__}; scipy: {scipy.__version__}",
        f"numba: {numba.__version__}; threading layer: {_threading_layer()}; "
        f"NUMBA_NUM_THREADS: {numba.config.NUMBA_NUM_THREADS}",
        f"hybridrec: {hybridrec.__version__} ({Path(hybridrec.__file__).parent})",
        f"lightfm: {_version('lightfm')}; implicit: {_version('implicit')}",
    ]


def print_banner(markdown: bool = False) -> None:
    """Print the versions banner (a fenced block when ``markdown``).

    Parameters
    ----------
    markdown : bool, default False
    """
    lines = banner_lines()
    if markdown:
        lines = ["```", *lines, "```"]
    print("\n".join(lines), end="\n\n", flush=True)


# --------------------------------------------------------------------------- tables


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """Render rows of strings as an aligned text table or a markdown table.

    Parameters
    ----------
    headers : sequence of str
    rows : sequence of sequence of str
        Each row has one entry per header.
    markdown : bool
        Emit a GitHub-flavoured markdown table instead of aligned text.

    Returns
    -------
    str
    """
    if markdown:
        def md_line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        lines = [md_line(headers), "|" + "---|" * len(headers)]
        return "\n".join(lines + [md_line(row) for row in rows])
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))

    return "\n".join([line(headers), line(["-" * width for width in widths])]
                     + [line(row) for row in rows])


def fmt_seconds(seconds: float | None) -> str:
    """Seconds with three significant digits, or ``-`` when missing.

    Parameters
    ----------
    seconds : float or None

    Returns
    -------
    str
    """
    return "-" if seconds is None else f"{seconds:.3g}"


def fmt_ratio(numerator: float | None, denominator: float | None) -> str:
    """``numerator / denominator`` with two decimals, or ``-`` when either is missing.

    Parameters
    ----------
    numerator, denominator : float or None

    Returns
    -------
    str
    """
    if numerator is None or denominator is None or denominator == 0:
        return "-"
    return f"{numerator / denominator:.2f}"

