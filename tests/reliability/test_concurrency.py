"""Concurrency: parallel reads equal serial ones; a fit refuses reads beside it.

Policy (``hybridrec.model._Guard``): predictions, ranks, representations, metrics,
``Recommender.recommend``/``similar_items``/``explain``/... may run from several Python
threads at once (the kernels release the GIL). A read started while another thread fits
the same object raises ``RuntimeError``; a fit waits for reads already running, and a
second concurrent fit of the same object is refused.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec import LightFM
from hybridrec.kernels import scoring
from hybridrec.metrics import precision_at_k

THREADS = 6
ROUNDS = 4


def _run_concurrently(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_predict_equals_serial(fitted_model, small_train, tag):
    tag("concurrency")
    rng = np.random.default_rng(0)
    jobs = [(rng.integers(0, 20, 500), rng.integers(0, 30, 500)) for _ in range(THREADS)]
    serial = [fitted_model.predict(u, i) for u, i in jobs]
    for _ in range(ROUNDS):
        results = _run_concurrently([lambda u=u, i=i: fitted_model.predict(u, i, num_threads=2)
                                     for u, i in jobs])
        for got, expected in zip(results, serial, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_parallel_ranks_and_metrics_equal_serial(fitted_model, small_train, tag):
    tag("concurrency")
    serial_ranks = fitted_model.predict_rank(small_train).toarray()
    serial_precision = precision_at_k(fitted_model, small_train, k=5)
    calls = [lambda: fitted_model.predict_rank(small_train).toarray(),
             lambda: precision_at_k(fitted_model, small_train, k=5, num_threads=2)] * 3
    for _ in range(ROUNDS):
        results = _run_concurrently(calls)
        for j, got in enumerate(results):
            np.testing.assert_array_equal(got, serial_ranks if j % 2 == 0 else
                                          serial_precision)


def test_parallel_recommend_similar_explain_equal_serial(fitted_recommender, frames, tag):
    tag("concurrency")
    rec = fitted_recommender
    users = frames[0]["user_id"].unique()[:10].tolist()
    calls = [lambda: rec.recommend(users, k=5),
             lambda: rec.similar_items(["i00", "i01", "i02"], k=4),
             lambda: rec.explain(users[0], "i03")]
    serial = [call() for call in calls]
    for _ in range(ROUNDS):
        results = _run_concurrently(calls * 2)
        for j, got in enumerate(results):
            pd.testing.assert_frame_equal(got, serial[j % 3])


def test_predict_during_fit_is_refused_then_works(monkeypatch, tag):
    tag("concurrency")
    train = sp.random(50, 40, density=0.1, random_state=0, format="coo", dtype=np.float32)
    model = LightFM(loss="warp", no_components=4, random_state=0).fit(train)
    expected = model.predict(0, np.arange(40))
    started, release = threading.Event(), threading.Event()
    real = model._run_epoch

    def blocking_epoch(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "_run_epoch", blocking_epoch)
    errors = []
    fitter = threading.Thread(target=lambda: errors.append(
        _catch(lambda: model.fit_partial(train, epochs=1))))
    fitter.start()
    assert started.wait(30)
    try:
        for call in (lambda: model.predict(0, np.arange(40)),
                     lambda: model.predict_rank(train),
                     model.get_item_representations,
                     lambda: precision_at_k(model, train)):
            with pytest.raises(RuntimeError, match="being fitted in another thread"):
                call()
        with pytest.raises(RuntimeError, match="another thread is already fitting"):
            model.fit_partial(train)
        with pytest.raises(RuntimeError, match="another thread is already fitting"):
            model.fit(train)
    finally:
        release.set()
        fitter.join(60)
    assert errors == [None]
    monkeypatch.undo()
    after = model.predict(0, np.arange(40))  # reads work again once the fit returned
    assert after.shape == expected.shape and np.isfinite(after).all()


def _catch(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - reported to the main thread
        return error
    return None


def test_fit_waits_for_running_predictions(monkeypatch, tag):
    tag("concurrency")
    train = sp.random(30, 20, density=0.2, random_state=0, format="coo", dtype=np.float32)
    model = LightFM(no_components=4, random_state=0).fit(train)
    expected = model.predict(1, np.arange(20))
    inside, release = threading.Event(), threading.Event()
    real = scoring.predict_pairs

    def blocking_predict(*args):
        inside.set()
        assert release.wait(30)
        return real(*args)

    monkeypatch.setattr(scoring, "predict_pairs", blocking_predict)
    results = {}
    reader = threading.Thread(target=lambda: results.update(
        scores=model.predict(1, np.arange(20))))
    reader.start()
    assert inside.wait(30)
    fit_done = threading.Event()
    fitter = threading.Thread(target=lambda: (model.fit_partial(train, epochs=2),
                                              fit_done.set()))
    fitter.start()
    assert not fit_done.wait(0.5)   # the fit waits for the prediction in flight
    release.set()
    reader.join(30)
    fitter.join(60)
    assert fit_done.is_set()
    np.testing.assert_array_equal(results["scores"], expected)  # read the old parameters


def test_reads_during_recommender_fit_see_the_previous_state(fitted_recommender, frames,
                                                             monkeypatch, tag):
    tag("concurrency")
    import copy
    rec = copy.deepcopy(fitted_recommender)
    before = {"recommend": rec.recommend(k=3), "similar": rec.similar_items("i00"),
              "explain": rec.explain("u00", "i00")}
    started, release = threading.Event(), threading.Event()
    real = LightFM.fit_partial

    def blocking_fit_partial(self, *args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LightFM, "fit_partial", blocking_fit_partial)
    fitter = threading.Thread(target=lambda: rec.fit_partial(frames[0].iloc[:20], epochs=1))
    fitter.start()
    assert started.wait(30)
    try:
        # Reads answer from the published (pre-fit) state, never refused.
        pd.testing.assert_frame_equal(rec.recommend(k=3), before["recommend"])
        pd.testing.assert_frame_equal(rec.similar_items("i00"), before["similar"])
        pd.testing.assert_frame_equal(rec.explain("u00", "i00"), before["explain"])
        with pytest.raises(RuntimeError, match="already updating"):
            rec.fold_in(pd.DataFrame({"user_id": ["new"], "item_id": ["i00"],
                                      "rating": [1.0]}))
    finally:
        release.set()
        fitter.join(60)
    assert len(rec.recommend(k=3)) > 0


def test_guard_is_invisible_to_pickle_and_params(fitted_model, tag):
    tag("concurrency")
    import copy
    import pickle
    clone = pickle.loads(pickle.dumps(fitted_model))
    assert copy.deepcopy(fitted_model).get_params() == fitted_model.get_params()
    np.testing.assert_array_equal(clone.predict(0, np.arange(5)),
                                  fitted_model.predict(0, np.arange(5)))
    assert "_Guard" not in repr(vars(fitted_model))
