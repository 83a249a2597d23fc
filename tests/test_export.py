"""Recommender.export: the Parquet files reproduce recommend() with plain numpy."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hybridrec import Recommender
from hybridrec.data import synthetic


def _read(folder, name):
    table = pq.read_table(folder / name)
    frame = table.to_pandas()
    if "vector" in frame:
        frame["vector"] = list(np.stack(frame["vector"].to_numpy()).astype(np.float32))
    return frame


@pytest.mark.parametrize("keys", ["str", "uuid"])
def test_export_reproduces_recommend_with_numpy(tmp_path, keys):
    data = synthetic(n_users=120, n_items=70, n_interactions=2500, random_state=4)
    frame = data.interactions
    items = data.items
    if keys == "uuid":
        mapping = {key: uuid.uuid5(uuid.NAMESPACE_OID, key) for key in frame["item_id"].unique()}
        mapping.update({key: uuid.uuid5(uuid.NAMESPACE_OID, key) for key in items["item_id"]})
        frame = frame.assign(item_id=frame["item_id"].map(mapping))
        items = items.assign(item_id=items["item_id"].map(mapping))
    rec = Recommender(no_components=8, epochs=3, random_state=0).fit(
        frame, item_features=items, user_features=data.users)
    out = rec.export(tmp_path / "export")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "hybridrec.export" and "dot(user.vector" in manifest["score"]
    users, item_table = _read(out, "users.parquet"), _read(out, "items.parquet")
    seen = _read(out, "interactions.parquet")
    kind = manifest["files"]["items"]["key_kind"]
    assert kind == ("str" if keys == "str" else "json")
    item_keys = item_table["key"].to_numpy()
    if kind == "json":
        item_keys = np.array([uuid.UUID(json.loads(key)[1]) for key in item_keys], object)
    # Plain numpy: scores, seen items out, top 10.
    user_vectors = np.stack(users["vector"].to_numpy())
    item_vectors = np.stack(item_table["vector"].to_numpy())
    scores = (user_vectors.astype(np.float64) @ item_vectors.T.astype(np.float64)
              + users["bias"].to_numpy()[:, None] + item_table["bias"].to_numpy()[None, :])
    scores[seen["user_row"].to_numpy(), seen["item_row"].to_numpy()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    expected = pd.DataFrame({"user": np.repeat(users["key"].to_numpy(), 10),
                             "item": item_keys[top.ravel()]})
    got = rec.recommend(k=10)
    assert (got["user"].to_numpy() == expected["user"].to_numpy()).all()
    agree = (got["item"].to_numpy() == expected["item"].to_numpy()).mean()
    assert agree > 0.999, agree   # float32 vs float64 sums may swap a near-tie
    np.testing.assert_allclose(got["score"], scores[np.repeat(np.arange(len(users)), 10),
                                                   top.ravel()], rtol=1e-4, atol=1e-5)
    features = _read(out, "item_features.parquet")
    assert set(features["name"]) == set(rec.item_features_.side_names)
    # Exporting again replaces the directory.
    rec.export(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", "users.parquet", "items.parquet", "user_features.parquet",
         "item_features.parquet", "interactions.parquet"])
