"""Finding and reading local copies of the data sets (no downloads).

Spotlight downloads its data sets as HDF5 files into ``~/spotlight_data``. The front
door reads local copies instead: the publishers' own files (a directory, a zip or the
ratings file itself) or Spotlight's cached HDF5 files (these need ``h5py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...data.datasets import data_home_path

#: Where Spotlight caches its downloads.
SPOTLIGHT_DATA_DIR = Path.home() / "spotlight_data"


def data_home(data_home: str | os.PathLike | None) -> Path:
    """hybridrec's data directory: ``data_home``, ``$HYBRIDREC_DATA`` or ``~/hybridrec_data``."""
    return data_home_path(data_home)


def first_existing(candidates: list[Path]) -> Path | None:
    """The first candidate that exists, or None."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return None


def not_found(what: str, looked: list[Path], how: str) -> FileNotFoundError:
    """A FileNotFoundError naming every place looked at and how to provide the data."""
    places = "\n".join(f"  {place}" for place in looked)
    return FileNotFoundError(
        f"No local copy of {what} found; looked at:\n{places}\n{how}\n"
        "hybridrec never downloads these: pass path=... (the directory, zip or file) or "
        "data_home=... (or set $HYBRIDREC_DATA)."
    )


def read_hdf5(path: Path, keys: tuple[str, ...]) -> list[np.ndarray]:
    """Arrays ``keys`` of an HDF5 file (Spotlight's cached format); needs h5py."""
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            f"{path} is an HDF5 file (Spotlight's download format); reading it needs h5py "
            "(pip install h5py), or point path= at the publisher's files instead."
        ) from error
    with h5py.File(path, "r") as data:
        missing = [key for key in keys if key not in data]
        if missing:
            raise ValueError(f"{path} has no dataset(s) {missing}; found {sorted(data)}.")
        return [data[key][:] for key in keys]
