"""Persistence faults beyond tests/test_persist.py: each refused, nothing executed, and a
crash while saving never destroys the previous file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hybridrec import Recommender, persist
from hybridrec.persist import ModelFileError, load_model, save_model

from .conftest import model_checksum


def _arrays(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def _write(path, arrays, change=None):
    """Rewrite an archive with (optionally) edited metadata and *valid* checksums."""
    document = json.loads(arrays["__metadata__"].tobytes())
    if change is not None:
        change(document, arrays)
    encoded = json.dumps(document).encode()
    arrays["__metadata__"] = np.frombuffer(encoded, np.uint8)
    arrays["__metadata_sha256__"] = np.frombuffer(hashlib.sha256(encoded).digest(), np.uint8)
    with open(path, "wb") as stream:  # a file object: np.savez would append ".npz"
        np.savez(stream, **arrays)


def _rehash(document, arrays, name):
    array = np.ascontiguousarray(arrays[name])
    header = f"{array.dtype.str}{array.shape}".encode()
    document["sha256"][name] = hashlib.sha256(header + array.tobytes()).hexdigest()


class _Payload:
    """Unpickling this creates a marker file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _set_array(name, value):
    def change(document, arrays):
        arrays[name] = value
        _rehash(document, arrays, name)
    return change


FAULTS = [
    ("empty file", lambda p, a: p.write_bytes(b""), "not a readable hybridrec model file"),
    ("text file", lambda p, a: p.write_text("hello"), "not a readable hybridrec model file"),
    ("metadata not a JSON object", lambda p, a: _write(
        p, a, lambda d, arr: (d.clear(), d.update({"format": "hybridrec.model"}))) or _write(
        p, {**a, "__metadata__": np.frombuffer(b"[1, 2]", np.uint8)}),
     "not a hybridrec model file"),
    ("checksum table not a dict", lambda p, a: _write(
        p, a, lambda d, arr: d.update(sha256=list(d["sha256"]))), "corrupted"),
    ("params missing", lambda p, a: _write(p, a, lambda d, arr: d.pop("params")),
     "invalid hyper-parameters"),
    ("invalid hyper-parameter", lambda p, a: _write(
        p, a, lambda d, arr: d["params"].update(no_components=-3)), "no_components must be"),
    ("format version 0", lambda p, a: _write(p, a, lambda d, arr: d.update(format_version=0)),
     "format version 0"),
    ("format version as text", lambda p, a: _write(
        p, a, lambda d, arr: d.update(format_version="1")), "format version '1'"),
    ("array dropped from the archive", lambda p, a: _write(
        p, {k: v for k, v in a.items() if k != "parameters/item_biases"}), "corrupted"),
    ("parameter array of the wrong dtype (valid checksum)", lambda p, a: _write(
        p, a, _set_array("parameters/item_biases", a["parameters/item_biases"]
                         .astype(np.float64))), "lacks a float32 array"),
    ("parameter array of the wrong shape (valid checksum)", lambda p, a: _write(
        p, a, _set_array("parameters/item_biases", a["parameters/item_biases"][:-1])),
     "has shape"),
    ("NaN parameters (valid checksum)", lambda p, a: _write(
        p, a, _set_array("parameters/user_embeddings",
                         np.full_like(a["parameters/user_embeddings"], np.nan))),
     "non-finite parameters"),
    ("generator state of another bit generator", lambda p, a: _write(
        p, a, lambda d, arr: d["generator_state"].update(bit_generator="MT19937")),
     "invalid generator state"),
]


@pytest.mark.parametrize("case, damage, message", FAULTS, ids=[f[0] for f in FAULTS])
def test_damaged_files_are_refused(tmp_path, fitted_model, tag, case, damage, message):
    tag("fault injected")
    good = save_model(fitted_model, tmp_path / "good.npz")
    bad = tmp_path / "bad.npz"
    damage(bad, _arrays(good))
    with pytest.raises(ModelFileError, match=message):
        load_model(bad)


@pytest.mark.parametrize("where", ["metadata", "extra array", "raw pickle file"])
def test_pickled_payloads_are_never_executed(tmp_path, tag, where, fitted_model):
    tag("fault injected")
    import pickle
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.npz"
    payload = np.array([_Payload(marker)], dtype=object)
    if where == "metadata":
        np.savez(path, __metadata__=payload)
    elif where == "extra array":
        arrays = _arrays(save_model(fitted_model, tmp_path / "good.npz"))
        arrays["user/mapper/keys"] = payload
        np.savez(path, **arrays)
    else:
        path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelFileError, match="pickled objects"):
        load_model(path)
    with pytest.raises(ModelFileError):
        Recommender.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("step", ["write", "fsync", "replace", "interrupt"])
def test_a_failure_at_any_step_of_save_keeps_the_previous_file(tmp_path, fitted_model,
                                                              monkeypatch, tag, step):
    tag("fault injected")
    path = save_model(fitted_model, tmp_path / "m.hrec")
    before = path.read_bytes()
    error = KeyboardInterrupt if step == "interrupt" else OSError

    def fail(*args, **kwargs):
        raise error("injected")

    target = {"write": (np, "savez_compressed"), "fsync": (os, "fsync"),
              "replace": (os, "replace"), "interrupt": (np, "savez_compressed")}[step]
    monkeypatch.setattr(*target, fail)
    with pytest.raises(error):
        save_model(fitted_model, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.hrec"]
    assert model_checksum(load_model(path)[0]) == model_checksum(fitted_model)


def test_a_process_killed_mid_save_leaves_the_previous_file_loadable(tmp_path, fitted_model,
                                                                    tag):
    """A real crash: the saving process dies (os._exit) after writing the temporary file
    and before the rename. The target still holds the previous model."""
    tag("fault injected")
    path = save_model(fitted_model, tmp_path / "m.hrec")
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import os
        import numpy as np, scipy.sparse as sp
        from hybridrec import LightFM
        from hybridrec.persist import save_model
        model = LightFM(no_components=3, random_state=0).fit(
            sp.random(30, 40, density=0.1, random_state=1, format="coo"))
        os.replace = lambda *args: os._exit(9)   # die between write and rename
        save_model(model, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == 9, result.stderr.decode()
    assert path.read_bytes() == before
    assert model_checksum(load_model(path)[0]) == model_checksum(fitted_model)
    # The dead process's temporary file is left beside the target (nobody could remove
    # it), never in its place.
    assert all(p.name.endswith(".tmp") for p in tmp_path.iterdir() if p.name != "m.hrec")


def test_recommender_file_with_inconsistent_parts_is_refused(tmp_path, fitted_recommender,
                                                            tag):
    tag("fault injected")
    good = fitted_recommender.save(tmp_path / "rec.hrec")
    bad = tmp_path / "bad.hrec"
    arrays = _arrays(good)
    keys = arrays["item/mapper/keys"]
    _write(bad, arrays, _set_array("item/mapper/keys", keys[:-1]))
    with pytest.raises(ModelFileError, match="not a valid Recommender file"):
        Recommender.load(bad)
    plain = save_model(fitted_recommender.model_, tmp_path / "bare.npz")
    with pytest.raises(ModelFileError, match="holds a bare model"):
        Recommender.load(plain)


def test_save_beside_a_fit_writes_the_state_from_before_it(tag, fitted_model, tmp_path):
    tag("fault injected")
    import threading

    from hybridrec import _guard
    expected = model_checksum(fitted_model)
    started, release = threading.Event(), threading.Event()

    def fit_holder():
        with _guard.writing(fitted_model, "test", fitted_model._published_copy):
            fitted_model.item_biases += 1.0   # a fit writing in place
            started.set()
            release.wait(10)
            fitted_model.item_biases -= 1.0

    thread = threading.Thread(target=fit_holder)
    thread.start()
    started.wait(10)
    try:
        path = persist.save_model(fitted_model, tmp_path / "during.npz")
    finally:
        release.set()
        thread.join()
    loaded, _, _ = persist.load_model(path)
    assert model_checksum(loaded) == expected
