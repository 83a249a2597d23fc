"""Data sets: LightFM's fetchers, MovieLens DataFrame loaders and a synthetic generator.

Downloads
---------
``fetch_movielens`` and ``fetch_stackexchange`` read from a cache directory
(``data_home``; default ``$HYBRIDREC_DATA`` or ``~/hybridrec_data``) laid out as::

    <data_home>/movielens100k/ml-100k/{ua.base, ua.test, u.item, u.genre}   (extracted)
    <data_home>/movielens100k/ml-100k.zip                                   (or the zip)
    <data_home>/movielens100k/movielens.zip              (or LightFM's cached archive)
    <data_home>/stackexchange/<dataset>/data.npz         (the same name as LightFM's)

LightFM's cache is read as it is: a ``data_home`` that LightFM filled is found with no
download, and without ``data_home`` LightFM's default directory (``~/lightfm_data``) is
searched after hybridrec's own before anything is downloaded (downloads go to
hybridrec's directory; LightFM's is never written to).

A missing file is downloaded (``urllib``, to a ``.part`` file renamed when complete)
unless ``download_if_missing=False``, which raises ``FileNotFoundError`` naming the
path. The ``path`` argument points at a local copy instead (a directory holding the
files, or the file itself), so nothing needs the network.

Checksums: MovieLens 100k comes from GroupLens (``ml-100k.zip``); the four files read
from it are verified against pinned SHA-256 digests (whether from the zip or an
extracted directory). The StackExchange archives come from LightFM's data releases,
whose digests are not published: on download the SHA-256 is written beside the file
(``data.npz.sha256``) and every later load verifies it (trust on first use), and the
archive's keys are checked. A mismatch raises ``ValueError`` and, for a download,
deletes the file so the next call fetches it again.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import is_integer

__all__ = [
    "SyntheticData",
    "data_home_path",
    "fetch_movielens",
    "fetch_stackexchange",
    "load_movielens",
    "synthetic",
]

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
STACKEXCHANGE_URLS = {
    "crossvalidated": ("https://github.com/maciejkula/lightfm_datasets/releases/download/"
                       "v0.1.0/stackexchange_crossvalidated.npz"),
    "stackoverflow": ("https://github.com/maciejkula/lightfm_datasets/releases/download/"
                      "v0.1.0/stackexchange_stackoverflow.npz"),
}
#: SHA-256 of the MovieLens 100k files that ``fetch_movielens`` reads.
MOVIELENS_100K_SHA256 = {
    "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
}
_STACKEXCHANGE_KEYS = ("interactions_row", "interactions_col", "interactions_data",
                       "interactions_shape", "features_row", "features_col",
                       "features_data", "features_shape", "labels")
_ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                  "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
                  "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")


# ------------------------------------------------------------------------- downloads
def data_home_path(data_home: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``data_home``, else ``$HYBRIDREC_DATA``, else ``~/hybridrec_data``.

    Parameters
    ----------
    data_home : path-like, optional
        Explicit directory.

    Returns
    -------
    pathlib.Path
        The directory (not created).
    """
    if data_home is not None:
        return Path(data_home).expanduser().resolve()
    env = os.environ.get("HYBRIDREC_DATA")
    return Path(env).expanduser().resolve() if env else Path.home() / "hybridrec_data"


def lightfm_data_home() -> Path:
    """LightFM's default cache directory (``~/lightfm_data``), searched read-only when no
    ``data_home`` is given.

    Returns
    -------
    pathlib.Path
        The directory (it may not exist).
    """
    return Path.home() / "lightfm_data"


def _find_cached(data_home: str | os.PathLike | None, relative: tuple[str, ...]
                 ) -> Path | None:
    """The first existing ``<home>/<relative>`` for the cache directories in search
    order: ``data_home`` if given, else hybridrec's default and then LightFM's."""
    homes = [data_home_path(data_home)]
    if data_home is None:
        homes.append(lightfm_data_home())
    for home in homes:
        for name in relative:
            candidate = home / name
            if candidate.exists():
                return candidate
    return None


def _sha256(data: bytes | Path) -> str:
    digest = hashlib.sha256()
    if isinstance(data, Path):
        with open(data, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    else:
        digest.update(data)
    return digest.hexdigest()


def _download(url: str, destination: Path, sha256: str | None = None,
              timeout: float = 60.0) -> Path:
    """Download ``url`` to ``destination`` atomically; verify ``sha256`` if given.

    Without a pinned digest the file's digest is stored in ``<destination>.sha256``.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, \
            open(partial, "wb") as handle:
        shutil.copyfileobj(response, handle, length=1 << 20)
    digest = _sha256(partial)
    if sha256 is not None and digest != sha256:
        partial.unlink()
        raise ValueError(f"checksum mismatch for {url}: expected sha256 {sha256}, got "
                         f"{digest}. The download is corrupted; try again.")
    partial.replace(destination)
    if sha256 is None:
        destination.with_name(destination.name + ".sha256").write_text(digest + "\n")
    return destination


def _verify_recorded(path: Path) -> None:
    """Check a file against the digest recorded beside it at download time, if any."""
    record = path.with_name(path.name + ".sha256")
    if record.is_file():
        expected = record.read_text().split()[0]
        actual = _sha256(path)
        if actual != expected:
            raise ValueError(
                f"checksum mismatch for {path}: recorded sha256 {expected}, got {actual}. "
                f"Delete the file (and {record.name}) to download it again."
            )


def _missing(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"Dataset missing: {path} does not exist and download_if_missing=False. "
        f"Download it, pass download_if_missing=True, or point data_home/path at a copy."
    )


# ------------------------------------------------------------------------- MovieLens
def _read_ml100k_members(source: Path, members: tuple[str, ...]) -> dict[str, bytes]:
    """Bytes of ml-100k files from a directory or a zip (``ml-100k/<name>`` inside)."""
    contents = {}
    if source.is_dir():
        for name in members:
            file = source / name
            if not file.is_file():
                raise FileNotFoundError(f"MovieLens 100k file {file} is missing.")
            contents[name] = file.read_bytes()
    else:
        try:
            with zipfile.ZipFile(source) as archive:
                names = {Path(n).name: n for n in archive.namelist()}
                for name in members:
                    if name not in names:
                        raise ValueError(f"{source} has no member {name!r}; is it the "
                                         f"MovieLens 100k archive?")
                    contents[name] = archive.read(names[name])
        except zipfile.BadZipFile as error:
            raise ValueError(f"Corrupted Movielens download: {source} is not a valid zip. "
                             f"Delete it and try again.") from error
    for name, data in contents.items():
        expected = MOVIELENS_100K_SHA256.get(name)
        if expected is not None and _sha256(data) != expected:
            raise ValueError(f"checksum mismatch for MovieLens 100k file {name} in {source}: "
                             f"expected sha256 {expected}, got {_sha256(data)}.")
    return contents


def _movielens_source(data_home: Any, path: Any, download_if_missing: bool) -> Path:
    if path is not None:
        source = Path(path)
        if not source.exists():
            raise FileNotFoundError(f"path {source} does not exist (expected the ml-100k "
                                    f"directory or ml-100k.zip).")
        if source.is_dir() and not (source / "ua.base").exists() and \
                (source / "ml-100k").is_dir():
            source = source / "ml-100k"
        return source
    # hybridrec's extracted folder or zip, then the name LightFM caches its archive under.
    cached = _find_cached(data_home, ("movielens100k/ml-100k", "movielens100k/ml-100k.zip",
                                      "movielens100k/movielens.zip"))
    if cached is not None:
        return cached
    archive = data_home_path(data_home) / "movielens100k" / "ml-100k.zip"
    if not download_if_missing:
        raise _missing(archive)
    return _download(MOVIELENS_100K_URL, archive)


def _ratings_matrix(frame: pd.DataFrame, shape: tuple[int, int],
                    min_rating: float) -> sp.coo_matrix:
    # A repeated (user, item) keeps its last rating, as LightFM's lil assignment does.
    kept = frame[frame["rating"] >= min_rating].drop_duplicates(["user", "item"], keep="last")
    matrix = sp.coo_matrix(
        (kept["rating"].to_numpy(np.int32),
         (kept["user"].to_numpy(np.int32), kept["item"].to_numpy(np.int32))),
        shape=shape,
    ).tocsr()
    return matrix.tocoo()


def fetch_movielens(
    data_home: str | os.PathLike | None = None,
    indicator_features: bool = True,
    genre_features: bool = False,
    min_rating: float = 0.0,
    download_if_missing: bool = True,
    *,
    path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """MovieLens 100k as LightFM's ``fetch_movielens`` returns it (``ua.base``/``ua.test``).

    Parameters
    ----------
    data_home : path-like, optional
        Cache directory (see the module docstring).
    indicator_features : bool
        Include an identity feature per item.
    genre_features : bool
        Include the 19 genre features (``"genre:<name>"``) after the identity block.
    min_rating : float
        Keep ratings ``>= min_rating``.
    download_if_missing : bool
        Download the archive if it is not in the cache.
    path : path-like, optional
        A local ``ml-100k`` directory or ``ml-100k.zip``; no cache, no network.

    Returns
    -------
    dict
        ``train``, ``test``: int32 COO ``(943, 1682)`` holding the ratings;
        ``item_features``: float32 CSR; ``item_feature_labels``: object array;
        ``item_labels``: object array of the full titles (LightFM 1.17 keeps only their
        first character, a regression not reproduced here).

    Raises
    ------
    ValueError
        If both feature flags are False, or the data fail their checksums.
    FileNotFoundError
        If the data are missing and ``download_if_missing`` is False (names the path).
    """
    if not (indicator_features or genre_features):
        raise ValueError("At least one of item_indicator_features or genre_features "
                         "must be True")
    source = _movielens_source(data_home, path, download_if_missing)
    raw = _read_ml100k_members(source, ("ua.base", "ua.test", "u.item", "u.genre"))
    names = ["user", "item", "rating", "timestamp"]
    train_raw = pd.read_csv(io.BytesIO(raw["ua.base"]), sep="\t", header=None, names=names)
    test_raw = pd.read_csv(io.BytesIO(raw["ua.test"]), sep="\t", header=None, names=names)
    for frame in (train_raw, test_raw):
        frame["user"] -= 1
        frame["item"] -= 1
    both = pd.concat([train_raw, test_raw])
    shape = (int(both["user"].max()) + 1, int(both["item"].max()) + 1)
    train = _ratings_matrix(train_raw, shape, min_rating)
    test = _ratings_matrix(test_raw, shape, min_rating)
    genres = pd.read_csv(io.BytesIO(raw["u.genre"]), sep="|", header=None,
                         encoding="latin-1").dropna()
    genre_labels = ("genre:" + genres[0].astype(str)).to_numpy(dtype=object)
    items = pd.read_csv(io.BytesIO(raw["u.item"]), sep="|", header=None, encoding="latin-1")
    n_items = shape[1]
    item_rows = items[0].to_numpy() - 1
    item_labels = np.empty(n_items, dtype=object)
    item_labels[:] = ""
    item_labels[item_rows] = items[1].to_numpy(dtype=object)
    flags = items.iloc[:, 5:5 + len(genre_labels)].to_numpy()
    rows, cols = np.nonzero(flags > 0)
    genre_matrix = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (item_rows[rows], cols)),
        shape=(n_items, len(genre_labels)))
    identity = sp.identity(n_items, format="csr", dtype=np.float32)
    if indicator_features and not genre_features:
        features, labels = identity, item_labels
    elif genre_features and not indicator_features:
        features, labels = genre_matrix, genre_labels
    else:
        features = sp.hstack([identity, genre_matrix], format="csr", dtype=np.float32)
        labels = np.concatenate([item_labels, genre_labels])
    return {"train": train, "test": test, "item_features": features.tocsr(),
            "item_feature_labels": labels, "item_labels": item_labels}


# ----------------------------------------------------------------------- StackExchange
def fetch_stackexchange(
    dataset: str,
    test_set_fraction: float = 0.2,
    min_training_interactions: int = 1,
    data_home: str | os.PathLike | None = None,
    indicator_features: bool = True,
    tag_features: bool = False,
    download_if_missing: bool = True,
    *,
    path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """StackExchange answers as LightFM's ``fetch_stackexchange`` returns them.

    An interaction is a user answering a question. The split is by time: the latest
    ``test_set_fraction`` of answers (by timestamp) are test. Users with no more than
    ``min_training_interactions`` training answers are dropped (LightFM keeps users
    with strictly more).

    Parameters
    ----------
    dataset : {"crossvalidated", "stackoverflow"}
        Which site.
    test_set_fraction : float
        In (0, 1).
    min_training_interactions : int
        Keep users with more than this many training interactions (0 keeps all).
    data_home : path-like, optional
        Cache directory (see the module docstring).
    indicator_features : bool
        Include an identity feature per question (``"question_id:<i>"``).
    tag_features : bool
        Include the tag features after the identity block.
    download_if_missing : bool
        Download the archive if it is not in the cache.
    path : path-like, optional
        A local ``data.npz`` (or a directory holding it); no cache, no network.

    Returns
    -------
    dict
        ``train``, ``test``: float32 COO of ones ``(n_users kept, n_questions)``;
        ``item_features``: float32 CSR; ``item_feature_labels``: array of str.

    Raises
    ------
    ValueError
        Unknown ``dataset``, fraction out of range, both feature flags False, or a
        corrupted archive.
    FileNotFoundError
        If the data are missing and ``download_if_missing`` is False (names the path).
    """
    if not (indicator_features or tag_features):
        raise ValueError("At least one of item_indicator_features or tag_features "
                         "must be True")
    if dataset not in STACKEXCHANGE_URLS:
        raise ValueError(f"Unknown dataset {dataset!r}: use one of "
                         f"{sorted(STACKEXCHANGE_URLS)}.")
    if not 0.0 < test_set_fraction < 1.0:
        raise ValueError(f"Test set fraction must be between 0 and 1, got "
                         f"{test_set_fraction!r}.")
    if path is not None:
        file = Path(path)
        file = file / "data.npz" if file.is_dir() else file
        if not file.is_file():
            raise FileNotFoundError(f"path {file} does not exist (expected data.npz).")
    else:
        file = _find_cached(data_home, (f"stackexchange/{dataset}/data.npz",))
        if file is None:
            file = data_home_path(data_home) / "stackexchange" / dataset / "data.npz"
            if not download_if_missing:
                raise _missing(file)
            _download(STACKEXCHANGE_URLS[dataset], file)
    _verify_recorded(file)
    with np.load(file, allow_pickle=False) as archive:
        absent = [key for key in _STACKEXCHANGE_KEYS if key not in archive.files]
        if absent:
            raise ValueError(f"{file} is not a StackExchange archive: keys {absent} missing.")
        data = {key: archive[key] for key in _STACKEXCHANGE_KEYS}
    interactions = sp.coo_matrix(
        (data["interactions_data"], (data["interactions_row"], data["interactions_col"])),
        shape=tuple(data["interactions_shape"].ravel()))
    interactions.sum_duplicates()
    stamps = interactions.data
    cutoff = np.sort(stamps)[int(len(stamps) * (1.0 - test_set_fraction))]
    in_train = stamps < cutoff

    def ones(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.ones(int(mask.sum()), dtype=np.float32),
             (interactions.row[mask], interactions.col[mask])), shape=interactions.shape)

    train, test = ones(in_train), ones(~in_train)
    if min_training_interactions > 0:
        keep = np.diff(train.indptr) > min_training_interactions
        train, test = train[keep], test[keep]
    n_items = interactions.shape[1]
    id_labels = ("question_id:" + pd.Index(np.arange(n_items)).astype(str)).to_numpy(dtype=str)
    tags = sp.csr_matrix(
        (data["features_data"], (data["features_row"], data["features_col"])),
        shape=tuple(data["features_shape"].ravel()), dtype=np.float32)
    identity = sp.identity(n_items, format="csr", dtype=np.float32)
    if indicator_features and not tag_features:
        features, labels = identity, id_labels
    elif tag_features and not indicator_features:
        features, labels = tags, data["labels"]
    else:
        features = sp.hstack([identity, tags], format="csr", dtype=np.float32)
        labels = np.concatenate([id_labels, data["labels"]])
    return {"train": train.tocoo(), "test": test.tocoo(), "item_features": features,
            "item_feature_labels": labels}


# ---------------------------------------------------------------- MovieLens DataFrames
def _split_genres(series: pd.Series) -> pd.Series:
    """Split ``"A|B"`` into lists; a missing or empty cell becomes NaN (no genres)."""
    series = series.astype(object).where(series.notna() & (series != ""), None)
    return series.str.split("|")


def load_movielens(path: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read a MovieLens release from its directory into DataFrames.

    The format is detected from the files: 100k (``u.data``, ``u.item``, ``u.user``),
    1M (``ratings.dat``, ``movies.dat``, ``users.dat``, ``::``-separated) or the
    "latest" releases (``ratings.csv``, ``movies.csv``, ``tags.csv``). Ids are kept as
    published (1-based ints); map them with :class:`IdMapper`.

    Parameters
    ----------
    path : path-like
        The release directory.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``ratings``: ``user_id, item_id, rating (float32), timestamp (int64 seconds)``;
        ``items``: ``item_id, title, genres (list of str)`` (100k adds ``release_date``);
        ``users`` (100k, 1M): ``user_id, age, gender, occupation, zip_code``;
        ``tags`` (latest): ``user_id, item_id, tag, timestamp``.

    Raises
    ------
    FileNotFoundError
        If ``path`` holds none of the known layouts (names the files looked for).
    """
    folder = Path(path)
    if (folder / "u.data").is_file():
        return _load_100k(folder)
    if (folder / "ratings.dat").is_file():
        return _load_1m(folder)
    if (folder / "ratings.csv").is_file():
        return _load_latest(folder)
    raise FileNotFoundError(f"path {folder} holds no MovieLens ratings: looked for u.data "
                            f"(100k), ratings.dat (1M) and ratings.csv (latest).")


def _ratings_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": frame["user_id"].astype(np.int64),
        "item_id": frame["item_id"].astype(np.int64),
        "rating": frame["rating"].astype(np.float32),
        "timestamp": frame["timestamp"].astype(np.int64),
    })


def _load_100k(folder: Path) -> dict[str, pd.DataFrame]:
    ratings = pd.read_csv(folder / "u.data", sep="\t", header=None,
                          names=["user_id", "item_id", "rating", "timestamp"])
    genre_names = list(_ML100K_GENRES)
    genre_file = folder / "u.genre"
    if genre_file.is_file():
        genre_names = pd.read_csv(genre_file, sep="|", header=None,
                                  encoding="latin-1").dropna()[0].astype(str).tolist()
    columns = ["item_id", "title", "release_date", "video_release_date", "url"] + genre_names
    raw = pd.read_csv(folder / "u.item", sep="|", header=None, names=columns,
                      encoding="latin-1")
    flags = raw[genre_names].to_numpy() > 0
    # Join the names of the set flags without a per-row loop: one string dot product.
    joined = pd.Series(flags.astype(object) @ np.array([g + "|" for g in genre_names],
                                                       dtype=object), dtype=object)
    joined = joined.where(flags.any(axis=1), "").astype(str).str.rstrip("|")
    items = pd.DataFrame({"item_id": raw["item_id"].astype(np.int64),
                          "title": raw["title"].astype(object),
                          "release_date": raw["release_date"],
                          "genres": _split_genres(joined)})
    out = {"ratings": _ratings_frame(ratings), "items": items}
    if (folder / "u.user").is_file():
        out["users"] = pd.read_csv(folder / "u.user", sep="|", header=None,
                                   names=["user_id", "age", "gender", "occupation",
                                          "zip_code"], dtype={"zip_code": str})
    return out


def _read_double_colon(file: Path, names: list[str], dtype: dict | None = None
                       ) -> pd.DataFrame:
    """Read a '::'-separated file whose fields contain no ':' with the C parser."""
    frame = pd.read_csv(file, sep=":", header=None, encoding="latin-1", dtype=dtype and {
        2 * k: t for k, t in enumerate(dtype.get(n) for n in names) if t is not None})
    frame = frame.iloc[:, 0::2]
    frame.columns = names
    return frame


def _load_1m(folder: Path) -> dict[str, pd.DataFrame]:
    ratings = _read_double_colon(folder / "ratings.dat",
                                 ["user_id", "item_id", "rating", "timestamp"])
    lines = pd.read_csv(folder / "movies.dat", sep="\t", header=None, names=["line"],
                        encoding="latin-1", quoting=3)["line"]
    parts = lines.str.split("::", n=2, expand=True)
    items = pd.DataFrame({"item_id": parts[0].astype(np.int64),
                          "title": parts[1].astype(object),
                          "genres": _split_genres(parts[2])})
    out = {"ratings": _ratings_frame(ratings), "items": items}
    if (folder / "users.dat").is_file():
        out["users"] = _read_double_colon(
            folder / "users.dat", ["user_id", "gender", "age", "occupation", "zip_code"],
            dtype={"zip_code": str})[["user_id", "age", "gender", "occupation", "zip_code"]]
    return out


def _load_latest(folder: Path) -> dict[str, pd.DataFrame]:
    ratings = pd.read_csv(folder / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "item_id"})
    movies = pd.read_csv(folder / "movies.csv")
    genres = movies["genres"].where(movies["genres"] != "(no genres listed)")
    items = pd.DataFrame({"item_id": movies["movieId"].astype(np.int64),
                          "title": movies["title"].astype(object),
                          "genres": _split_genres(genres)})
    out = {"ratings": _ratings_frame(ratings), "items": items}
    if (folder / "tags.csv").is_file():
        out["tags"] = pd.read_csv(folder / "tags.csv").rename(
            columns={"userId": "user_id", "movieId": "item_id"})
    return out


# ------------------------------------------------------------------------- synthetic
class SyntheticData(NamedTuple):
    """Frames returned by :func:`synthetic`.

    Attributes
    ----------
    interactions : pandas.DataFrame
        ``user_id, item_id, rating, timestamp``.
    users : pandas.DataFrame
        ``user_id, segment, age, ...`` (one row per user).
    items : pandas.DataFrame
        ``item_id, genre, price, tags, ...`` (one row per item).
    item_topics : numpy.ndarray
        The planted topic of every item (row order of ``items``), for checks.
    """

    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    item_topics: np.ndarray


def _keys(prefix: str, n: int, string_keys: bool) -> np.ndarray:
    if not string_keys:
        return np.arange(n, dtype=np.int64)
    width = len(str(max(n - 1, 0)))
    return (prefix + pd.Index(np.arange(n)).astype(str).str.zfill(width)).to_numpy(
        dtype=object)


def _noisy(rng: np.random.Generator, truth: np.ndarray, levels: int,
           noise: float) -> np.ndarray:
    flip = rng.random(truth.size) < noise
    return np.where(flip, rng.integers(0, levels, size=truth.size), truth)


def synthetic(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 30_000,
    n_user_features: int = 2,
    n_item_features: int = 3,
    random_state: int | np.random.Generator | None = 0,
    *,
    n_topics: int = 12,
    feature_noise: float = 0.1,
    popularity_exponent: float = 1.0,
    unique: bool = True,
    string_keys: bool = True,
) -> SyntheticData:
    """Generate implicit feedback with planted structure and informative side features.

    Every item has a planted topic; every user has two favourite topics. An
    interaction picks a user (activity follows a power law), a topic (the user's first
    favourite with probability 0.6, the second with 0.25, any topic otherwise) and an
    item of that topic (popularity follows a power law, so a few items dominate).
    Item side features reveal the topic (``genre`` equals it up to ``feature_noise``;
    ``price`` depends on it; ``tags`` include it), so a hybrid model can score items
    that never appear in training (cold start), where pure collaborative filtering
    cannot. User side features reveal their favourite topic (``segment``).

    Parameters
    ----------
    n_users, n_items : int
        Numbers of users and items (all appear in ``users``/``items``; some may have
        no interactions).
    n_interactions : int
        Interactions drawn (fewer are returned with ``unique=True``, which drops
        repeated user-item pairs).
    n_user_features : int
        User feature columns: ``segment`` (categorical), ``age`` (numeric), then
        noise columns ``user_attr<k>``. At least 1.
    n_item_features : int
        Item feature columns: ``genre`` (categorical), ``price`` (numeric), ``tags``
        (list of str), then noise columns ``item_attr<k>``. At least 1.
    random_state : int, numpy.random.Generator or None
        Seed.
    n_topics : int
        Planted topics.
    feature_noise : float
        Probability that a feature value is random instead of revealing the topic.
    popularity_exponent : float
        Larger means a more skewed item popularity.
    unique : bool
        Drop repeated (user, item) pairs, keeping the earliest.
    string_keys : bool
        Keys like ``"u0042"``/``"i0007"`` (default) or int64 keys.

    Returns
    -------
    SyntheticData
        ``(interactions, users, items, item_topics)``; ``interactions`` has columns
        ``user_id, item_id, rating (float32, 1-5), timestamp (int64 seconds)``.

    Raises
    ------
    ValueError
        If a size is not positive or ``feature_noise`` is outside [0, 1].
    """
    for name, value in (("n_users", n_users), ("n_items", n_items),
                        ("n_interactions", n_interactions), ("n_topics", n_topics),
                        ("n_user_features", n_user_features),
                        ("n_item_features", n_item_features)):
        if not is_integer(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not 0.0 <= feature_noise <= 1.0:
        raise ValueError(f"feature_noise must be in [0, 1], got {feature_noise!r}.")
    rng = np.random.default_rng(random_state)
    n_topics = min(n_topics, n_items)
    item_topic = rng.integers(0, n_topics, size=n_items)
    item_topic[:n_topics] = np.arange(n_topics)  # every topic has an item
    popularity = (rng.pareto(1.5, size=n_items) + 1.0) ** popularity_exponent
    favourite = rng.integers(0, n_topics, size=n_users)
    second = (favourite + rng.integers(1, max(n_topics, 2), size=n_users)) % n_topics
    activity = rng.pareto(2.0, size=n_users) + 1.0

    # Draw users by activity, then a topic per interaction.
    users = np.searchsorted(np.cumsum(activity), rng.random(n_interactions) * activity.sum())
    users = np.minimum(users, n_users - 1)
    choice = rng.random(n_interactions)
    topic = np.where(choice < 0.6, favourite[users],
                     np.where(choice < 0.85, second[users],
                              rng.integers(0, n_topics, size=n_interactions)))
    # Draw an item of that topic by popularity: items grouped by topic, inverse CDF.
    by_topic = np.argsort(item_topic, kind="stable")
    cumulative = np.cumsum(popularity[by_topic])
    bounds = np.searchsorted(item_topic[by_topic], np.arange(n_topics + 1))
    low = np.where(bounds[topic] > 0, cumulative[np.maximum(bounds[topic] - 1, 0)], 0.0)
    high = cumulative[bounds[topic + 1] - 1]
    position = np.searchsorted(cumulative, low + rng.random(n_interactions) * (high - low),
                               side="right")
    items = by_topic[np.minimum(position, bounds[topic + 1] - 1)]
    start = 1_600_000_000
    timestamps = start + rng.integers(0, 180 * 86_400, size=n_interactions)
    affinity = (topic == favourite[users]).astype(np.float64) + (topic == second[users]) * 0.5
    ratings = np.clip(np.rint(2.5 + 1.5 * affinity + rng.normal(0, 0.8, n_interactions)),
                      1, 5).astype(np.float32)
    if unique:
        order = np.argsort(timestamps, kind="stable")
        key = users[order].astype(np.int64) * n_items + items[order]
        _, first = np.unique(key, return_index=True)
        keep = np.sort(order[first])
        users, items, timestamps, ratings = (users[keep], items[keep], timestamps[keep],
                                             ratings[keep])
    user_keys = _keys("u", n_users, string_keys)
    item_keys = _keys("i", n_items, string_keys)
    interactions = pd.DataFrame({"user_id": user_keys[users], "item_id": item_keys[items],
                                 "rating": ratings, "timestamp": timestamps.astype(np.int64)})

    topic_names = np.array([f"topic{t}" for t in range(n_topics)], dtype=object)
    user_frame = {"user_id": user_keys,
                  "segment": topic_names[_noisy(rng, favourite, n_topics, feature_noise)]}
    if n_user_features >= 2:
        user_frame["age"] = np.round(18 + 3.0 * second + rng.normal(0, 4, n_users)).astype(
            np.float64)
    for k in range(n_user_features - 2):
        user_frame[f"user_attr{k}"] = rng.integers(0, 5, size=n_users).astype(str)
    item_frame: dict[str, Any] = {
        "item_id": item_keys,
        "genre": topic_names[_noisy(rng, item_topic, n_topics, feature_noise)]}
    if n_item_features >= 2:
        item_frame["price"] = np.round(
            10.0 + 5.0 * _noisy(rng, item_topic, n_topics, feature_noise)
            + rng.normal(0, 1.5, n_items), 2)
    if n_item_features >= 3:
        # One tag naming the topic (or noise) plus one random style tag.
        style = np.array([f"style{s}" for s in range(8)], dtype=object)
        first_tag = topic_names[_noisy(rng, item_topic, n_topics, feature_noise)]
        second_tag = style[rng.integers(0, style.size, size=n_items)]
        pairs = np.stack([first_tag, second_tag], axis=1)
        tags = np.empty(n_items, dtype=object)
        tags[:] = pairs.tolist()
        item_frame["tags"] = tags
    for k in range(n_item_features - 3):
        item_frame[f"item_attr{k}"] = rng.integers(0, 5, size=n_items).astype(str)
    return SyntheticData(interactions, pd.DataFrame(user_frame), pd.DataFrame(item_frame),
                         item_topic)
