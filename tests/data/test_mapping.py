"""IdMapper: round trips, key types, unknown keys, persistence."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from hybridrec.data import IdMapper
from hybridrec.data.mapping import factorize_keys


def test_first_appearance_order_and_round_trip():
    mapper = IdMapper(["b", "a", "b", "c"])
    assert len(mapper) == 3
    codes = mapper.transform(["c", "a", "b", "a"])
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(codes, [2, 1, 0, 1])
    np.testing.assert_array_equal(mapper.inverse_transform(codes), ["c", "a", "b", "a"])
    assert mapper.to_dict() == {"b": 0, "a": 1, "c": 2}


@pytest.mark.parametrize("keys", [
    [10, 3, 10, 7],
    ["x", "y", "x"],
    [uuid.UUID(int=5), uuid.UUID(int=1), uuid.UUID(int=5)],
    [1, "1", 2.5, ("t", 1)],
])
def test_key_types_round_trip(keys):
    mapper = IdMapper(keys)
    codes = mapper.transform(keys)
    back = mapper.inverse_transform(codes)
    assert list(back) == list(keys)


def test_int_and_str_are_distinct_keys():
    mapper = IdMapper([1, "1"])
    assert len(mapper) == 2
    np.testing.assert_array_equal(mapper.transform(["1", 1]), [1, 0])


def test_series_and_extension_arrays():
    series = pd.Series(["u1", "u2", "u1"], dtype="string")
    mapper = IdMapper(series)
    np.testing.assert_array_equal(mapper.transform(series), [0, 1, 0])
    categorical = pd.Series(["u2", "u1"], dtype="category")
    np.testing.assert_array_equal(mapper.transform(categorical), [1, 0])


def test_partial_fit_keeps_existing_indices():
    mapper = IdMapper(["a", "b"])
    codes = mapper.fit_transform(["c", "a", "d", "c"])
    np.testing.assert_array_equal(codes, [2, 0, 3, 2])
    assert list(mapper.keys) == ["a", "b", "c", "d"]
    mapper.partial_fit(["a"])
    assert len(mapper) == 4


def test_fit_resets():
    mapper = IdMapper(["a", "b"]).fit(["z"])
    assert list(mapper.keys) == ["z"]


def test_unknown_keys_raise_with_examples():
    mapper = IdMapper(["a", "b"])
    with pytest.raises(KeyError, match=r"users: 2 key\(s\) not in the mapping: \['zz', 'yy'\]"):
        mapper.transform(["zz", "a", "yy", "zz"], name="users")


def test_unknown_keys_mask():
    mapper = IdMapper(["a", "b"])
    codes, known = mapper.lookup(["b", "q", "a"])
    np.testing.assert_array_equal(codes, [1, -1, 0])
    np.testing.assert_array_equal(known, [True, False, True])
    np.testing.assert_array_equal(mapper.transform(["q"], unknown="ignore"), [-1])


def test_missing_keys_are_errors():
    with pytest.raises(ValueError, match=r"user_id contains 2 missing key\(s\).*\[1, 3\]"):
        IdMapper().fit_transform(["a", None, "b", np.nan], name="user_id")
    with pytest.raises(ValueError, match="missing key"):
        IdMapper(["a"]).transform(["a", None])


def test_bad_arguments():
    mapper = IdMapper(["a"])
    with pytest.raises(ValueError, match="unknown must be 'raise' or 'ignore', got 'drop'"):
        mapper.transform(["a"], unknown="drop")
    with pytest.raises(IndexError, match=r"indices out of range \[0, 1\): \[1, 5\]"):
        mapper.inverse_transform([0, 5, 1])
    with pytest.raises(ValueError, match="indices must be integers"):
        mapper.inverse_transform([0.5])
    with pytest.raises(ValueError, match="single string"):
        IdMapper("abc")
    with pytest.raises(ValueError, match="one-dimensional"):
        IdMapper(np.zeros((2, 2)))


@pytest.mark.parametrize("keys", [
    [3, 1, 2], ["b", "a"], [uuid.UUID(int=3), "x", 4, 2.5, True, b"\x01"], [],
])
def test_json_and_array_persistence(keys):
    mapper = IdMapper(keys)
    assert IdMapper.from_json(mapper.to_json()) == mapper
    arrays = mapper.to_arrays()
    assert all(array.dtype != object for array in arrays.values())
    assert IdMapper.from_arrays(arrays) == mapper


def test_json_rejects_unencodable_keys():
    with pytest.raises(TypeError, match="cannot encode key"):
        IdMapper([("a", 1)]).to_json()


def test_large_object_path_matches_pandas():
    rng = np.random.default_rng(0)
    table = np.array([f"k{i}" for i in range(1000)], dtype=object)
    # distinct objects with equal values must still be one key
    copies = np.array(["".join(["k", str(i)]) for i in range(1000)], dtype=object)
    rows = np.concatenate([table[rng.integers(0, 1000, 60_000)],
                           copies[rng.integers(0, 1000, 60_000)]])
    codes, uniques = factorize_keys(rows)
    expected_codes, expected_uniques = pd.factorize(rows)
    np.testing.assert_array_equal(codes, expected_codes)
    np.testing.assert_array_equal(np.asarray(uniques), np.asarray(expected_uniques))
    strings = pd.array(rows, dtype="str")
    codes, uniques = factorize_keys(strings)
    np.testing.assert_array_equal(codes, expected_codes)
    with_nan = rows.copy()
    with_nan[70_000] = None
    with pytest.raises(ValueError, match=r"missing key\(s\) \(NaN or None\) at position\(s\) "
                                         r"\[70000\]"):
        IdMapper(with_nan)
    mapper = IdMapper(table)
    np.testing.assert_array_equal(mapper.inverse_transform(mapper.transform(rows)), rows)


def test_copy_is_independent():
    mapper = IdMapper(["a"])
    other = mapper.copy()
    other.partial_fit(["b"])
    assert len(mapper) == 1 and len(other) == 2
    assert "a" in mapper and "b" not in mapper
