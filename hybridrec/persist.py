"""Save and load models without pickle: one ``.npz`` of plain arrays plus JSON metadata.

The file holds the twelve parameter arrays of a ``LightFM`` model, any extra arrays the
caller adds (e.g. a ``Recommender``'s ID mappings), and a JSON document with a format
name and version, the hyper-parameters and the generator state. Loading uses
``numpy.load(allow_pickle=False)``, so a file carrying pickled objects is refused and no
code from the file ever runs. Saving writes a temporary file beside the target and
renames it over the target, so a crash mid-save never destroys the previous file.
Every array and the metadata carry a SHA-256 digest checked at load time (the zip
format's own CRC is not checked by ``numpy.load``), so flipped bytes are detected.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .model import _PARAMETER_ARRAYS, LightFM, _Guard

FORMAT = "hybridrec.model"
FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"
_METADATA_HASH_KEY = "__metadata_sha256__"
_PARAMETER_PREFIX = "parameters/"


class ModelFileError(ValueError):
    """A model file is missing, corrupted, of another format or of an unsupported version."""


def _json_random_state(random_state: Any) -> int | None:
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return None if random_state is None else int(random_state)
    # Generators and RandomState objects are not stored as parameters; their state is
    # saved separately (``generator_state``) so training resumes identically.
    return None


def _digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    array = np.ascontiguousarray(array)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()


def save_model(model: LightFM, path: str | os.PathLike, extra_arrays: dict | None = None,
               metadata: dict | None = None) -> Path:
    """Write a fitted ``LightFM`` model (and optional extras) to ``path``.

    Parameters
    ----------
    model : LightFM
        A fitted model.
    path : str or path-like
        Target file, used exactly as given (any extension, e.g. ``model.npz`` or
        ``model.hrec``; the content is always an npz archive).
    extra_arrays : dict of str to numpy.ndarray, optional
        Plain (non-object) arrays stored beside the parameters.
    metadata : dict, optional
        JSON-serialisable data stored in the metadata document.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        Unfitted model, object arrays, reserved names or non-JSON metadata.
    """
    with _Guard.reading(model, "save_model"):  # never save a model mid-fit
        return _save_model(model, path, extra_arrays, metadata)


def _save_model(model: LightFM, path: str | os.PathLike, extra_arrays: dict | None,
                metadata: dict | None) -> Path:
    model._check_initialized()
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for side in ("item", "user"):
        for suffix in _PARAMETER_ARRAYS:
            arrays[f"{_PARAMETER_PREFIX}{side}_{suffix}"] = getattr(model, f"{side}_{suffix}")
    for name, array in (extra_arrays or {}).items():
        array = np.asarray(array)
        if name in (_METADATA_KEY, _METADATA_HASH_KEY) or name.startswith(_PARAMETER_PREFIX):
            raise ValueError(f"extra_arrays may not use the reserved name {name!r}.")
        if array.dtype.hasobject:
            raise ValueError(f"extra_arrays[{name!r}] has dtype object; only plain arrays "
                             "can be stored without pickle (convert strings with "
                             ".astype(str)).")
        arrays[name] = array
    for name in arrays:
        if name in (_METADATA_KEY, _METADATA_HASH_KEY):
            raise ValueError(f"extra_arrays may not use the reserved name {name!r}.")
    params = model.get_params()
    params["random_state"] = _json_random_state(params["random_state"])
    generator = model.random_state_
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hybridrec_version": __version__,
        "class": type(model).__name__,
        "params": params,
        "generator_state": None if generator is None else generator.bit_generator.state,
        "metadata": metadata or {},
        "sha256": {name: _digest(array) for name, array in arrays.items()},
    }
    try:
        encoded = json.dumps(document).encode("utf-8")
    except TypeError as error:
        raise ValueError(f"metadata must be JSON-serialisable: {error}") from None
    arrays[_METADATA_KEY] = np.frombuffer(encoded, dtype=np.uint8)
    arrays[_METADATA_HASH_KEY] = np.frombuffer(hashlib.sha256(encoded).digest(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def load_model(path: str | os.PathLike) -> tuple[LightFM, dict[str, np.ndarray], dict]:
    """Read a file written by ``save_model``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    model : LightFM
        Ready to predict and to continue training (the generator state is restored).
    extra_arrays : dict of str to numpy.ndarray
    metadata : dict

    Raises
    ------
    ModelFileError
        Missing, truncated or corrupted file; pickled content; another format; a newer
        format version; missing or malformed parameter arrays.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist.")
    if path.is_file() and not zipfile.is_zipfile(path):
        with open(path, "rb") as stream:
            start = stream.read(2)
        if not (len(start) == 2 and start[0] == 0x80 and start[1] <= 5):  # pickle opcode
            raise ModelFileError(f"{path} is not a readable hybridrec model file (truncated "
                                 "or corrupted? it is not an npz archive).")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        raise ModelFileError(f"{path} holds pickled objects, which are never loaded "
                             f"(hybridrec files contain plain arrays only): {error}") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, zlib.error,
            NotImplementedError) as error:  # zipfile: a flipped version/compression field
        raise ModelFileError(f"{path} is not a readable hybridrec model file (truncated or "
                             f"corrupted?): {error}") from None
    if _METADATA_KEY not in arrays:
        raise ModelFileError(f"{path} is not a hybridrec model file (no metadata).")
    encoded = arrays.pop(_METADATA_KEY).tobytes()
    digest = arrays.pop(_METADATA_HASH_KEY, np.zeros(0, np.uint8)).tobytes()
    if hashlib.sha256(encoded).digest() != digest:
        raise ModelFileError(f"{path} is corrupted: its metadata does not match its checksum.")
    try:
        document = json.loads(encoded.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path} has corrupted metadata: {error}") from None
    found = document.get("format") if isinstance(document, dict) else None
    if found != FORMAT:
        raise ModelFileError(f"{path} is not a hybridrec model file (format {found!r}).")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(f"{path} has format version {version!r}; this hybridrec "
                             f"({__version__}) reads versions 1 to {FORMAT_VERSION}.")
    digests = document.get("sha256", {})
    if not isinstance(digests, dict) or set(digests) != set(arrays):
        raise ModelFileError(f"{path} is corrupted: its arrays do not match its metadata.")
    for name, array in arrays.items():
        if _digest(array) != digests[name]:
            raise ModelFileError(f"{path} is corrupted: array {name!r} does not match its "
                                 "checksum.")
    try:
        model = LightFM(**document["params"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has invalid hyper-parameters: {error}") from None
    for side in ("item", "user"):
        for suffix in _PARAMETER_ARRAYS:
            key = f"{_PARAMETER_PREFIX}{side}_{suffix}"
            array = arrays.pop(key, None)
            if array is None or array.dtype != np.float32:
                raise ModelFileError(f"{path} lacks a float32 array {key!r}.")
            setattr(model, f"{side}_{suffix}", np.ascontiguousarray(array))
    for side in ("item", "user"):
        n, d = getattr(model, f"{side}_embeddings").shape
        if d != model.no_components:
            raise ModelFileError(f"{path}: {side}_embeddings has {d} columns but "
                                 f"no_components is {model.no_components}.")
        for suffix in _PARAMETER_ARRAYS:
            array = getattr(model, f"{side}_{suffix}")
            expected = (n, d) if suffix.startswith("embedding") else (n,)
            if array.shape != expected:
                raise ModelFileError(f"{path}: {side}_{suffix} has shape {array.shape}, "
                                     f"expected {expected}.")
    if not model._is_healthy():
        raise ModelFileError(f"{path} holds non-finite parameters (NaN or inf embeddings or "
                             "biases, or NaN accumulators); such a model cannot predict.")
    state = document.get("generator_state")
    if state is not None:
        generator = np.random.default_rng()
        try:
            generator.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise ModelFileError(f"{path} has an invalid generator state: {error}") from None
        model.random_state_ = generator
    return model, arrays, document.get("metadata", {})
