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
    # A dislike of an unknown user is left out with a note (not an error) ...
    status = main(["fit", str(folder / "train.csv"), "--negatives", str(folder / "bad.csv"),
                   "--epochs", "1", "--out", str(folder / "x.hrec")])
    assert status == 0 and "note: 1 dislike(s) name users or items absent" in \
        capsys.readouterr().err
    # ... and a bad option is one error line.
    status = main(["fit", str(folder / "train.csv"), "--user-col", "uid",
                   "--out", str(folder / "x.hrec")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err[-1].startswith("error: ") and "no column 'uid'" in err[-1]


def test_feature_columns_typed_and_reported(tmp_path, capsys):
    data = synthetic(n_users=60, n_items=40, n_interactions=900, random_state=1)
    data.interactions.to_csv(tmp_path / "train.csv", index=False)
    items = data.items.assign(tags=data.items["tags"].map("|".join))
    items[["item_id", "genre", "tags"]].to_csv(tmp_path / "items.csv", index=False)
    model = tmp_path / "model.hrec"
    assert main(["fit", str(tmp_path / "train.csv"), "--item-features",
                 str(tmp_path / "items.csv"), "--epochs", "1", "--out", str(model)]) == 0
    err = capsys.readouterr().err
    n_tags = len({tag for tags in data.items["tags"] for tag in tags})
    assert f"item feature column 'tags': multi_valued split on '|' (automatic), {n_tags} " \
        "features" in err
    assert "item feature column 'genre': categorical (automatic)" in err
    # Told otherwise, the CLI keeps whole strings (one category per combination).
    assert main(["fit", str(tmp_path / "train.csv"), "--item-features",
                 str(tmp_path / "items.csv"), "--item-categorical", "genre", "tags",
                 "--epochs", "1", "--out", str(model)]) == 0
    combos = items["tags"].nunique()
    assert f"item feature column 'tags': categorical (given), {combos} features" in \
        capsys.readouterr().err
    assert main(["fit", str(tmp_path / "train.csv"), "--item-features",
                 str(tmp_path / "items.csv"), "--item-multi-valued", "tags=|",
                 "--epochs", "1", "--out", str(model)]) == 0
    err = capsys.readouterr().err
    assert "'tags': multi_valued split on '|' (given)" in err and "'genre'" not in err


def test_negatives_of_unknown_entities_are_reported_and_left_out(files, tmp_path, capsys):
    folder, data = files
    train = pd.read_csv(folder / "train.csv")
    known = train.drop_duplicates("user_id").head(3)
    dislikes = pd.DataFrame({
        "user_id": ["ghost", known["user_id"].iloc[0], known["user_id"].iloc[1],
                    known["user_id"].iloc[2]],
        "item_id": [train["item_id"].iloc[0], "no-such-item", train["item_id"].iloc[5],
                    known["item_id"].iloc[2]]})
    dislikes.to_csv(tmp_path / "dislikes.csv", index=False)
    model = tmp_path / "model.hrec"
    assert main(["fit", str(folder / "train.csv"), "--negatives", str(tmp_path / "dislikes.csv"),
                 "--epochs", "1", "--out", str(model)]) == 0
    err = capsys.readouterr().err
    assert "note: 2 dislike(s) name users or items absent" in err
    assert "note: 1 dislike(s) are also interactions" in err
    from hybridrec import Recommender
    assert Recommender.load(model).negatives_.nnz == 1
    dislikes.rename(columns={"item_id": "movieId"}).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["fit", str(folder / "train.csv"), "--negatives", str(tmp_path / "bad.csv"),
                 "--out", str(model)]) == 2
    assert "negatives file has no column 'item_id'" in capsys.readouterr().err
