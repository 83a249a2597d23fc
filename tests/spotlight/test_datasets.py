"""hybridrec.spotlight.datasets: synthetic data equal to Spotlight's, local MovieLens copies."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest

from hybridrec.spotlight.cross_validation import user_based_train_test_split
from hybridrec.spotlight.datasets import amazon, goodbooks, movielens, synthetic
from tests.conftest import shared_data_path


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# Produced by Spotlight 0.1.6's own generate_sequential (and user_based_train_test_split
# on the same RandomState afterwards): sha256 of the int32 arrays, first items, split sizes.
SPOTLIGHT_SYNTHETIC = [
    (dict(num_users=100, num_items=100, num_interactions=10000, concentration_parameter=1e-3,
          order=2), 42,
     "36e844fb59bddfbd6e2bc63f10865cdc73f2c4afe283f7e1451ba3d8aa10afc9",
     "4eab3ed285941fb2c1c2d8e87dbbf7d9fde6f2438e6ede10e37f4276b2caa385",
     [51, 86, 25, 25, 83, 87, 87, 50, 29, 56], (8026, 1974)),
    (dict(num_users=100, num_items=100, num_interactions=10000, concentration_parameter=1e2,
          order=2), 42,
     "6eb58bb11b29c472d16540d6881c7d9af872c534fdcc7397c054f276fe8e520c",
     "d3e1b685712bd4da6811fe5ac89d636a912556235852d8f5b4539fb01d555e98",
     [70, 91, 78, 23, 82, 13, 62, 88, 10, 85], (8078, 1922)),
    ({}, 0,
     "405b6b1a3753fe8dc1fcc92e86ea4c9baabd5e71b59c88fe7e9e0631fa20ab72",
     "badf48b705e242069914c2332691cbbc846f8a4eb094de56e32a816b785e78d0",
     [665, 189, 602, 47, 953, 822, 598, 471, 57, 793], (7133, 2867)),
]


@pytest.mark.parametrize("kwargs, seed, items_sha, users_sha, first_items, split",
                         SPOTLIGHT_SYNTHETIC)
def test_generate_sequential_is_spotlights(kwargs, seed, items_sha, users_sha, first_items,
                                           split):
    state = np.random.RandomState(seed)
    data = synthetic.generate_sequential(random_state=state, **kwargs)
    assert data.item_ids.dtype == np.int32 and data.user_ids.dtype == np.int32
    assert _sha(data.item_ids) == items_sha
    assert _sha(data.user_ids) == users_sha
    assert data.item_ids[:10].tolist() == first_items
    train, test = user_based_train_test_split(data, random_state=state)
    assert (len(train), len(test)) == split


def test_generate_sequential_semantics():
    data = synthetic.generate_sequential(num_users=10, num_items=20, num_interactions=500,
                                         order=1, random_state=3)
    assert (data.num_users, data.num_items, len(data)) == (10, 20, 500)
    assert data.item_ids.min() >= 1 and data.item_ids.max() <= 19  # 0 is the padding id
    assert np.all(np.diff(data.user_ids) >= 0)  # users sorted: contiguous stretches
    np.testing.assert_array_equal(data.timestamps, np.arange(500))
    np.testing.assert_array_equal(data.ratings, np.ones(500, np.float32))
    # Near-zero concentration: an almost deterministic chain (the most frequent successor
    # of an item follows it most of the time); a large one: close to uniform (1 / 29).
    def top_successor_share(concentration):
        chain = synthetic.generate_sequential(num_items=30, num_interactions=3000,
                                              concentration_parameter=concentration, order=1,
                                              random_state=0).item_ids
        successor = {}
        for current, following in zip(chain[:-1], chain[1:], strict=True):
            successor.setdefault(current, []).append(following)
        return np.mean([np.bincount(v).max() / len(v) for v in successor.values()])

    assert top_successor_share(1e-3) > 0.8
    assert top_successor_share(1e2) < 0.15


def test_markov_kernel_matches_numpy_reference():
    # The kernel's step is Spotlight's: mean of the states' cumulative rows, searchsorted.
    rng = np.random.RandomState(1)
    matrix = rng.dirichlet(np.repeat(0.5, 25), 25)
    cumulative = np.cumsum(matrix, axis=1)
    uniforms = rng.rand(400)
    for order in (1, 2, 4):
        state = rng.randint(25, size=order, dtype=np.int64)
        expected, reference_state = [], state.copy()
        for u in uniforms:
            row = cumulative[reference_state].mean(axis=0)
            new = min(24, np.searchsorted(row, u))
            reference_state[:-1] = reference_state[1:]
            reference_state[-1] = new
            expected.append(new)
        out = np.empty(400, dtype=np.int32)
        synthetic.markov.sample_chain(cumulative, state, uniforms, out)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(state, reference_state)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_items=1), "num_items must be an integer >= 2"),
    (dict(order=0), "order must be a positive integer"),
    (dict(concentration_parameter=0.0), "concentration_parameter must be a finite number"),
    (dict(random_state="x"), "random_state must be None, an int"),
])
def test_generate_sequential_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic.generate_sequential(**kwargs)


def test_movielens_100k_ids_as_in_files(movielens_100k):
    data = movielens_100k
    assert (data.num_users, data.num_items, len(data)) == (944, 1683, 100000)  # as Spotlight's
    assert data.user_ids.dtype == np.int32 and data.ratings.dtype == np.float32
    assert data.timestamps.dtype == np.int32
    assert data.user_ids.min() == 1 and data.item_ids.min() == 1
    # First line of u.data: 196 242 3 881250949.
    assert (data.user_ids[0], data.item_ids[0], data.ratings[0], data.timestamps[0]) == (
        196, 242, 3.0, 881250949)


def test_movielens_sources_agree(tmp_path, movielens_100k):
    source = shared_data_path("ml-100k", "u.data")
    # The file itself, a zip as GroupLens publishes it, and data_home layouts.
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(source, "ml-100k/u.data")
    from_file = movielens.get_movielens_dataset("100K", path=source)
    from_zip = movielens.get_movielens_dataset("100K", path=archive)
    from_home = movielens.get_movielens_dataset("100K", data_home=tmp_path)  # finds the zip
    (tmp_path / "movielens100k" / "ml-100k").mkdir(parents=True)
    (tmp_path / "movielens100k" / "ml-100k" / "u.data").write_bytes(source.read_bytes())
    archive.unlink()
    from_lightfm_layout = movielens.get_movielens_dataset(data_home=tmp_path)
    for other in (from_file, from_zip, from_home, from_lightfm_layout):
        for attr in ("user_ids", "item_ids", "ratings", "timestamps"):
            np.testing.assert_array_equal(getattr(other, attr), getattr(movielens_100k, attr))


def test_movielens_other_formats(tmp_path):
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text("1::1193::5::978300760\n2::661::3.5::97\n")
    data = movielens.get_movielens_dataset("1M", data_home=tmp_path)
    assert data.user_ids.tolist() == [1, 2] and data.ratings.tolist() == [5.0, 3.5]
    assert data.timestamps.tolist() == [978300760, 97] and data.num_items == 1194
    (tmp_path / "ml-20m").mkdir()
    (tmp_path / "ml-20m" / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n3,7,4.0,11\n1,2,0.5,10\n")
    data = movielens.get_movielens_dataset("20M", data_home=tmp_path)
    assert data.item_ids.tolist() == [7, 2] and (data.num_users, data.num_items) == (4, 8)


def test_movielens_errors(tmp_path):
    with pytest.raises(ValueError, match="Variant must be one of"):
        movielens.get_movielens_dataset("5M")
    with pytest.raises(FileNotFoundError, match="No local copy of MovieLens 1M found"):
        movielens.get_movielens_dataset("1M", data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        movielens.get_movielens_dataset(path=tmp_path / "nothing")
    (tmp_path / "x.txt").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="not a MovieLens ratings file"):
        movielens.get_movielens_dataset(path=tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError, match="holds no MovieLens ratings file"):
        movielens.get_movielens_dataset(path=tmp_path)


def test_spotlight_hdf5_files(tmp_path):
    import h5py  # in the test extra: never skipped
    path = tmp_path / "movielens_100K.hdf5"
    with h5py.File(path, "w") as handle:
        handle["user_id"] = np.array([1, 2, 2], np.int32)
        handle["item_id"] = np.array([3, 1, 4], np.int32)
        handle["rating"] = np.array([5, 4, 1], np.float32)
        handle["timestamp"] = np.array([9, 8, 7], np.int32)
    data = movielens.get_movielens_dataset(path=path)
    assert (data.num_users, data.num_items) == (3, 5) and data.ratings.tolist() == [5, 4, 1]
    books = tmp_path / "goodbooks.hdf5"
    with h5py.File(books, "w") as handle:
        handle["ratings"] = np.array([[1, 2, 5], [2, 2, 3]], np.int32)
    data = goodbooks.get_goodbooks_dataset(path=books)
    assert data.item_ids.tolist() == [2, 2] and data.timestamps.tolist() == [0, 1]
    shop = tmp_path / "amazon.hdf5"
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 2000)
    items = rng.integers(100, 400, 2000)
    with h5py.File(shop, "w") as handle:
        handle["user_id"], handle["item_id"] = users, items
        handle["rating"] = np.ones(2000, np.float32)
        handle["timestamp"] = np.arange(2000)
    data = amazon.get_amazon_dataset(min_user_interactions=60, min_item_interactions=8,
                                     path=shop)
    kept_users = np.unique(users)[np.unique(users, return_counts=True)[1] >= 60]
    kept_items = np.unique(items)[np.unique(items, return_counts=True)[1] >= 8]
    keep = np.isin(users, kept_users) & np.isin(items, kept_items)
    assert len(data) == keep.sum()
    assert (data.num_users, data.num_items) == (len(kept_users) + 1, len(kept_items) + 1)
    # Renumbered 1..n in increasing order of the original ids (Spotlight's mapping).
    mapping = {u: k + 1 for k, u in enumerate(kept_users)}
    assert data.user_ids.tolist() == [mapping[u] for u in users[keep]]


def test_goodbooks_csv_and_errors(tmp_path):
    (tmp_path / "goodbooks-10k").mkdir()
    (tmp_path / "goodbooks-10k" / "ratings.csv").write_text(
        "user_id,book_id,rating\n1,258,5\n2,4081,4\n")
    data = goodbooks.get_goodbooks_dataset(data_home=tmp_path)
    assert data.item_ids.tolist() == [258, 4081] and data.ratings.dtype == np.float32
    assert data.timestamps.tolist() == [0, 1]
    with pytest.raises(FileNotFoundError, match="No local copy of Goodbooks-10k"):
        goodbooks.get_goodbooks_dataset(data_home=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="No local copy of the Amazon"):
        amazon.get_amazon_dataset(path=tmp_path / "missing.hdf5")
