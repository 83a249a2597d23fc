"""Spotlight's ``spotlight.datasets.movielens``, reading a local copy of MovieLens.

``get_movielens_dataset(variant)`` returns the ratings as :class:`Interactions` with the
ids as published (MovieLens ids start at 1, so id 0 is unused and free as the sequence
padding value, as in Spotlight's own files: 100K is 944 x 1683), float32 ratings and
int32 timestamps, in the order of the file.

Where the data come from (nothing is downloaded):

* ``path``: a release directory (``ml-100k/`` with ``u.data``, ``ml-1m/`` or
  ``ml-10M100K/`` with ``ratings.dat``, ``ml-20m/`` with ``ratings.csv``), the zip
  GroupLens publishes, the ratings file itself, or Spotlight's cached
  ``movielens_<variant>.hdf5`` (needs ``h5py``);
* otherwise ``<data_home>/<release>/`` or ``<data_home>/<release>.zip``
  (``data_home`` defaults to ``$HYBRIDREC_DATA`` or ``~/hybridrec_data``; for 100K also
  ``fetch_movielens``'s ``<data_home>/movielens100k/ml-100k/``), then Spotlight's cache
  ``~/spotlight_data/movielens/v0.2.0/movielens_<variant>.hdf5``.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..interactions import Interactions
from . import _local

__all__ = ["VARIANTS", "get_movielens_dataset"]

VARIANTS = ("100K", "1M", "10M", "20M")

#: Release directory (as the GroupLens zip extracts) and zip name of each variant.
_RELEASES = {"100K": ("ml-100k", "ml-100k.zip"), "1M": ("ml-1m", "ml-1m.zip"),
             "10M": ("ml-10M100K", "ml-10m.zip"), "20M": ("ml-20m", "ml-20m.zip")}
_RATINGS_FILES = ("u.data", "ratings.dat", "ratings.csv")
_URL = "https://files.grouplens.org/datasets/movielens/"
_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


def _parse(raw: bytes | Path, name: str) -> pd.DataFrame:
    """The four rating columns of a MovieLens ratings file (by its file name's format)."""
    source = io.BytesIO(raw) if isinstance(raw, bytes) else raw
    if name.endswith("u.data"):
        return pd.read_csv(source, sep="\t", header=None, names=_COLUMNS)
    if name.endswith(".dat"):
        # "u::i::r::t": read with ':' as the separator (the C parser), keep every other field.
        frame = pd.read_csv(source, sep=":", header=None)
        frame = frame.iloc[:, 0::2]
        frame.columns = _COLUMNS
        return frame
    if name.endswith(".csv"):
        frame = pd.read_csv(source)
        frame = frame.rename(columns={"userId": "user_id", "movieId": "item_id"})
        missing = [column for column in _COLUMNS if column not in frame.columns]
        if missing:
            raise ValueError(f"{name} has no column(s) {missing}; expected MovieLens' "
                             "userId,movieId,rating,timestamp.")
        return frame[_COLUMNS]
    raise ValueError(f"{name} is not a MovieLens ratings file: expected u.data (100K), "
                     "ratings.dat (1M, 10M) or ratings.csv (20M).")


def _from_zip(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if Path(member).name in _RATINGS_FILES:
                return _parse(archive.read(member), member)
    raise ValueError(f"{path} holds no MovieLens ratings file ({', '.join(_RATINGS_FILES)}).")


def _read(path: Path) -> Interactions:
    """Interactions from a directory, zip, ratings file or Spotlight HDF5 file."""
    if path.is_dir():
        for name in _RATINGS_FILES:
            if (path / name).is_file():
                return _read(path / name)
        raise FileNotFoundError(f"{path} holds no MovieLens ratings file: looked for "
                                f"{', '.join(_RATINGS_FILES)}.")
    if path.suffix in (".hdf5", ".h5"):
        user_ids, item_ids, ratings, timestamps = _local.read_hdf5(
            path, ("/user_id", "/item_id", "/rating", "/timestamp"))
        return Interactions(user_ids, item_ids, ratings=ratings,
                            timestamps=np.asarray(timestamps, dtype=np.int32))
    frame = _from_zip(path) if path.suffix == ".zip" else _parse(path, path.name)
    return Interactions(frame["user_id"].to_numpy(np.int32),
                        frame["item_id"].to_numpy(np.int32),
                        ratings=frame["rating"].to_numpy(np.float32),
                        timestamps=frame["timestamp"].to_numpy(np.int32))


def get_movielens_dataset(variant: str = "100K", path: str | os.PathLike | None = None,
                          data_home: str | os.PathLike | None = None) -> Interactions:
    """One of the MovieLens data sets, read from a local copy.

    Parameters
    ----------
    variant : {'100K', '1M', '10M', '20M'}, default '100K'
    path : path-like, optional
        The release directory, its zip, the ratings file or Spotlight's HDF5 file.
    data_home : path-like, optional
        Directory holding ``<release>/`` or ``<release>.zip`` (see the module docstring).

    Returns
    -------
    Interactions
        Ids as in the files (``num_users`` / ``num_items`` = largest id + 1), float32
        ratings, int32 timestamps, in file order.

    Raises
    ------
    ValueError
        For an unknown variant or a file that is not MovieLens ratings.
    FileNotFoundError
        If no local copy is found (the message lists where it looked).
    """
    if variant not in VARIANTS:
        raise ValueError(f"Variant must be one of {VARIANTS}, got {variant!r}.")
    if path is not None:
        location = Path(path).expanduser()
        if not location.exists():
            raise FileNotFoundError(f"path {location} does not exist.")
        return _read(location)
    folder, archive = _RELEASES[variant]
    home = _local.data_home(data_home)
    candidates = [home / folder, home / archive]
    if variant == "100K":  # hybridrec.data.fetch_movielens's cache layout
        candidates += [home / "movielens100k" / folder, home / "movielens100k" / archive]
    candidates.append(_local.SPOTLIGHT_DATA_DIR / "movielens" / "v0.2.0"
                      / f"movielens_{variant}.hdf5")
    found = _local.first_existing(candidates)
    if found is None:
        raise _local.not_found(
            f"MovieLens {variant}", candidates,
            f"Get {archive} from {_URL} and extract it (or put the zip) in the data home.")
    return _read(found)
