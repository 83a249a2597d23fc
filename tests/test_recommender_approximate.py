"""Recommender.recommend / similar_items with approximate=True (the IVF index of
hybridrec._ann wired into the facade): recall against the exact path on planted data,
exclusions and candidate sets, ranking controls, the index cache (built once per fitted
state, dropped by training), persistence and argument errors. The engine itself is
tested in tests/test_ann.py."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from hybridrec import Recommender
from hybridrec import queries as queries_module
from hybridrec.data import synthetic
from hybridrec.persist import load_recommender, save_recommender

K = 10


@pytest.fixture(scope="module")
def planted():
    """2,500 users x 1,500 items with planted topics (more users than the 2,000 the
    calibration samples, so recall is also measured on users it never saw)."""
    data = synthetic(n_users=2500, n_items=1500, n_interactions=60_000, random_state=4,
                     n_topics=30)
    rec = Recommender(no_components=32, epochs=6, random_state=0, num_threads=2)
    return rec.fit(data.interactions, user_features=data.users), data


@pytest.fixture(scope="module")
def small():
    data = synthetic(n_users=200, n_items=160, n_interactions=4000, random_state=2)
    return Recommender(no_components=12, epochs=3, random_state=0).fit(data.interactions)


def _lists(frame: pd.DataFrame) -> dict:
    return {user: list(group["item"]) for user, group in frame.groupby("user", sort=False)}


def _recall(approximate: pd.DataFrame, exact: pd.DataFrame) -> float:
    found, truth = _lists(approximate), _lists(exact)
    return float(np.mean([len(set(found.get(user, [])) & set(items)) / len(items)
                          for user, items in truth.items()]))


def _same_scores(approximate: pd.DataFrame, exact_scores: pd.DataFrame) -> None:
    """Every approximate (user, item) score equals the exact path's, bit for bit."""
    merged = approximate.merge(exact_scores, on=["user", "item"], suffixes=("", "_exact"))
    assert len(merged) == len(approximate)
    np.testing.assert_array_equal(merged["score"].to_numpy(),
                                  merged["score_exact"].to_numpy())


def test_default_recall_on_planted_data(planted):
    rec, _ = planted
    info = rec.approximate_index()
    assert info["n_probe"] < info["n_clusters"]    # the index really prunes
    assert info["calibration_recall"] >= 0.99
    approximate = rec.recommend(k=K, approximate=True)
    exact = rec.recommend(k=K)
    assert _recall(approximate, exact) >= 0.99
    # Same users in the same order, k items each, ranks 1..k, scores non-increasing.
    assert list(pd.unique(approximate["user"])) == list(pd.unique(exact["user"]))
    assert (approximate.groupby("user", sort=False).size() == K).all()
    assert (approximate.groupby("user")["score"].diff().dropna() <= 0).all()
    some = rec.user_mapper_.keys[::25]
    everything = rec.recommend(some, k=rec.item_mapper_.keys.size, exclude_seen=False)
    _same_scores(approximate.loc[approximate["user"].isin(some), ["user", "item", "score"]],
                 everything)


def test_knob_trades_recall_and_full_probe_is_exact(planted):
    rec, _ = planted
    info = rec.approximate_index()
    users = rec.user_mapper_.keys[:400]
    exact = rec.recommend(users, k=K)
    recalls = [_recall(rec.recommend(users, k=K, approximate=True, n_probe=n_probe), exact)
               for n_probe in (1, max(1, info["n_probe"] // 4), info["n_probe"])]
    assert recalls[0] <= recalls[1] <= recalls[2]
    assert recalls[0] < 0.9   # one cluster is not enough on this data
    full = rec.recommend(users, k=K, approximate=True, n_probe=info["n_clusters"])
    pd.testing.assert_frame_equal(full, exact, check_exact=True)


def test_similar_items_recall_and_scores(planted):
    rec, _ = planted
    items = rec.item_mapper_.keys
    approximate = rec.similar_items(items, k=K, approximate=True)
    exact = rec.similar_items(items, k=K)
    recall = _recall(approximate.rename(columns={"item": "user", "similar_item": "item"}),
                     exact.rename(columns={"item": "user", "similar_item": "item"}))
    assert recall >= 0.99
    assert not (approximate["item"] == approximate["similar_item"]).any()
    info = rec.approximate_index("similar_items")
    assert info["metric"] == "cosine" and info["kind"] == "similar_items"
    full = rec.similar_items(items[:50], k=K, approximate=True, n_probe=info["n_clusters"])
    pd.testing.assert_frame_equal(full, exact[exact["item"].isin(items[:50])]
                                  .reset_index(drop=True), check_exact=True)


def test_full_probe_equals_exact_with_exclusions_candidates_and_cold_users(planted):
    rec, data = planted
    n_clusters = rec.approximate_index()["n_clusters"]
    keys = rec.item_mapper_.keys
    users = rec.user_mapper_.keys[::50]
    options = [dict(exclude_seen=False), dict(items=keys[:700]),
               dict(filter_items=list(keys[::3]) + ["unknown item"]),
               dict(items=keys[100:900], filter_items=keys[100:300]),
               dict(diversity=0.4)]
    for option in options:
        exact = rec.recommend(users, k=K, **option)
        full = rec.recommend(users, k=K, approximate=True, n_probe=n_clusters, **option)
        pd.testing.assert_frame_equal(full, exact, check_exact=True)
    # Cold-start users scored from their features go through the index too.
    cold = data.users.head(5).copy()
    cold[cold.columns[0]] = [f"cold-{i}" for i in range(5)]
    exact = rec.recommend(list(cold[cold.columns[0]]), k=K, user_features=cold)
    full = rec.recommend(list(cold[cold.columns[0]]), k=K, user_features=cold,
                         approximate=True, n_probe=n_clusters)
    pd.testing.assert_frame_equal(full, exact, check_exact=True)


def test_default_probe_respects_exclusions_and_candidates(planted):
    rec, _ = planted
    keys = rec.item_mapper_.keys
    users = rec.user_mapper_.keys[:300]
    seen = rec.interactions_.tocsr()
    rows = rec.user_mapper_.transform(users)
    # Seen items never come back.
    out = rec.recommend(users, k=K, approximate=True)
    items = rec.item_mapper_.transform(out["item"])
    users_rows = rec.user_mapper_.transform(out["user"])
    assert not np.asarray(seen[users_rows, items]).ravel().any()
    assert (out.groupby("user").size() == K).all()
    # A candidate set: only its items, k of them, recall against the exact lists.
    candidates = keys[::2]
    out = rec.recommend(users, k=K, approximate=True, items=candidates)
    assert out["item"].isin(candidates).all()
    assert (out.groupby("user").size() == K).all()
    assert _recall(out, rec.recommend(users, k=K, items=candidates)) >= 0.98
    # A small candidate set is scored exactly.
    few = keys[:40]
    pd.testing.assert_frame_equal(rec.recommend(users, k=K, approximate=True, items=few),
                                  rec.recommend(users, k=K, items=few), check_exact=True)
    # Filtered items never come back; fewer eligible items than k gives short lists.
    banned = keys[5:1495]
    out = rec.recommend(users, k=K, approximate=True, filter_items=banned,
                        exclude_seen=False)
    assert not out["item"].isin(banned).any()
    assert (out.groupby("user").size() == K).all()   # 10 items left: all of them
    assert rows.size == 300


def test_index_built_once_per_state_and_invalidated_by_training(small, monkeypatch):
    rec = Recommender(no_components=8, epochs=2, random_state=0).fit(
        synthetic(n_users=120, n_items=90, n_interactions=2000, random_state=5).interactions)
    builds = []
    build = queries_module.build_approximate_index

    def counting(snapshot, kind, num_threads):
        builds.append(kind)
        return build(snapshot, kind, num_threads)

    monkeypatch.setattr("hybridrec._fitted.build_approximate_index", counting)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        rec.recommend(k=5, approximate=True))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["recommend"]
    for frame in results[1:]:
        pd.testing.assert_frame_equal(frame, results[0], check_exact=True)
    rec.similar_items(rec.item_mapper_.keys[:3], approximate=True)
    rec.recommend(k=5, approximate=True)
    assert builds == ["recommend", "similar_items"]
    old_state = rec._fitted
    old_index = old_state.approximate_index("recommend")
    # Training publishes a new state: its index is built afresh, over the new vectors.
    frame = rec.interactions_.tocoo()
    batch = pd.DataFrame({"user_id": rec.user_mapper_.keys[frame.row[:200]],
                          "item_id": rec.item_mapper_.keys[frame.col[:200]]})
    rec.fit_partial(batch, epochs=1)
    after = rec.recommend(k=5, approximate=True)
    assert builds == ["recommend", "similar_items", "recommend"]
    assert rec._fitted.approximate_index("recommend") is not old_index
    assert old_state.approximate_index("recommend") is old_index   # old readers keep it
    n_clusters = rec.approximate_index()["n_clusters"]
    pd.testing.assert_frame_equal(
        rec.recommend(k=5, approximate=True, n_probe=n_clusters), rec.recommend(k=5),
        check_exact=True)
    assert not after.equals(results[0])
    # add_items: a new catalogue, a new index that knows the new items.
    data = synthetic(n_users=120, n_items=90, n_interactions=2000, random_state=5)
    new_items = pd.DataFrame({"item_id": ["new-a", "new-b"],
                              "genre": data.items["genre"].iloc[:2].to_list()})
    hybrid = Recommender(no_components=8, epochs=2, random_state=0).fit(
        data.interactions, item_features=data.items[["item_id", "genre"]])
    before = hybrid.approximate_index()["n_items"]
    hybrid.add_items(new_items)
    assert hybrid.approximate_index()["n_items"] == before + 2


def test_persistence_round_trip(small, tmp_path):
    rec = small
    expected = rec.recommend(k=K, approximate=True)
    expected_similar = rec.similar_items(rec.item_mapper_.keys[:20], approximate=True)
    path = rec.save(tmp_path / "model.hrec")
    loaded = Recommender.load(path)
    indexes = loaded._fitted.built_indexes()
    assert set(indexes) == {"recommend", "similar_items"}
    original = rec._fitted.built_indexes()
    for kind, index in indexes.items():
        np.testing.assert_array_equal(index.centroids, original[kind].centroids)
        np.testing.assert_array_equal(index.order, original[kind].order)
        assert index.n_probe == original[kind].n_probe
    pd.testing.assert_frame_equal(loaded.recommend(k=K, approximate=True), expected,
                                  check_exact=True)
    pd.testing.assert_frame_equal(
        loaded.similar_items(rec.item_mapper_.keys[:20], approximate=True),
        expected_similar, check_exact=True)
    assert loaded.approximate_index() == rec.approximate_index()


def test_saved_without_index_builds_on_load_and_bad_index_is_dropped(small, tmp_path):
    fresh = Recommender(no_components=6, epochs=1, random_state=0).fit(
        synthetic(n_users=60, n_items=50, n_interactions=800, random_state=1).interactions)
    path = fresh.save(tmp_path / "plain.hrec")
    assert Recommender.load(path)._fitted.built_indexes() == {}
    fresh.approximate_index()
    params, state = load_recommender(fresh.save(tmp_path / "indexed.hrec"))
    assert set(state.built_indexes()) == {"recommend"}
    # An index that is not the items' (here: the 60-user model's, saved with the small
    # model's state) is dropped with a warning and rebuilt on first use.
    fields = ("model", "user", "item", "interactions", "negatives", "weight_col", "history",
              "best_epoch")
    foreign = type(state)(**{name: getattr(small._fitted, name) for name in fields})
    foreign.attach_index("recommend", state.built_indexes()["recommend"])
    bad = save_recommender(small.get_params(), foreign, tmp_path / "foreign.hrec")
    with pytest.warns(UserWarning, match="approximate index is not used"):
        _, restored = load_recommender(bad)
    assert restored.built_indexes() == {}
    assert params["no_components"] == 6
    assert restored.approximate_index("recommend").n_items == len(small.item_mapper_)


def test_ranking_controls_with_approximate(small):
    rec = small
    n_clusters = rec.approximate_index()["n_clusters"]
    # Diversity re-ranks the approximate pool: at a full probe it equals the exact path.
    pd.testing.assert_frame_equal(
        rec.recommend(k=5, diversity=0.5, approximate=True, n_probe=n_clusters),
        rec.recommend(k=5, diversity=0.5), check_exact=True)
    for option in (dict(item_biases=False), dict(popularity_penalty=0.5)):
        with pytest.raises(ValueError, match="approximate=True ranks by the model's score"):
            rec.recommend(k=5, approximate=True, **option)


def test_bad_arguments(small):
    rec = small
    with pytest.raises(ValueError, match="approximate must be True or False"):
        rec.recommend(k=5, approximate="yes")
    with pytest.raises(ValueError, match="approximate must be True or False"):
        rec.similar_items(rec.item_mapper_.keys[:2], approximate=1)
    with pytest.raises(ValueError, match="n_probe=3 applies only with approximate=True"):
        rec.recommend(k=5, n_probe=3)
    with pytest.raises(ValueError, match="n_probe=3 applies only with approximate=True"):
        rec.similar_items(rec.item_mapper_.keys[:2], n_probe=3)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_probe"):
            rec.recommend(k=5, approximate=True, n_probe=bad)
    n_clusters = rec.approximate_index()["n_clusters"]
    with pytest.raises(ValueError, match=rf"n_probe must be an integer in \[1, {n_clusters}\]"):
        rec.recommend(k=5, approximate=True, n_probe=n_clusters + 1)
    with pytest.raises(ValueError, match="kind must be one of"):
        rec.approximate_index("users")
    with pytest.raises(KeyError, match="unknown"):
        rec.recommend(["nobody"], k=5, approximate=True)
    with pytest.raises(ValueError, match="not fitted"):
        Recommender().recommend(approximate=True)
    with pytest.raises(ValueError, match="not fitted"):
        Recommender().approximate_index()
