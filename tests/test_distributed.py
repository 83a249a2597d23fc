"""hybridrec.distributed on a real 2-process distributed.LocalCluster (loopback only).

Every result is compared exactly with the single-machine Recommender on the same model.
Skipped when the dask extra is missing, except under CI=true, where it must be present
(the README's test command installs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

if os.environ.get("CI", "").lower() == "true":
    import distributed  # noqa: F401  (CI installs the extra: a missing one is a failure)
distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

from hybridrec import Recommender  # noqa: E402
from hybridrec.data import synthetic  # noqa: E402
from hybridrec.distributed import (  # noqa: E402
    DaskRecommender,
    evaluate_dask,
    map_ids_dask,
    recommend_dask,
    scatter_recommender,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                    silence_logs=50)


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as client:
        yield client


def _split(string_keys: bool):
    data = synthetic(240, 130, 5000, random_state=3, string_keys=string_keys)
    frame = data.interactions
    test_mask = np.random.default_rng(0).random(len(frame)) < 0.2
    return frame[~test_mask], frame[test_mask]


@pytest.fixture(scope="module")
def fitted():
    train, test = _split(string_keys=True)
    model = Recommender(no_components=8, epochs=3, random_state=1).fit(train)
    return model, train, test


@pytest.fixture(scope="module")
def handle(client, fitted):
    return scatter_recommender(fitted[0], client)


def test_core_package_does_not_import_dask():
    code = ("import sys, hybridrec, hybridrec.recommender, hybridrec.metrics, hybridrec.data;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'));"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scatter_replicates_the_snapshot_on_every_worker(client, handle):
    assert isinstance(handle, DaskRecommender)
    holders = client.who_has([handle.future])[handle.future.key]
    assert len(holders) == 2
    # The graph refers to the snapshot by key: it never embeds the (large) object.
    graph = dict(recommend_dask(handle, k=3).__dask_graph__())
    assert handle.future.key in graph or any(
        handle.future.key in str(value) for value in graph.values())
    assert not any(type(value).__name__ == "ScoringSnapshot" for value in graph.values())


@pytest.mark.parametrize("partition_users", [1, 37, 1000])
def test_all_users_equal_single_machine(fitted, handle, partition_users):
    model, _, _ = fitted
    lazy = recommend_dask(handle, k=5, partition_users=partition_users)
    assert lazy.npartitions == -(-len(model.user_mapper_) // partition_users)
    result = lazy.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(result, model.recommend(k=5), check_exact=True)


def test_user_frame_partitioning_and_options(fitted, handle):
    model, _, test = fitted
    users = test[["user_id"]].drop_duplicates().iloc[::-1].reset_index(drop=True)
    collection = dd.from_pandas(users, npartitions=4, sort=False)
    item_keys = list(model.item_mapper_.keys)
    options = dict(k=7, exclude_seen=False, items=model.item_mapper_.keys[:90],
                   filter_items=[item_keys[3], item_keys[5], "not-an-item"])
    lazy = recommend_dask(handle, collection, **options)
    assert lazy.npartitions == collection.npartitions
    for part, source in zip(lazy.to_delayed(), collection.to_delayed(), strict=True):
        expected = model.recommend(users=source.compute()["user_id"], **options)
        got = part.compute().reset_index(drop=True)
        expected["user"] = expected["user"].astype(got["user"].dtype)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_recommender_is_scattered_by_the_call_and_int_keys_work(client):
    train, _ = _split(string_keys=False)
    model = Recommender(no_components=6, epochs=2, random_state=0).fit(train)
    users = dd.from_pandas(pd.Series(model.user_mapper_.keys[::3].to_numpy(), name="u"),
                           npartitions=3)
    got = recommend_dask(model, users, k=4, client=client).compute().reset_index(drop=True)
    expected = model.recommend(users=model.user_mapper_.keys[::3], k=4)
    assert got["user"].dtype == np.int64 and got["item"].dtype == np.int64
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_unknown_users_raise_on_compute(fitted, handle):
    known = fitted[0].user_mapper_.keys[0]
    users = dd.from_pandas(pd.Series([known, "nobody"], name="user"), npartitions=1)
    with pytest.raises(KeyError, match="unknown user.*nobody"):
        recommend_dask(handle, users, k=3).compute()


def test_argument_errors(client, fitted, handle):
    model, _, test = fitted
    with pytest.raises(ValueError, match="k must be"):
        recommend_dask(handle, k=0)
    with pytest.raises(ValueError, match="partition_users"):
        recommend_dask(handle, partition_users=0)
    with pytest.raises(TypeError, match="users must be a dask Series"):
        recommend_dask(handle, ["u001"])
    with pytest.raises(ValueError, match="no column 'who'"):
        recommend_dask(handle, dd.from_pandas(test, npartitions=1), user_col="who")
    with pytest.raises(KeyError, match="items: 1 unknown"):
        recommend_dask(handle, items=[model.item_mapper_.keys[1], "zzz"])
    with pytest.raises(TypeError, match="test must be a dask DataFrame"):
        evaluate_dask(handle, test)
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_dask(handle, dd.from_pandas(test, npartitions=1), metrics=("nope",))
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        scatter_recommender(model, client="tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="recommender must be a hybridrec.Recommender"):
        scatter_recommender(object(), client)
    with pytest.raises(ValueError, match="unknown must be"):
        map_ids_dask(handle, dd.from_pandas(test, npartitions=1), unknown="skip")


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_evaluate_equals_single_machine(fitted, handle, exclude_seen):
    model, _, test = fitted
    user, item = model.user_mapper_.keys[1], model.item_mapper_.keys[1]
    extra = pd.DataFrame({"user_id": ["ghost", user], "item_id": [item, "no-item"],
                          "rating": [1.0, 1.0], "timestamp": [0, 0]})
    frame = pd.concat([test, extra], ignore_index=True)
    expected = model.evaluate(frame, k=(3, 10), exclude_seen=exclude_seen,
                              metrics=("precision", "recall", "ndcg", "map", "hit_rate",
                                       "auc", "reciprocal_rank", "coverage", "popularity"))
    got = evaluate_dask(handle, dd.from_pandas(frame, npartitions=5), k=(3, 10),
                        exclude_seen=exclude_seen)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs["dropped_rows"] == expected.attrs["dropped_rows"] == 2


def test_evaluate_does_not_depend_on_partitioning(handle, fitted):
    _, _, test = fitted
    tables = [evaluate_dask(handle, dd.from_pandas(test.sample(frac=1.0, random_state=seed),
                                                   npartitions=n), k=5)
              for seed, n in ((0, 1), (1, 3), (2, 7))]
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0], check_exact=True)


def test_map_ids_policies(fitted, handle):
    model, _, test = fitted
    frame = pd.concat([test.head(30), pd.DataFrame({"user_id": ["ghost"],
                                                    "item_id": [test["item_id"].iloc[0]]})],
                      ignore_index=True)
    collection = dd.from_pandas(frame, npartitions=3)
    ignored = map_ids_dask(handle, collection, unknown="ignore").compute()
    np.testing.assert_array_equal(
        ignored["user_index"], model.user_mapper_.transform(frame["user_id"],
                                                            unknown="ignore"))
    np.testing.assert_array_equal(
        ignored["item_index"], model.item_mapper_.transform(frame["item_id"],
                                                            unknown="ignore"))
    dropped = map_ids_dask(handle, collection, unknown="drop").compute()
    assert len(dropped) == 30 and (dropped["user_index"] >= 0).all()
    with pytest.raises(KeyError, match="unknown user key.*ghost"):
        map_ids_dask(handle, collection).compute()


def _slow_users(keys: np.ndarray) -> pd.Series:
    time.sleep(0.25)  # reading a partition takes a while, so the run can be interrupted
    return pd.Series(keys, name="user")


def test_killed_worker_is_retried_and_the_result_is_complete(fitted):
    model, _, _ = fitted
    keys = model.user_mapper_.keys.to_numpy()
    chunks = np.array_split(keys, 40)
    with _cluster() as cluster, distributed.Client(cluster) as client:
        handle = scatter_recommender(model, client)
        users = dd.from_map(_slow_users, chunks,
                            meta=pd.Series([], dtype=pd.Series(keys[:1]).dtype,
                                           name="user"))
        # One future per output partition, as a to_parquet-style consumer would hold.
        futures = client.compute(recommend_dask(handle, users, k=4).to_delayed())
        deadline = time.time() + 60
        while not any(f.done() for f in futures) and time.time() < deadline:
            time.sleep(0.05)
        pids = client.run(os.getpid)
        assert not all(f.done() for f in futures), "the run ended before the kill"
        os.kill(pids[sorted(pids)[0]], signal.SIGKILL)
        result = pd.concat(client.gather(futures), ignore_index=True)
        assert pids[sorted(pids)[0]] not in client.run(os.getpid).values()
    expected = model.recommend(k=4)
    expected["user"] = expected["user"].astype(result["user"].dtype)
    pd.testing.assert_frame_equal(result, expected, check_exact=True)


def test_too_many_threads_run_with_numba_s_count(fitted, handle, monkeypatch):
    """num_threads above NUMBA_NUM_THREADS: checked (clamped, warned once) where the
    call is made, and a partition run with such a count on a worker clamps the same way."""
    import warnings

    import numba

    import hybridrec._threads as threads_module
    from hybridrec.queries import evaluate_frame, recommend

    monkeypatch.setattr(threads_module, "_CLAMP_WARNED", set())
    model, _, test = fitted
    too_many = 16 * numba.config.NUMBA_NUM_THREADS
    with pytest.warns(UserWarning, match=f"num_threads={too_many} is more than the"):
        lazy = recommend_dask(handle, k=5, num_threads=too_many)
    pd.testing.assert_frame_equal(lazy.compute().reset_index(drop=True), model.recommend(k=5),
                                  check_exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: no second warning
        got = evaluate_dask(handle, dd.from_pandas(test, npartitions=3), k=5,
                            num_threads=too_many)
    pd.testing.assert_frame_equal(got, evaluate_dask(handle, dd.from_pandas(test,
                                                                            npartitions=3),
                                                     k=5), check_exact=True)
    # What a worker runs for one partition, given the unclamped count.
    snapshot = model.scoring_snapshot()
    keys = model.user_mapper_.keys.to_numpy()[:7]
    pd.testing.assert_frame_equal(recommend(snapshot, keys, 5, True, None, too_many),
                                  recommend(snapshot, keys, 5, True, None, 1),
                                  check_exact=True)
    parts, _ = evaluate_frame(snapshot, test, (5,), ("precision", "auc"), True, None,
                              too_many)
    reference, _ = evaluate_frame(snapshot, test, (5,), ("precision", "auc"), True, None, 1)
    assert parts.n_users == reference.n_users > 0
    assert parts.sums.keys() == reference.sums.keys()
    for key, (values, squares) in reference.sums.items():
        np.testing.assert_array_equal(parts.sums[key][0], values)
        np.testing.assert_array_equal(parts.sums[key][1], squares)
