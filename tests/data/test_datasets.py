"""Loaders: LightFM-shaped fetchers on the shared data, MovieLens DataFrame loaders.

Expected shapes were measured once with rectools-lightfm 1.17.3's ``fetch_movielens`` /
``fetch_stackexchange`` on the same files (no LightFM needed here). Nothing here uses
the network: ``data_home`` points at a temporary directory holding symlinks to
../shared/data, and the download code is exercised with ``file://`` URLs.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec.data import datasets, fetch_movielens, fetch_stackexchange, load_movielens
from tests.conftest import shared_data_path


@pytest.fixture
def movielens_home(tmp_path: Path) -> Path:
    folder = tmp_path / "movielens100k"
    folder.mkdir()
    (folder / "ml-100k").symlink_to(shared_data_path("ml-100k"), target_is_directory=True)
    return tmp_path


@pytest.fixture
def stackexchange_home(tmp_path: Path) -> Path:
    folder = tmp_path / "stackexchange" / "crossvalidated"
    folder.mkdir(parents=True)
    (folder / "data.npz").symlink_to(
        shared_data_path("stackexchange-crossvalidated", "data.npz"))
    return tmp_path


@pytest.mark.parametrize("kwargs, features_shape, features_nnz, last_label", [
    ({}, (1682, 1682), 1682, "Scream of Stone (Schrei aus Stein) (1991)"),
    ({"genre_features": True}, (1682, 1701), 4575, "genre:Western"),
    ({"indicator_features": False, "genre_features": True}, (1682, 19), 2893,
     "genre:Western"),
])
def test_fetch_movielens_matches_lightfm(movielens_home, kwargs, features_shape,
                                         features_nnz, last_label):
    data = fetch_movielens(data_home=movielens_home, download_if_missing=False, **kwargs)
    train, test = data["train"], data["test"]
    assert isinstance(train, sp.coo_matrix) and train.dtype == np.int32
    assert train.shape == test.shape == (943, 1682)
    assert (train.nnz, test.nnz) == (90570, 9430)
    assert (int(train.data.sum()), int(test.data.sum())) == (319153, 33833)
    assert data["item_features"].shape == features_shape
    assert data["item_features"].nnz == features_nnz
    assert data["item_features"].dtype == np.float32
    assert data["item_feature_labels"].shape == (features_shape[1],)
    assert data["item_feature_labels"][-1] == last_label
    assert data["item_labels"][0] == "Toy Story (1995)"  # full titles (LightFM: "T")
    if not kwargs:
        assert data["item_feature_labels"] is data["item_labels"]


def test_fetch_movielens_min_rating_and_zip(tmp_path):
    folder = tmp_path / "movielens100k"
    folder.mkdir()
    with zipfile.ZipFile(folder / "ml-100k.zip", "w") as archive:
        for name in ("ua.base", "ua.test", "u.item", "u.genre"):
            archive.write(shared_data_path("ml-100k", name), f"ml-100k/{name}")
    data = fetch_movielens(data_home=tmp_path, min_rating=4.0, download_if_missing=False)
    assert (data["train"].nnz, data["test"].nnz) == (49906, 5469)
    assert int(data["train"].data.sum()) == 218672


def test_fetch_movielens_errors(tmp_path, movielens_home):
    with pytest.raises(FileNotFoundError, match=r"Dataset missing: .*movielens100k.*"
                                                r"ml-100k.zip does not exist"):
        fetch_movielens(data_home=tmp_path / "empty", download_if_missing=False)
    with pytest.raises(ValueError, match="At least one of item_indicator_features or "
                                         "genre_features must be True"):
        fetch_movielens(data_home=movielens_home, indicator_features=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("ua.base", "ua.test", "u.item", "u.genre"):
        (bad / name).write_bytes(shared_data_path("ml-100k", name).read_bytes())
    (bad / "ua.test").write_bytes(b"1\t1\t5\t0\n")
    with pytest.raises(ValueError, match="checksum mismatch for MovieLens 100k file ua.test"):
        fetch_movielens(path=bad)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Corrupted Movielens download"):
        fetch_movielens(path=tmp_path / "junk.zip")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fetch_movielens(path=tmp_path / "nowhere")


@pytest.mark.parametrize("kwargs, shape, nnz, features_shape, features_nnz", [
    ({}, (2836, 72360), (51477, 8020), (72360, 72360), 72360),
    ({"test_set_fraction": 0.1}, (3213, 72360), (57795, 4453), (72360, 72360), 72360),
    ({"tag_features": True}, (2836, 72360), (51477, 8020), (72360, 73606), 271323),
    ({"indicator_features": False, "tag_features": True}, (2836, 72360), (51477, 8020),
     (72360, 1246), 198963),
    ({"min_training_interactions": 0}, (9431, 72360), (55924, 13981), (72360, 72360),
     72360),
    ({"min_training_interactions": 3}, (1567, 72360), (48527, 7472), (72360, 72360),
     72360),
])
def test_fetch_stackexchange_matches_lightfm(stackexchange_home, kwargs, shape, nnz,
                                             features_shape, features_nnz):
    data = fetch_stackexchange("crossvalidated", data_home=stackexchange_home,
                               download_if_missing=False, **kwargs)
    train, test = data["train"], data["test"]
    assert isinstance(train, sp.coo_matrix) and train.dtype == np.float32
    assert train.shape == test.shape == shape
    assert (train.nnz, test.nnz) == nnz
    assert np.all(train.data == 1.0)
    assert data["item_features"].shape == features_shape
    assert data["item_features"].nnz == features_nnz
    assert data["item_feature_labels"].shape == (features_shape[1],)


def test_fetch_stackexchange_errors(tmp_path, stackexchange_home):
    with pytest.raises(ValueError, match="Unknown dataset 'mathoverflow'"):
        fetch_stackexchange("mathoverflow", data_home=tmp_path)
    with pytest.raises(ValueError, match="Test set fraction must be between 0 and 1, got 1.0"):
        fetch_stackexchange("crossvalidated", test_set_fraction=1.0, data_home=tmp_path)
    with pytest.raises(ValueError, match="At least one of item_indicator_features or "
                                         "tag_features must be True"):
        fetch_stackexchange("crossvalidated", indicator_features=False, data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"Dataset missing: .*stackexchange.*"
                                                r"crossvalidated.*data.npz"):
        fetch_stackexchange("crossvalidated", data_home=tmp_path / "none",
                            download_if_missing=False)
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="is not a StackExchange archive"):
        fetch_stackexchange("crossvalidated", path=tmp_path / "other.npz")
    local = fetch_stackexchange("crossvalidated", path=shared_data_path(
        "stackexchange-crossvalidated"))
    assert local["train"].shape == (2836, 72360)


def test_download_verifies_checksums_and_records_digest(tmp_path, monkeypatch):
    source = shared_data_path("stackexchange-crossvalidated", "data.npz")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "cache" / "data.npz"
    with pytest.raises(ValueError, match="checksum mismatch for file://"):
        datasets._download(source.as_uri(), target, sha256="0" * 64)
    assert not target.exists() and not target.with_name("data.npz.part").exists()
    datasets._download(source.as_uri(), target, sha256=digest)
    assert target.read_bytes() == source.read_bytes()
    target.unlink()
    # No pinned digest: the digest is recorded and checked on later loads.
    monkeypatch.setitem(datasets.STACKEXCHANGE_URLS, "crossvalidated", source.as_uri())
    data = fetch_stackexchange("crossvalidated", data_home=tmp_path)
    assert data["train"].shape == (2836, 72360)
    stored = tmp_path / "stackexchange" / "crossvalidated" / "data.npz"
    assert stored.with_name("data.npz.sha256").read_text().strip() == digest
    stored.write_bytes(b"tampered")
    with pytest.raises(ValueError, match="checksum mismatch for .*recorded sha256"):
        fetch_stackexchange("crossvalidated", data_home=tmp_path)


def test_download_movielens_from_url(tmp_path, monkeypatch):
    archive = tmp_path / "source.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name in ("ua.base", "ua.test", "u.item", "u.genre"):
            handle.write(shared_data_path("ml-100k", name), f"ml-100k/{name}")
    monkeypatch.setattr(datasets, "MOVIELENS_100K_URL", archive.as_uri())
    data = fetch_movielens(data_home=tmp_path / "home")
    assert data["train"].shape == (943, 1682)
    assert (tmp_path / "home" / "movielens100k" / "ml-100k.zip").is_file()


def test_data_home_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRIDREC_DATA", str(tmp_path))
    assert datasets.data_home_path() == tmp_path.resolve()
    monkeypatch.delenv("HYBRIDREC_DATA")
    assert datasets.data_home_path() == Path.home() / "hybridrec_data"


def test_load_movielens_100k():
    data = load_movielens(shared_data_path("ml-100k"))
    ratings, items, users = data["ratings"], data["items"], data["users"]
    assert ratings.shape == (100000, 4)
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings["rating"].dtype == np.float32 and ratings["timestamp"].dtype == np.int64
    assert ratings["user_id"].nunique() == 943 and ratings["item_id"].nunique() == 1682
    assert items.shape[0] == 1682 and users.shape == (943, 5)
    assert items.loc[0, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items["genres"].explode().nunique() == 19


def test_load_movielens_latest_small():
    data = load_movielens(shared_data_path("ml-latest-small"))
    assert data["ratings"].shape == (100836, 4)
    assert data["ratings"]["rating"].min() == 0.5
    assert data["items"].shape[0] == 9742
    assert data["items"]["genres"].isna().sum() == 34  # "(no genres listed)"
    assert data["tags"].shape == (3683, 4)
    assert list(data["tags"].columns) == ["user_id", "item_id", "tag", "timestamp"]


def test_load_movielens_1m_format(tmp_path):
    (tmp_path / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    (tmp_path / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "2000::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
        "2001::Caf\xe9 (1999)::Drama\n".encode("latin-1"))
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072-1234\n")
    data = load_movielens(tmp_path)
    ratings = data["ratings"]
    assert ratings["item_id"].tolist() == [1193, 661, 1193]
    assert ratings["rating"].tolist() == [5.0, 3.0, 4.0]
    assert ratings["timestamp"].tolist() == [978300760, 978302109, 978298413]
    items = data["items"]
    assert items.loc[2, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert items.loc[3, "title"] == "Caf\xe9 (1999)"
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Musical"]
    users = data["users"]
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert users["zip_code"].tolist() == ["48067", "70072-1234"]


def test_load_movielens_unknown_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no MovieLens ratings"):
        load_movielens(tmp_path)


def _lightfm_cache(home: Path) -> Path:
    """LightFM's own cache layout under ``home``: its archive name for MovieLens and its
    StackExchange path, as ``lightfm.datasets`` leaves them."""
    movielens = home / "movielens100k"
    movielens.mkdir(parents=True)
    with zipfile.ZipFile(movielens / "movielens.zip", "w") as archive:
        for name in ("ua.base", "ua.test", "u.item", "u.genre", "u.data"):
            archive.write(shared_data_path("ml-100k", name), f"ml-100k/{name}")
    stack = home / "stackexchange" / "crossvalidated"
    stack.mkdir(parents=True)
    (stack / "data.npz").symlink_to(shared_data_path("stackexchange-crossvalidated",
                                                     "data.npz"))
    return home


def _no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("fetch tried to download although the data are cached")

    monkeypatch.setattr(datasets, "_download", refuse)


def test_lightfm_data_home_is_read_without_download(tmp_path, monkeypatch):
    """A data_home that LightFM filled (movielens100k/movielens.zip) is found as it is."""
    _no_download(monkeypatch)
    home = _lightfm_cache(tmp_path / "lightfm_cache")
    data = fetch_movielens(data_home=home)  # download_if_missing=True, LightFM's default
    assert (data["train"].nnz, data["test"].nnz) == (90570, 9430)
    assert data["item_features"].shape == (1682, 1682)
    stack = fetch_stackexchange("crossvalidated", data_home=home)
    assert (stack["train"].shape, stack["train"].nnz) == ((2836, 72360), 51477)


def test_lightfm_default_directory_is_searched_after_hybridrec_s(tmp_path, monkeypatch):
    """Without data_home: hybridrec's directory first, then ~/lightfm_data (LightFM's
    default), before any download; LightFM's directory is never written to."""
    _no_download(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HYBRIDREC_DATA", str(tmp_path / "hybridrec_cache"))
    assert datasets.lightfm_data_home() == tmp_path / "lightfm_data"
    with pytest.raises(AssertionError, match="tried to download"):
        fetch_movielens()
    _lightfm_cache(tmp_path / "lightfm_data")
    before = sorted(p.name for p in (tmp_path / "lightfm_data").rglob("*"))
    assert fetch_movielens()["train"].nnz == 90570
    assert fetch_stackexchange("crossvalidated")["train"].shape == (2836, 72360)
    assert sorted(p.name for p in (tmp_path / "lightfm_data").rglob("*")) == before
    # hybridrec's own cache wins when both exist.
    own = tmp_path / "hybridrec_cache" / "movielens100k"
    own.mkdir(parents=True)
    with zipfile.ZipFile(own / "ml-100k.zip", "w") as archive:
        for name in ("ua.base", "ua.test", "u.item", "u.genre"):
            archive.write(shared_data_path("ml-100k", name), f"ml-100k/{name}")
    monkeypatch.setattr(datasets, "_read_ml100k_members", _recording_reader(own))
    fetch_movielens()


def _recording_reader(expected_folder: Path):
    original = datasets._read_ml100k_members

    def read(source: Path, members: tuple[str, ...]) -> dict[str, bytes]:
        assert source.parent == expected_folder, source
        return original(source, members)

    return read


def test_lightfm_layout_with_download_disabled_names_hybridrec_s_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HYBRIDREC_DATA", str(tmp_path / "hybridrec_cache"))
    with pytest.raises(FileNotFoundError, match="hybridrec_cache.*ml-100k.zip"):
        fetch_movielens(download_if_missing=False)
    with pytest.raises(FileNotFoundError, match="hybridrec_cache.*crossvalidated.*data.npz"):
        fetch_stackexchange("crossvalidated", download_if_missing=False)
