"""LightFM.fit / fit_partial(early_stopping=EarlyStopping(...)): per-epoch history, early
stop, best epoch kept (parameters, accumulators and generator)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import EarlyStopping, LightFM
from hybridrec.metrics import auc_score, evaluate, ndcg_at_k, precision_at_k

STATE = ["item_embeddings", "item_embedding_gradients", "item_biases", "item_bias_gradients",
         "user_embeddings", "user_embedding_gradients", "user_biases", "user_bias_gradients"]


def _split(seed: int = 0, n_users: int = 60, n_items: int = 80, clusters: int = 4):
    """Users like the items of their cluster: a structure worth learning, split 80/20."""
    rng = np.random.default_rng(seed)
    user_cluster = rng.integers(0, clusters, n_users)
    item_cluster = rng.integers(0, clusters, n_items)
    like = (user_cluster[:, None] == item_cluster[None, :]) & (rng.random((n_users, n_items))
                                                               < 0.5)
    rows, cols = np.nonzero(like)
    test = rng.random(rows.shape[0]) < 0.2

    def matrix(mask: np.ndarray) -> sp.coo_matrix:
        return sp.coo_matrix((np.ones(int(mask.sum()), np.float32),
                              (rows[mask], cols[mask])), shape=(n_users, n_items))

    return matrix(~test), matrix(test).tocsr()


def _assert_same_state(a: LightFM, b: LightFM) -> None:
    for name in STATE:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _expected_stop(values: list[float], patience: int | None, min_delta: float = 0.0):
    """The rule, written out: (epochs run, best epoch) for a sequence of metric values."""
    best, best_epoch, since = -np.inf, None, 0
    for epoch, value in enumerate(values, start=1):
        if value > best + min_delta:
            best, best_epoch, since = value, epoch, 0
        else:
            since += 1
        if patience is not None and since >= patience:
            return epoch, best_epoch
    return len(values), best_epoch


def test_off_by_default_history_without_metrics():
    train, _ = _split()
    model = LightFM(loss="warp", random_state=0).fit(train, epochs=3)
    assert [record["epoch"] for record in model.history_] == [1, 2, 3]
    assert all(set(record) == {"epoch", "train_time"} and record["train_time"] >= 0
               for record in model.history_)
    assert model.best_epoch_ == 3
    assert LightFM().fit(train, epochs=0).history_ == []


def test_validating_does_not_change_training():
    """Evaluating between epochs draws nothing from the generator: with every epoch run
    and the last kept, the model is bit for bit the one trained without validation."""
    train, test = _split()
    plain = LightFM(loss="warp", random_state=1).fit(train, epochs=6)
    watched = LightFM(loss="warp", random_state=1).fit(
        train, epochs=6, early_stopping=EarlyStopping(test, train, patience=None,
                                                      restore_best=False))
    _assert_same_state(plain, watched)
    assert len(watched.history_) == 6 and watched.best_epoch_ == 6


@pytest.mark.parametrize("loss", ["warp", "bpr"])
def test_best_epoch_is_kept_and_equals_training_that_long(loss):
    train, test = _split(1)
    stopping = EarlyStopping(test, train, metric="precision", k=5, patience=2)
    model = LightFM(loss=loss, no_components=16, learning_rate=0.3, random_state=2)
    model.fit(train, epochs=40, early_stopping=stopping)
    values = [record["precision@5"] for record in model.history_]
    ran, best = _expected_stop(values, patience=2)
    assert len(model.history_) == ran and model.best_epoch_ == best
    assert values[best - 1] == max(values)
    # The recorded metric is evaluate's, and the kept model is the best epoch's.
    assert precision_at_k(model, test, train, k=5).mean() == pytest.approx(values[best - 1],
                                                                           abs=1e-6)
    reference = LightFM(loss=loss, no_components=16, learning_rate=0.3, random_state=2)
    reference.fit(train, epochs=best)
    _assert_same_state(model, reference)
    # ... generator included: training on continues exactly as from that epoch.
    model.fit_partial(train, epochs=1)
    reference.fit_partial(train, epochs=1)
    _assert_same_state(model, reference)


def test_stops_when_validation_stops_improving():
    """Random interactions: nothing generalises, so the validation metric stalls and the
    fit ends long before its epoch budget."""
    train = sp.random(80, 120, density=0.08, format="coo", random_state=3, dtype=np.float32)
    test = sp.random(80, 120, density=0.02, format="csr", random_state=4, dtype=np.float32)
    test = test - test.multiply(train.tocsr().astype(bool))
    model = LightFM(loss="warp", no_components=32, learning_rate=0.2, random_state=0)
    model.fit(train, epochs=200, early_stopping=EarlyStopping(test, train, patience=3))
    assert len(model.history_) < 200
    values = [record["precision@10"] for record in model.history_]
    assert _expected_stop(values, 3) == (len(values), model.best_epoch_)


def test_min_delta_and_other_metrics_recorded():
    train, test = _split(2)
    stopping = EarlyStopping(test, train, metric="auc", k=5, patience=4, min_delta=1e-3,
                             record=("ndcg", "coverage", "reciprocal_rank"))
    model = LightFM(loss="warp", random_state=0).fit(train, epochs=25,
                                                     early_stopping=stopping)
    record = model.history_[0]
    assert {"epoch", "train_time", "eval_time", "auc", "ndcg@5", "coverage@5",
            "reciprocal_rank"} <= set(record)
    values = [r["auc"] for r in model.history_]
    assert _expected_stop(values, 4, 1e-3) == (len(values), model.best_epoch_)
    assert auc_score(model, test, train).mean() == pytest.approx(values[model.best_epoch_ - 1],
                                                                 abs=1e-6)
    assert ndcg_at_k(model, test, train, k=5).mean() == pytest.approx(
        model.history_[model.best_epoch_ - 1]["ndcg@5"], abs=1e-6)


def test_fit_partial_counts_epochs_within_the_call():
    train, test = _split(3)
    model = LightFM(loss="warp", random_state=0).fit(train, epochs=2)
    stopping = EarlyStopping(test, train, patience=None)
    model.fit_partial(train, epochs=4, early_stopping=stopping)
    assert [r["epoch"] for r in model.history_] == [1, 2, 3, 4]
    reference = LightFM(loss="warp", random_state=0).fit(train, epochs=2)
    reference.fit_partial(train, epochs=model.best_epoch_)
    _assert_same_state(model, reference)


def test_features_default_to_the_fit_s():
    """With item features (identity + 4 tags) the validation ranking needs them: it uses
    fit's unless the EarlyStopping has its own."""
    train, test = _split(4)
    tags = sp.random(80, 4, density=0.5, format="csr", random_state=0, dtype=np.float32)
    features = sp.hstack([sp.identity(80, dtype=np.float32), tags], format="csr")
    model = LightFM(loss="warp", random_state=0)
    model.fit(train, item_features=features, epochs=3,
              early_stopping=EarlyStopping(test, train, patience=None, restore_best=False))
    expected = evaluate(model, test, train, k=10, metrics=("precision",),
                        item_features=features)["mean"].iloc[0]
    assert model.history_[-1]["precision@10"] == pytest.approx(expected, abs=1e-9)
    # Its own features are used when given (here: the identity part only).
    identity = sp.identity(80, dtype=np.float32, format="csr")
    model.fit(train, item_features=features, epochs=3,
              early_stopping=EarlyStopping(test, train, patience=None, restore_best=False,
                                           item_features=identity))
    expected = evaluate(model, test, train, k=10, metrics=("precision",),
                        item_features=identity)["mean"].iloc[0]
    assert model.history_[-1]["precision@10"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    ({"metric": "popularity"}, "metric must be one of"),
    ({"metric": "precision@10"}, "metric must be one of"),
    ({"k": 0}, "k must be a positive integer"),
    ({"patience": 0}, "patience must be a positive integer or None"),
    ({"patience": 1.5}, "patience must be a positive integer or None"),
    ({"min_delta": -0.1}, "min_delta must be a finite number >= 0"),
    ({"min_delta": float("nan")}, "min_delta must be a finite number >= 0"),
    ({"record": ("auc", "mrr")}, r"record: unknown metrics \['mrr'\]"),
    ({"num_threads": 0}, "Number of threads must be 1 or larger"),
])
def test_invalid_configuration(kwargs, match):
    _, test = _split()
    with pytest.raises(ValueError, match=match):
        EarlyStopping(test, **kwargs)


def test_bad_matrices_are_refused_before_anything_changes():
    train, test = _split()
    model = LightFM(loss="warp", random_state=0).fit(train, epochs=1)
    before = {name: getattr(model, name).copy() for name in STATE}
    history = model.history_
    cases = [
        (EarlyStopping(test[:, :40], train.tocsr()[:, :40]), ValueError,
         r"validation_interactions has shape \(60, 40\) but the training interactions"),
        (EarlyStopping(test, train.tocsr()[:30]), ValueError,
         r"train_interactions has shape \(30, 80\)"),
        (EarlyStopping(train, train), ValueError, "share"),
        (EarlyStopping(sp.csr_matrix(test.shape)), ValueError, "has no entries"),
        (EarlyStopping(test.toarray()), ValueError,
         "early_stopping: validation_interactions must be a scipy.sparse matrix"),
        (EarlyStopping(test.multiply(np.nan).tocsr() + test), ValueError,
         "early_stopping: validation_interactions contains NaN"),
    ]
    for stopping, error, match in cases:
        for fit in (model.fit, model.fit_partial):
            with pytest.raises(error, match=match):
                fit(train, epochs=2, early_stopping=stopping)
    with pytest.raises(TypeError, match="early_stopping must be a hybridrec.EarlyStopping"):
        model.fit_partial(train, early_stopping={"patience": 3})
    for name in STATE:
        np.testing.assert_array_equal(getattr(model, name), before[name])
    assert model.history_ is history


def test_divergence_keeps_the_last_good_epoch_and_its_history():
    train = sp.random(300, 300, density=0.1, format="coo", random_state=0, dtype=np.float32)
    test = sp.random(300, 300, density=0.01, format="csr", random_state=1, dtype=np.float32)
    test = test - test.multiply(train.tocsr().astype(bool))
    model = LightFM(loss="warp", learning_rate=1e7, random_state=0)
    with pytest.raises(ValueError, match="diverged"):
        model.fit_partial(train, epochs=10,
                          early_stopping=EarlyStopping(test, train, patience=None))
    assert np.isfinite(model.item_embeddings).all()
    assert len(model.history_) < 10
    assert all("precision@10" in record for record in model.history_)


@pytest.mark.accuracy
def test_movielens_early_stopping_keeps_a_good_epoch(ml100k):
    """u1.base / u1.test with every rating a positive: WARP with a too-high learning rate
    peaks and then overfits; the kept epoch is the best measured one."""
    train, test = ml100k["train"], ml100k["test"].tocsr()
    model = LightFM(loss="warp", no_components=30, learning_rate=0.05, random_state=0)
    model.fit(train, epochs=60, early_stopping=EarlyStopping(test, train, patience=3))
    values = [record["precision@10"] for record in model.history_]
    assert _expected_stop(values, 3) == (len(values), model.best_epoch_)
    assert precision_at_k(model, test, train, k=10).mean() == pytest.approx(max(values),
                                                                            abs=1e-6)
    assert max(values) > 0.47  # the 10-epoch threshold of tests/accuracy/test_movielens.py
