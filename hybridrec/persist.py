"""Save and load models without pickle: one ``.npz`` of plain arrays plus JSON metadata.

Two formats share one container. ``save_model`` / ``load_model``: a ``LightFM`` model's
parameter arrays, any extra arrays the caller adds, and a JSON document with a format
name and version, the hyper-parameters and the generator state.
``save_recommender`` / ``load_recommender``: a fitted ``Recommender`` (its model through
``save_model``, plus per side the mapper, side features, identity switches and feature
encoder, the interactions, dislikes and history); every earlier Recommender format
version is read too. Loading uses
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
import pandas as pd
import scipy.sparse as sp

from . import __version__
from ._fitted import FittedState
from ._sides import SIDES, Side, new_side
from ._validation import int32_csr
from .data import FeatureEncoder, IdMapper
from .data.mapping import tag_key, untag_key
from .model import LightFM, ModelState

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
    with model._reading("save_model"):  # never save a model mid-fit
        return _save_model(model._snapshot(), model.get_params(), path, extra_arrays,
                           metadata)


def _save_model(state: ModelState, params: dict, path: str | os.PathLike,
                extra_arrays: dict | None, metadata: dict | None) -> Path:
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for name, array in state.arrays.items():
        arrays[f"{_PARAMETER_PREFIX}{name}"] = array
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
    params = dict(params)
    params["random_state"] = _json_random_state(params["random_state"])
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hybridrec_version": __version__,
        "class": "LightFM",
        "params": params,
        "generator_state": state.generator_state,
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
    names = [name[len(_PARAMETER_PREFIX):] for name in arrays
             if name.startswith(_PARAMETER_PREFIX)]
    state = ModelState({name: arrays.pop(f"{_PARAMETER_PREFIX}{name}") for name in names},
                       document.get("generator_state"))
    try:
        model._load_state(state)
    except ValueError as error:
        raise ModelFileError(f"{path} {error}") from None
    return model, arrays, document.get("metadata", {})


# ------------------------------------------------------------------ Recommender files
RECOMMENDER_FORMAT = "hybridrec.Recommender"
#: 2 added ``negatives`` arrays and the num_negative_samples / negative_mixing params;
#: 3 stores each side's fitted FeatureEncoder, identity / normalisation switches and
#: tagged key columns. Every version is read; readers of older versions refuse newer.
RECOMMENDER_FORMAT_VERSION = 3


def _csr_arrays(arrays: dict, prefix: str, matrix: sp.csr_matrix) -> None:
    arrays[f"{prefix}/indptr"] = np.asarray(matrix.indptr, np.int64)
    arrays[f"{prefix}/indices"] = np.asarray(matrix.indices, np.int32)
    arrays[f"{prefix}/data"] = np.asarray(matrix.data, np.float32)
    arrays[f"{prefix}/shape"] = np.asarray(matrix.shape, np.int64)


def _csr_from(arrays: dict, prefix: str) -> sp.csr_matrix:
    shape = tuple(int(value) for value in arrays[f"{prefix}/shape"])
    return int32_csr(sp.csr_matrix((arrays[f"{prefix}/data"], arrays[f"{prefix}/indices"],
                                    arrays[f"{prefix}/indptr"]), shape=shape))


def _json_params(params: dict) -> dict:
    params = dict(params)
    params["random_state"] = _json_random_state(params["random_state"])
    return params


def save_recommender(params: dict, state: FittedState, path: str | os.PathLike) -> Path:
    """Write a fitted Recommender's parameters and state to ``path`` (atomically).

    Parameters
    ----------
    params : dict
        ``Recommender.get_params()`` (a Generator ``random_state`` is stored as None;
        the generator's state is saved with the model).
    state : FittedState
    path : str or path-like

    Returns
    -------
    pathlib.Path
    """
    arrays: dict[str, np.ndarray] = {}
    sides = {}
    for name in SIDES:
        side = state.side(name)
        for key, value in side.mapper.to_arrays().items():
            arrays[f"{name}/mapper/{key}"] = value
        _csr_arrays(arrays, f"{name}/side", side.side_features)
        arrays[f"{name}/names"] = side.names.astype(str)
        arrays[f"{name}/active"] = side.active
        sides[name] = {"column": tag_key(side.column), "identity": side.identity,
                       "normalize": side.normalize,
                       "encoder": None if side.encoder is None else side.encoder.to_dict(),
                       "bin_edges": {str(key): np.asarray(value, np.float64).tolist()
                                     for key, value in side.bin_edges.items()}}
    _csr_arrays(arrays, "interactions", state.interactions)
    _csr_arrays(arrays, "negatives", state.negatives)
    metadata = {"format": RECOMMENDER_FORMAT, "format_version": RECOMMENDER_FORMAT_VERSION,
                "params": _json_params(params), "sides": sides,
                "weight_col": None if state.weight_col is None else tag_key(state.weight_col),
                "best_epoch": int(state.best_epoch),
                "history": state.history.to_dict(orient="list")}
    return save_model(state.model, path, extra_arrays=arrays, metadata=metadata)


def _legacy_side(name: str, column: Any, saved: dict, params: dict, mapper: IdMapper,
                 arrays: dict) -> Side:
    """A Side of a format version 1 or 2 file (a column spec instead of an encoder)."""
    names = arrays[f"{name}/names"].astype(object)
    spec = saved["spec"]
    encoder = None
    if spec is not None:
        spec = {**spec, "multi_valued": {c: sep for c, sep in spec["multi_valued"]}}
        encoder = FeatureEncoder.from_spec(spec, saved["bin_edges"], names, column)
    return new_side(name, column, mapper, params.get(f"{name}_identity", True),
                    params.get("normalize_features", True), encoder, names,
                    _csr_from(arrays, f"{name}/side"), arrays[f"{name}/active"],
                    {key: np.asarray(value, np.float64)
                     for key, value in saved["bin_edges"].items()})


def load_recommender(path: str | os.PathLike) -> tuple[dict, FittedState]:
    """Read a file written by ``save_recommender`` (or an earlier format version).

    Returns
    -------
    params : dict
        The Recommender's constructor arguments.
    state : FittedState

    Raises
    ------
    ModelFileError
        Missing, corrupted or truncated files, a bare model file, a newer version, or
        parts that do not fit together.
    """
    model, arrays, metadata = load_model(path)
    if metadata.get("format") != RECOMMENDER_FORMAT:
        raise ModelFileError(f"{path} holds a bare model, not a Recommender "
                             "(use hybridrec.persist.load_model).")
    version = metadata.get("format_version", 0)
    if version > RECOMMENDER_FORMAT_VERSION:
        raise ModelFileError(f"{path} has Recommender format version {version}; this "
                             f"version reads up to {RECOMMENDER_FORMAT_VERSION}.")
    try:
        params = dict(metadata["params"])
        if version < 3:
            columns = metadata["columns"]
            weight_col = columns[2]
        else:
            columns = [untag_key(metadata["sides"][name]["column"]) for name in SIDES]
            weight = metadata["weight_col"]
            weight_col = None if weight is None else untag_key(weight)
        sides = {}
        for name, column in zip(SIDES, columns[:2], strict=True):
            mapper = IdMapper.from_arrays({"keys": arrays[f"{name}/mapper/keys"],
                                           "kind": arrays[f"{name}/mapper/kind"]})
            saved = metadata["sides"][name]
            if version < 3:
                sides[name] = _legacy_side(name, column, saved, params, mapper, arrays)
                continue
            encoder = None if saved["encoder"] is None else \
                FeatureEncoder.from_dict(saved["encoder"])
            sides[name] = new_side(name, column, mapper, saved["identity"], saved["normalize"],
                                   encoder, arrays[f"{name}/names"].astype(object),
                                   _csr_from(arrays, f"{name}/side"), arrays[f"{name}/active"],
                                   {key: np.asarray(value, np.float64)
                                    for key, value in saved["bin_edges"].items()})
        interactions = _csr_from(arrays, "interactions")
        # Files written before dislikes existed have none.
        negatives = (_csr_from(arrays, "negatives") if "negatives/indptr" in arrays
                     else int32_csr(sp.csr_matrix(interactions.shape, dtype=np.float32)))
        state = FittedState(model, sides["user"], sides["item"], interactions, negatives,
                            weight_col, pd.DataFrame(metadata["history"]),
                            int(metadata["best_epoch"]))
        state.check_consistent()
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} is not a valid Recommender file: {error}") from None
    return params, state
