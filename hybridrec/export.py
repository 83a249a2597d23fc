"""A fitted Recommender as Parquet files, for serving outside Python.

``export_recommender`` (``Recommender.export``) writes a directory:

- ``users.parquet`` / ``items.parquet``: one row per user / item in model order:
  ``key``, ``bias`` (float32) and ``vector`` (fixed-size list of float32, the
  representation with every feature already summed), so that
  ``score = dot(user.vector, item.vector) + user.bias + item.bias``;
- ``user_features.parquet`` / ``item_features.parquet``: the side features' ``name``,
  ``bias`` and ``vector`` (the feature embeddings; a new entity's representation is the
  L1-normalised weighted sum of its features' rows);
- ``interactions.parquet``: the training interactions as ``user_row``, ``item_row``
  (row numbers in the two entity files) and ``weight``: what ``exclude_seen`` leaves out;
- ``manifest.json``: format name and version, the score formula, sizes, how keys are
  stored (``int`` and ``str`` keys as such; others, e.g. UUIDs or mixed types, as JSON
  ``[type, value]`` strings) and the model's parameters.

Files are written to a temporary directory beside the target and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from ._fitted import FittedState
from .data.mapping import tag_key

FORMAT = "hybridrec.export"
FORMAT_VERSION = 1
SCORE_FORMULA = "score = dot(user.vector, item.vector) + user.bias + item.bias"


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:  # pragma: no cover - pyarrow is in the test extra
        raise ImportError('Recommender.export needs pyarrow: pip install "hybridrec[export]"'
                          ) from error
    return pyarrow


def _keys(keys: np.ndarray) -> tuple[object, str]:
    """A Parquet-able key column and its kind (``int``, ``str`` or ``json``)."""
    pa = _pyarrow()
    import pandas as pd

    kind = pd.api.types.infer_dtype(keys, skipna=False)
    if kind == "integer":
        return pa.array(np.asarray(keys, dtype=np.int64)), "int"
    if kind == "string":
        return pa.array(list(keys), type=pa.string()), "str"
    return pa.array([json.dumps(tag_key(key)) for key in keys], type=pa.string()), "json"


def _vectors(vectors: np.ndarray):
    pa = _pyarrow()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])


def _write(table_columns: dict, path: Path) -> None:
    pa = _pyarrow()
    pa.parquet.write_table(pa.table(table_columns), path)


def export_recommender(params: dict, state: FittedState, path: str | os.PathLike) -> Path:
    """Write ``state`` as Parquet files + ``manifest.json`` into the directory ``path``.

    Parameters
    ----------
    params : dict
        The Recommender's parameters (JSON-able ones are kept in the manifest).
    state : FittedState
    path : str or path-like
        A directory to create; an existing one is replaced.

    Returns
    -------
    pathlib.Path
        The directory.
    """
    _pyarrow()
    path = Path(path)
    snapshot = state.snapshot()
    manifest: dict = {"format": FORMAT, "format_version": FORMAT_VERSION,
                      "hybridrec_version": __version__, "score": SCORE_FORMULA,
                      "no_components": int(snapshot.item_vectors.shape[1]), "files": {},
                      "params": {key: value for key, value in params.items()
                                 if isinstance(value, (int, float, str, bool, type(None)))}}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for side in ("user", "item"):
            keys, kind = _keys(snapshot.mapper(side).keys.to_numpy(dtype=object))
            biases = snapshot.user_biases if side == "user" else snapshot.item_biases
            _write({"key": keys, "bias": np.asarray(biases, np.float32),
                    "vector": _vectors(snapshot.vectors(side))},
                   temporary / f"{side}s.parquet")
            parts = snapshot.parts(side)
            _write({"name": np.asarray(parts.names, dtype=str),
                    "bias": np.asarray(parts.biases[parts.n_identity:], np.float32),
                    "vector": _vectors(parts.embeddings[parts.n_identity:])},
                   temporary / f"{side}_features.parquet")
            manifest["files"][f"{side}s"] = {"file": f"{side}s.parquet", "key_kind": kind,
                                             "rows": int(biases.shape[0])}
            manifest["files"][f"{side}_features"] = {
                "file": f"{side}_features.parquet", "rows": int(parts.names.size),
                "normalize": bool(state.side(side).normalize)}
        seen = snapshot.seen.tocoo()
        _write({"user_row": seen.row.astype(np.int64), "item_row": seen.col.astype(np.int64),
                "weight": seen.data.astype(np.float32)}, temporary / "interactions.parquet")
        manifest["files"]["interactions"] = {"file": "interactions.parquet",
                                             "rows": int(seen.nnz)}
        (temporary / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if path.exists():
            shutil.rmtree(path)
        os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path
