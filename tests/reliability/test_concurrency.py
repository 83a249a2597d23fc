"""Concurrency: parallel reads equal serial ones; reads beside a fit see the state from
before it; two fits at once are refused.

Policy (``hybridrec._guard``): predictions, ranks, representations, metrics, save and
every ``Recommender`` read may run from several Python threads at once (the kernels
release the GIL). A read started while another thread fits the same object answers from
the state as it was when the fit began (LightFM: a copy the fit publishes when it starts;
Recommender: the published state, whose model is never trained again), and the new
state is visible once the fit returns; a fit waits for reads already running, and a
second concurrent fit of the same object raises ``RuntimeError``.
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


def _block_epochs(model, monkeypatch):
    """Make ``model``'s epochs wait: returns (started, release) events."""
    started, release = threading.Event(), threading.Event()
    real = model._run_epoch

    def blocking_epoch(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "_run_epoch", blocking_epoch)
    return started, release


def test_reads_during_a_fit_see_the_state_before_it(monkeypatch, tag):
    tag("concurrency")
    train = sp.random(50, 40, density=0.1, random_state=0, format="coo", dtype=np.float32)
    model = LightFM(loss="warp", no_components=4, random_state=0).fit(train)
    before = {"predict": model.predict(0, np.arange(40)),
              "rank": model.predict_rank(train).toarray(),
              "items": model.get_item_representations()[1],
              "precision": precision_at_k(model, train)}
    started, release = _block_epochs(model, monkeypatch)
    errors = []
    fitter = threading.Thread(target=lambda: errors.append(
        _catch(lambda: model.fit_partial(train, epochs=1))))
    fitter.start()
    assert started.wait(30)
    try:
        np.testing.assert_array_equal(model.predict(0, np.arange(40)), before["predict"])
        np.testing.assert_array_equal(model.predict_rank(train).toarray(), before["rank"])
        np.testing.assert_array_equal(model.get_item_representations()[1], before["items"])
        np.testing.assert_array_equal(precision_at_k(model, train), before["precision"])
        with pytest.raises(RuntimeError, match="another thread is already fitting"):
            model.fit_partial(train)
        with pytest.raises(RuntimeError, match="another thread is already fitting"):
            model.fit(train)
    finally:
        release.set()
        fitter.join(60)
    assert errors == [None]
    monkeypatch.undo()
    after = model.predict(0, np.arange(40))  # the new state, once the fit returned
    assert not np.array_equal(after, before["predict"]) and np.isfinite(after).all()


def test_read_beside_a_first_fit_says_not_fitted(monkeypatch, tag):
    tag("concurrency")
    train = sp.random(30, 20, density=0.2, random_state=0, format="coo", dtype=np.float32)
    model = LightFM(no_components=4, random_state=0)
    started, release = _block_epochs(model, monkeypatch)
    fitter = threading.Thread(target=lambda: model.fit(train, epochs=1))
    fitter.start()
    assert started.wait(30)
    try:
        with pytest.raises(ValueError, match="You must fit the model"):
            model.predict(0, np.arange(20))
    finally:
        release.set()
        fitter.join(60)
    assert np.isfinite(model.predict(0, np.arange(20))).all()


def test_hammering_reads_during_fits_see_old_or_new_never_a_mix(tag):
    """A reader thread calls predict and predict_rank without pause while the main thread
    runs several fit_partial calls, one of which diverges: every answer equals the
    serial answer of a state that existed between calls, never an error."""
    tag("concurrency")
    train = sp.random(1500, 400, density=0.03, random_state=1, format="coo",
                      dtype=np.float32)
    model = LightFM(loss="warp", no_components=8, random_state=0).fit(train, epochs=2)
    items = np.arange(400)
    states = [model.predict(3, items)]
    seen, failures, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.append(model.predict(3, items))
                if len(seen) % 10 == 0:
                    model.predict_rank(train)
            except Exception as error:  # noqa: BLE001 - any error fails the test
                failures.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for epochs in (20, 10, 20):
            model.fit_partial(train, epochs=epochs)
            states.append(model.predict(3, items))
        huge = sp.coo_matrix((np.full(train.nnz, 1e30, np.float32), (train.row, train.col)),
                             shape=train.shape)
        model.set_params(learning_rate=1e30)
        with pytest.raises(ValueError, match="diverged"):
            model.fit_partial(train, sample_weight=huge, epochs=1)
        model.set_params(learning_rate=0.05)
        states.append(model.predict(3, items))
    finally:
        stop.set()
        thread.join(60)
    assert not failures, failures[:3]
    assert len(seen) > 10
    for answer in seen:
        assert any(np.array_equal(answer, state) for state in states)


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
    assert "guard" not in repr(vars(fitted_model)).lower()


def test_recommender_serves_while_it_is_updated(tag):
    """A reader hammers recommend() and predict() while the main thread runs fit_partial
    (new users and items), fold_in, add_items and a failing fit_partial: every answer
    equals the serial answer of one of the published states, never an error."""
    tag("concurrency")
    from hybridrec import Recommender
    from hybridrec.data import synthetic

    data = synthetic(n_users=300, n_items=120, n_interactions=6000, random_state=5)
    frame = data.interactions[["user_id", "item_id"]].assign(w=1.0)
    known_items = frame["item_id"].unique()
    rec = Recommender(no_components=8, epochs=3, random_state=0).fit(
        frame.iloc[:4000], weight_col="w",
        item_features=data.items[data.items["item_id"].isin(known_items)])
    users = list(frame["user_id"].iloc[:20].unique()[:5])

    def answers():
        state = rec._state   # one read of the published state: model and features agree
        scores = state.model.predict(0, np.arange(len(state.item)),
                                     user_features=state.user.matrix,
                                     item_features=state.item.matrix)
        return rec.recommend(users, k=5), scores

    states = [answers()]
    seen, failures, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                state = rec._state
                scores = state.model.predict(0, np.arange(len(state.item)),
                                             user_features=state.user.matrix,
                                             item_features=state.item.matrix)
                seen.append((rec.recommend(users, k=5), scores))
            except Exception as error:  # noqa: BLE001 - any error fails the test
                failures.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        batch = frame.iloc[4000:5000].copy()
        batch.loc[batch.index[:30], "user_id"] = "newcomer"
        rec.fit_partial(batch, epochs=3)
        states.append(answers())
        rec.fold_in(pd.DataFrame({"user_id": ["late", "late", "newcomer"],
                                  "item_id": [known_items[0], "brand-new", "brand-new"],
                                  "w": 1.0}), epochs=3)
        states.append(answers())
        rec.add_items(pd.DataFrame({"item_id": ["cold1", "cold2"], "genre": "topic1",
                                    "price": 3.0, "tags": [["style1"], ["style2"]]}))
        states.append(answers())
        with pytest.raises(ValueError, match="diverged"):
            rec.set_params(learning_rate=1e30)
            rec.fit_partial(frame.iloc[5000:].assign(w=1e30), epochs=2)
        rec.set_params(learning_rate=0.05)
        states.append(answers())
        pd.testing.assert_frame_equal(states[-1][0], states[-2][0])  # nothing changed
    finally:
        stop.set()
        thread.join(60)
    assert not failures, failures[:3]
    assert len(seen) > 5
    # recommend() and the predict() above are two reads, so a publish may fall between
    # them: each answer on its own must be one published state's answer, never a mix.
    for frame_seen, scores_seen in seen:
        assert any(frame_seen.equals(frame_state) for frame_state, _ in states)
        assert any(np.array_equal(scores_seen, scores) for _, scores in states)
