"""Divergence and interruption: the diverged error, and no NaN left behind.

A fit_partial whose epoch produces non-finite parameters raises LightFM's "diverged"
error and restores the twelve state arrays and the generator to their state before that
epoch; ``fit`` puts back the model it replaced. Faults are real (a learning rate that
overflows) and injected (an epoch kernel that writes NaN, one that raises, one that is
interrupted).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM, Recommender
from hybridrec.kernels import losses

from .conftest import model_checksum, recommender_checksum

TRAIN = sp.random(200, 200, density=0.05, random_state=0, format="coo", dtype=np.float32)


def _trained(loss="warp", **params):
    return LightFM(loss=loss, no_components=4, random_state=0, **params).fit(TRAIN, epochs=2)


@pytest.mark.parametrize("loss", ["logistic", "bpr", "warp", "warp-kos"])
def test_real_divergence_restores_the_last_good_state(tag, loss):
    tag("fault injected")
    model = _trained(loss)
    before = model_checksum(model)
    model.learning_rate = 1e30  # every update overflows float32
    with pytest.raises(ValueError, match="may have diverged. .*restored to their state "
                                         "before the failing epoch"):
        model.fit_partial(TRAIN, epochs=3)
    assert model._is_healthy()
    model.learning_rate = 0.05
    assert model_checksum(model) == before
    model.fit_partial(TRAIN, epochs=1)  # and training can go on
    assert model._is_healthy()


def test_divergence_in_a_later_epoch_keeps_the_earlier_epochs(tag, monkeypatch):
    tag("fault injected")
    model = _trained("bpr")
    reference = _trained("bpr")
    reference.fit_partial(TRAIN, epochs=2)   # what two good epochs give
    real = losses.fit_bpr
    calls = {"n": 0}

    def third_epoch_writes_nan(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            args[11][0, 0] = np.nan  # user_embeddings (see model._run_epoch's argument order)

    monkeypatch.setattr(losses, "fit_bpr", third_epoch_writes_nan)
    with pytest.raises(ValueError, match=r"diverged.*epoch \(3 of 5 in this call\)"):
        model.fit_partial(TRAIN, epochs=5)
    assert model_checksum(model) == model_checksum(reference)


@pytest.mark.parametrize("fault", [KeyboardInterrupt, MemoryError, RuntimeError])
def test_an_epoch_interrupted_mid_way_is_rolled_back(tag, monkeypatch, fault):
    tag("fault injected")
    model = _trained("warp")
    before = model_checksum(model)
    real = losses.fit_warp

    def half_then_fail(*args, **kwargs):
        real(*args, **kwargs)   # the parameters have moved...
        raise fault("injected")  # ...and then the epoch dies

    monkeypatch.setattr(losses, "fit_warp", half_then_fail)
    with pytest.raises(fault):
        model.fit_partial(TRAIN, epochs=2)
    assert model_checksum(model) == before


def test_nan_in_an_accumulator_counts_as_divergence(tag, monkeypatch):
    tag("fault injected")
    model = _trained("warp", learning_schedule="adadelta")
    before = model_checksum(model)
    real = losses.fit_warp

    def poison_accumulator(*args, **kwargs):
        real(*args, **kwargs)
        args[12][0, 0] = np.nan  # user_embedding_gradients

    monkeypatch.setattr(losses, "fit_warp", poison_accumulator)
    with pytest.raises(ValueError, match="diverged"):
        model.fit_partial(TRAIN)
    assert model_checksum(model) == before


def test_fit_that_diverges_keeps_the_previous_model(tag):
    tag("fault injected")
    model = _trained("warp")
    before = model_checksum(model)
    model.learning_rate = 1e30
    with pytest.raises(ValueError, match="diverged"):
        model.fit(TRAIN, epochs=2)
    model.learning_rate = 0.05
    assert model_checksum(model) == before


def test_fit_from_scratch_that_diverges_leaves_an_unfitted_model(tag):
    tag("fault injected")
    model = LightFM(loss="warp", learning_rate=1e30, random_state=0)
    with pytest.raises(ValueError, match="diverged"):
        model.fit(TRAIN, epochs=2)
    assert model.item_embeddings is None and model.random_state_ is None


def test_recommender_fit_partial_divergence_keeps_the_recommender(tag, frames):
    tag("fault injected")
    interactions, _ = frames
    rec = Recommender(no_components=4, epochs=1, random_state=0).fit(interactions)
    before = recommender_checksum(rec)
    rec.set_params(learning_rate=1e30)   # applies to the next update's training copy
    with pytest.raises(ValueError, match="diverged"):
        rec.fit_partial(interactions.iloc[:50])
    rec.set_params(learning_rate=0.05)
    assert recommender_checksum(rec) == before
    assert rec.model_._is_healthy()


def test_snapshot_does_not_change_serial_results(tag):
    """The per-epoch copy is read-only bookkeeping: serial training is still bitwise
    reproducible and equal to one long call."""
    tag("fault injected")
    one = LightFM(loss="warp", no_components=4, random_state=5).fit(TRAIN, epochs=3)
    two = LightFM(loss="warp", no_components=4, random_state=5).fit(TRAIN, epochs=1)
    two.fit_partial(TRAIN, epochs=2)
    assert model_checksum(one) == model_checksum(two)


def test_first_epoch_rollback_reads_the_published_copy_without_changing_it(tag,
                                                                           monkeypatch):
    """fit_partial's first epoch rolls back from the copy published for other threads'
    reads (no second copy); a later epoch's rollback copy is its own, so the published
    copy (what a concurrent read sees) stays the state before the call throughout."""
    from hybridrec._guard import published_before_update

    tag("fault injected")
    model = _trained("bpr")
    before = {name: getattr(model, name).copy() for name in model._state_names()}
    real = losses.fit_bpr
    seen = []

    def second_epoch_writes_nan(*args, **kwargs):
        published = published_before_update(model)
        seen.append(all(np.array_equal(getattr(published, name), array)
                        for name, array in before.items()))
        real(*args, **kwargs)
        if len(seen) == 2:
            args[11][0, 0] = np.nan  # user_embeddings

    monkeypatch.setattr(losses, "fit_bpr", second_epoch_writes_nan)
    with pytest.raises(ValueError, match=r"diverged.*epoch \(2 of 3 in this call\)"):
        model.fit_partial(TRAIN, epochs=3)
    assert seen == [True, True]
    model.learning_rate = 1e30  # and a failing first epoch restores from that copy
    monkeypatch.setattr(losses, "fit_bpr", real)
    state = {name: getattr(model, name).copy() for name in model._state_names()}
    with pytest.raises(ValueError, match="diverged"):
        model.fit_partial(TRAIN, epochs=1)
    assert all(np.array_equal(getattr(model, name), array) for name, array in state.items())


@pytest.mark.parametrize("schedule", ["adagrad", "adadelta"])
def test_parallel_state_passes_roll_back_as_numpy_ones(tag, monkeypatch, schedule):
    """With every array above the size for parallel copies and checks (normally only large
    models), a divergence in a later epoch is caught and rolled back just the same."""
    import hybridrec.model

    tag("fault injected")
    monkeypatch.setattr(hybridrec.model, "_PARALLEL_PASS_MIN", 0)
    model = _trained("warp", learning_schedule=schedule)
    reference = _trained("warp", learning_schedule=schedule)
    reference.fit_partial(TRAIN, epochs=1)
    real = losses.fit_warp
    calls = {"n": 0}

    def second_epoch_poisons_an_accumulator(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            args[12][3, 1] = np.inf  # user_embedding_gradients

    monkeypatch.setattr(losses, "fit_warp", second_epoch_poisons_an_accumulator)
    with pytest.raises(ValueError, match=r"diverged.*epoch \(2 of 2 in this call\)"):
        model.fit_partial(TRAIN, epochs=2)
    assert model_checksum(model) == model_checksum(reference)
