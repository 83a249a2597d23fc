"""The command line: fit, recommend and evaluate on temporary CSV files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybridrec.__main__ import main
from hybridrec.data import synthetic


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = synthetic(n_users=120, n_items=80, n_interactions=2400, random_state=0)
    frame = data.interactions.sample(frac=1.0, random_state=0)
    cut = int(0.85 * len(frame))
    frame.iloc[:cut].to_csv(folder / "train.csv", index=False)
    frame.iloc[cut:].to_csv(folder / "test.csv", index=False)
    data.items[["item_id", "genre", "price"]].to_csv(folder / "items.csv", index=False)
    model = folder / "model.hrec"
    status = main(["fit", str(folder / "train.csv"), "--item-features",
                   str(folder / "items.csv"), "--epochs", "3", "--out", str(model)])
    assert status == 0 and model.exists()
    return folder, data


def test_recommend_for_users_to_stdout(files, capsys):
    folder, data = files
    users = data.interactions["user_id"].iloc[:2].tolist()
    assert main(["recommend", str(folder / "model.hrec"), "--users", ",".join(users),
                 "-k", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "user_id,item_id,score,rank"
    rows = [line.split(",") for line in out[1:]]
    assert len(rows) == 8 and {row[0] for row in rows} == set(users)
    assert [int(row[3]) for row in rows[:4]] == [1, 2, 3, 4]


def test_recommend_all_to_file_excludes_seen(files):
    folder, _ = files
    output = folder / "recs.csv"
    assert main(["recommend", str(folder / "model.hrec"), "--all", "-k", "5", "--output",
                 str(output)]) == 0
    recs = pd.read_csv(output)
    train = pd.read_csv(folder / "train.csv")
    assert set(recs.columns) == {"user_id", "item_id", "score", "rank"}
    assert recs["user_id"].nunique() == train["user_id"].nunique()
    seen = set(zip(train["user_id"], train["item_id"], strict=True))
    assert not any(pair in seen for pair in zip(recs["user_id"], recs["item_id"],
                                                 strict=True))
    assert np.all(np.diff(recs.groupby("user_id")["score"].apply(list).iloc[0]) <= 0)


def test_evaluate_prints_metrics(files, capsys):
    folder, _ = files
    assert main(["evaluate", str(folder / "model.hrec"), str(folder / "test.csv"),
                 "-k", "5", "10"]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "auc" in out and "ndcg" in out


@pytest.mark.parametrize("argv, message", [
    (["recommend", "{folder}/missing.hrec", "--all"], "model file .* does not exist"),
    (["recommend", "{folder}/model.hrec", "--users", "nobody"], "unknown user"),
    (["evaluate", "{folder}/model.hrec", "{folder}/nothing.csv"], "test file .* does not exist"),
    (["fit", "{folder}/train.csv", "--user-col", "uid", "--out", "{folder}/x.hrec"],
     "no column"),
    (["fit", "{folder}/absent.csv", "--out", "{folder}/x.hrec"], "interactions file"),
])
def test_errors_are_one_line(files, capsys, argv, message):
    folder, _ = files
    status = main([part.format(folder=folder) for part in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1].startswith("error: ")
    import re
    assert re.search(message, err[-1])


def _dislikes(folder) -> pd.DataFrame:
    """Three unseen items for each of 20 users, as (user_id, item_id) rows."""
    train = pd.read_csv(folder / "train.csv")
    items = sorted(train["item_id"].unique())
    rows = []
    for user, seen in list(train.groupby("user_id")["item_id"])[:20]:
        unseen = [item for item in items if item not in set(seen)][:3]
        rows += [(user, item) for item in unseen]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


@pytest.mark.parametrize("loss, option, expected_mixing", [
    ("warp", [], 0.1), ("bpr", ["--negative-mixing", "0.3"], 0.3), ("logistic", [], 0.0)])
def test_fit_with_negatives_trains_as_the_api_does(files, loss, option, expected_mixing):
    """``--negatives`` reaches Recommender.fit(negatives=...), with negative_mixing 0.1 by
    default (0 for logistic, which learns dislikes as label-0 examples): the saved model
    equals one fitted through the Python API with the same settings."""
    from hybridrec import Recommender

    folder, _ = files
    dislikes = _dislikes(folder)
    dislikes.to_csv(folder / "dislikes.csv", index=False)
    model = folder / f"negatives-{loss}.hrec"
    assert main(["fit", str(folder / "train.csv"), "--loss", loss, "--epochs", "2",
                 "--negatives", str(folder / "dislikes.csv"), *option,
                 "--out", str(model)]) == 0
    loaded = Recommender.load(model)
    assert loaded.negative_mixing == expected_mixing
    assert loaded.negatives_.nnz == len(dislikes)
    reference = Recommender(loss=loss, no_components=32, epochs=2, random_state=0,
                            negative_mixing=expected_mixing)
    reference.fit(pd.read_csv(folder / "train.csv"), negatives=dislikes)
    users = dislikes["user_id"].unique()[:5].tolist()
    pd.testing.assert_frame_equal(loaded.recommend(users=users, k=5),
                                  reference.recommend(users=users, k=5))


def test_fit_with_negatives_of_unknown_users_is_one_line(files, capsys):
    folder, _ = files
    pd.DataFrame({"user_id": ["nobody"], "item_id": [0]}).to_csv(folder / "bad.csv",
                                                                  index=False)
    status = main(["fit", str(folder / "train.csv"), "--negatives", str(folder / "bad.csv"),
                   "--out", str(folder / "x.hrec")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err[-1].startswith("error: ") and "unknown user" in err[-1]
