"""Pickle-free persistence: round trips and refused faults."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM
from hybridrec.persist import ModelFileError, load_model, save_model


@pytest.fixture
def fitted():
    train = sp.random(20, 30, density=0.2, random_state=0, format="coo", dtype=np.float32)
    return LightFM(loss="warp", no_components=4, random_state=1).fit(train, epochs=2), train


def test_round_trip_predicts_and_trains_identically(tmp_path, fitted):
    model, train = fitted
    path = save_model(model, tmp_path / "model.hrec",
                      extra_arrays={"names": np.array(["a", "b"])}, metadata={"note": "hello"})
    assert path == tmp_path / "model.hrec"
    loaded, extra, metadata = load_model(path)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(extra["names"], ["a", "b"])
    assert metadata == {"note": "hello"}
    np.testing.assert_array_equal(loaded.predict(0, np.arange(30)), model.predict(0, np.arange(30)))
    model.fit_partial(train, epochs=1)
    loaded.fit_partial(train, epochs=1)
    np.testing.assert_array_equal(loaded.item_embeddings, model.item_embeddings)


def test_refuses_unfitted_models_and_object_arrays(tmp_path, fitted):
    with pytest.raises(ValueError, match="You must fit the model"):
        save_model(LightFM(), tmp_path / "m.npz")
    with pytest.raises(ValueError, match="dtype object"):
        save_model(fitted[0], tmp_path / "m.npz", extra_arrays={"x": np.array([{}, 1])})
    with pytest.raises(ValueError, match="reserved name"):
        save_model(fitted[0], tmp_path / "m.npz", extra_arrays={"__metadata__": np.ones(1)})


def test_truncated_and_corrupted_files_are_refused(tmp_path, fitted):
    path = save_model(fitted[0], tmp_path / "m.npz")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        load_model(truncated)
    # Flip one byte at many positions: each is either refused or harmless (zip header
    # fields such as timestamps), never a silently different model.
    corrupted = tmp_path / "flipped.npz"
    reference = fitted[0]
    refused = 0
    positions = range(0, len(data), max(1, len(data) // 60))
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        corrupted.write_bytes(bytes(flipped))
        try:
            model, _, _ = load_model(corrupted)
        except ModelFileError:
            refused += 1
            continue
        for name in ("item_embeddings", "user_embeddings", "item_biases", "user_biases"):
            np.testing.assert_array_equal(getattr(model, name), getattr(reference, name))
        assert model.get_params() == reference.get_params()
    assert refused >= len(positions) // 2  # measured: 53 of 61 refused, 8 in zip headers
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.npz")


def test_pickled_content_is_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __metadata__=np.array([{"format": "hybridrec.model"}], dtype=object))
    with pytest.raises(ModelFileError, match="pickled objects"):
        load_model(path)


def _rewrite_metadata(source, target, change):
    import json
    with np.load(source) as archive:
        arrays = {name: archive[name] for name in archive.files}
    document = json.loads(arrays["__metadata__"].tobytes())
    change(document)
    import hashlib
    encoded = json.dumps(document).encode()
    arrays["__metadata__"] = np.frombuffer(encoded, dtype=np.uint8)
    arrays["__metadata_sha256__"] = np.frombuffer(hashlib.sha256(encoded).digest(), np.uint8)
    np.savez(target, **arrays)


def test_wrong_format_and_version(tmp_path, fitted):
    path = save_model(fitted[0], tmp_path / "m.npz")
    newer = tmp_path / "newer.npz"
    _rewrite_metadata(path, newer, lambda d: d.update(format_version=99))
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(newer)
    other = tmp_path / "other.npz"
    _rewrite_metadata(path, other, lambda d: d.update(format="something.else"))
    with pytest.raises(ModelFileError, match="not a hybridrec model file"):
        load_model(other)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.ones(3))
    with pytest.raises(ModelFileError, match="no metadata"):
        load_model(plain)


def test_failed_save_keeps_the_previous_file(tmp_path, fitted, monkeypatch):
    path = save_model(fitted[0], tmp_path / "m.npz")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(fitted[0], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind
    assert zipfile.is_zipfile(io.BytesIO(before))
