"""LightFM drop-in fidelity: behaviour LightFM code (and LightFM's own tests) rely on.

Constructor errors catchable as ``AssertionError``, ``predict_rank`` refusing a matrix of
the wrong shape, and scikit-learn >= 1.6 model selection with LightFM's own
``test_sklearn_cv`` pattern. (Thread counts: tests/test_threads.py; LightFM's cache
layout: tests/data/test_datasets.py; BPR on +-1 data: tests/accuracy/.)
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec import InvalidParameterError, LightFM, Recommender
from hybridrec.metrics import evaluate, precision_at_k


def _random(n_users: int = 10, n_items: int = 100, density: float = 0.1,
            seed: int = 42) -> sp.csr_matrix:
    return sp.random(n_users, n_items, density=density, format="csr", random_state=seed,
                     dtype=np.float32)


# --------------------------------------------------------------- constructor errors
@pytest.mark.parametrize("kwargs, match", [
    ({"no_components": -1}, "no_components must be >= 1, got -1"),
    ({"user_alpha": -1}, "user_alpha must be >= 0.0, got -1"),
    ({"item_alpha": -1}, "item_alpha must be >= 0.0, got -1"),
    ({"rho": 1.5}, "rho must be > 0.0 and < 1.0, got 1.5"),
    ({"loss": "hinge-ish"}, "loss must be one of"),
    ({"learning_schedule": "sgd"}, "learning_schedule must be one of"),
    ({"max_sampled": -1.0}, "max_sampled must be a positive integer"),
])
def test_invalid_constructor_values_are_value_and_assertion_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as caught:
        LightFM(**kwargs)
    error = caught.value
    assert isinstance(error, InvalidParameterError)
    assert isinstance(error, AssertionError)  # LightFM's `assert` in __init__
    # Old LightFM code catching AssertionError keeps working.
    try:
        LightFM(**kwargs)
    except AssertionError as old_style:
        assert str(old_style) == str(error)
    else:  # pragma: no cover - the constructor raised above
        pytest.fail("no AssertionError")


def test_invalid_value_set_later_fails_at_fit_the_same_way():
    model = LightFM().set_params(no_components=0)
    with pytest.raises(AssertionError, match="no_components must be >= 1, got 0"):
        model.fit(_random())


# --------------------------------------------------------------- predict_rank shape
@pytest.fixture(scope="module")
def fitted() -> tuple[LightFM, sp.csr_matrix]:
    train = _random()
    return LightFM(random_state=0).fit(train), train


@pytest.mark.parametrize("shape", [(5, 5), (10, 99), (9, 100), (11, 100), (10, 101)])
def test_predict_rank_refuses_a_matrix_of_the_wrong_shape(fitted, shape):
    """As LightFM's test_predict_ranks: a 5 x 5 matrix (with no entries) on a 10 x 100
    model is a ValueError, as is any shape but the model's when no features are given."""
    model, _ = fitted
    empty = sp.csr_matrix(shape, dtype=np.float32)
    with pytest.raises(ValueError, match=r"Incorrect number of (users|items): "
                                         rf"test_interactions has shape \({shape[0]}, "
                                         rf"{shape[1]}\)"):
        model.predict_rank(empty, num_threads=2)
    some = _random(*shape, density=0.2, seed=1)
    with pytest.raises(ValueError, match="Incorrect number of"):
        model.predict_rank(some)
    with pytest.raises(ValueError, match="Incorrect number of"):
        precision_at_k(model, some)
    with pytest.raises(ValueError, match="Incorrect number of"):
        evaluate(model, some, k=3)


def test_predict_rank_right_shape_and_features_still_work(fitted):
    model, train = fitted
    assert model.predict_rank(sp.csr_matrix((10, 100))).shape == (10, 100)
    ranks = model.predict_rank(train).toarray()
    assert ranks.shape == (10, 100) and ranks.max() <= 99
    # With feature matrices the matrix may cover fewer users than there are features.
    identity = sp.identity(100, dtype=np.float32, format="csr")
    users = sp.identity(10, dtype=np.float32, format="csr")
    part = model.predict_rank(train[:4], user_features=users[:4], item_features=identity)
    np.testing.assert_array_equal(part.toarray(), ranks[:4])


# ------------------------------------------------------------------------- scikit-learn
def test_sklearn_tags_and_clone():
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    try:
        from sklearn.utils import get_tags
    except ImportError:  # scikit-learn < 1.6 has no tags objects (nor needs them)
        pytest.skip("scikit-learn < 1.6")

    model = LightFM(loss="warp", no_components=7, random_state=np.random.RandomState(3))
    tags = get_tags(model)
    assert tags.input_tags.sparse and tags.requires_fit and not tags.target_tags.required
    copy = clone(model)
    assert copy.get_params().keys() == model.get_params().keys()
    assert copy.no_components == 7 and copy.loss == "warp"
    assert get_tags(Recommender()).input_tags.sparse
    assert clone(Recommender(epochs=3)).epochs == 3


def _scorer(estimator, x, y=None) -> float:
    return float(precision_at_k(estimator, x).mean())


class _SameRowsCV:
    """LightFM's test_sklearn_cv CV: every split trains and tests on all rows (a
    recommender's rows are users, so a row split would hide users from the model)."""

    def __init__(self, n_splits: int) -> None:
        self.n_splits = n_splits

    def split(self, X, y=None, groups=None):
        rows = np.arange(X.shape[0])
        for _ in range(self.n_splits):
            yield rows, rows

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits


def test_randomized_search_cv_with_a_custom_scorer():
    """LightFM's own test_sklearn_cv pattern (it fails with LightFM on scikit-learn >= 1.6
    for want of __sklearn_tags__)."""
    pytest.importorskip("sklearn")
    from scipy import stats
    from sklearn.model_selection import RandomizedSearchCV

    train = _random(40, 60, density=0.2, seed=3).tocoo()
    randint = stats.randint(low=1, high=65)
    randint.random_state = 42
    gamma = stats.gamma(a=1.2, loc=0, scale=0.13)
    gamma.random_state = 42
    search = RandomizedSearchCV(
        estimator=LightFM(loss="warp", random_state=42),
        param_distributions={"no_components": randint, "learning_rate": gamma},
        n_iter=3, scoring=_scorer, random_state=42, cv=_SameRowsCV(2))
    search.fit(train)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and len(scores) == 3
    best = search.best_params_
    assert 1 <= best["no_components"] < 65
    # The refitted best estimator is a LightFM with those parameters and the same score.
    assert isinstance(search.best_estimator_, LightFM)
    assert search.best_estimator_.no_components == best["no_components"]
    refit = LightFM(loss="warp", random_state=42, **best).fit(train)
    assert _scorer(refit, train) == pytest.approx(_scorer(search.best_estimator_, train))


def test_cross_val_score_with_a_custom_scorer():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import cross_val_score

    train = _random(40, 60, density=0.2, seed=4).tocoo()
    model = LightFM(loss="bpr", random_state=0)
    scores = cross_val_score(model, train, scoring=_scorer, cv=_SameRowsCV(3))
    expected = _scorer(LightFM(loss="bpr", random_state=0).fit(train), train)
    # An int seed gives the same model in every fold (random_state stored unmodified).
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)
    assert model.item_embeddings is None  # cross_val_score fits clones


def test_recommender_cross_val_score():
    """The DataFrame facade takes part in model selection too (X is the frame)."""
    pytest.importorskip("sklearn")
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": rng.integers(0, 30, 600),
                          "item_id": rng.integers(0, 40, 600)}).drop_duplicates()

    def score(estimator, x, y=None) -> float:
        return float(estimator.evaluate(x, k=5, exclude_seen=False)["mean"].iloc[0])

    scores = cross_val_score(Recommender(epochs=2, random_state=0), frame, scoring=score,
                             cv=_SameRowsCV(2))
    assert np.all(np.isfinite(scores)) and scores.shape == (2,)


def test_scikit_learn_is_not_imported_by_hybridrec():
    code = ("import sys, scipy.sparse as sp\n"
            "from hybridrec import LightFM\n"
            "from hybridrec.metrics import auc_score\n"
            "m = LightFM().fit(sp.random(10, 10, density=0.3, format='coo', random_state=0))\n"
            "m.get_params(); m.set_params(no_components=3); repr(m)\n"
            "print('sklearn' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------- BPR sampling with explicit negatives
def _bpr_arguments(matrix: sp.coo_matrix) -> tuple:
    from hybridrec._validation import as_interactions

    data = as_interactions(matrix, None)
    return data, LightFM(loss="bpr")._loss_arguments(data, matrix.shape[1])


def test_bpr_negatives_follow_lightfm_on_explicit_negatives():
    """LightFM's rule: a negative is the item of a random stored entry (any value),
    redrawn while it is any stored entry of the user; a dislike stored beside a like of
    the same item counts once, as the like."""
    rows = np.array([0, 0, 0, 1, 1, 2, 2, 2, 0], dtype=np.int32)
    cols = np.array([0, 1, 2, 2, 3, 4, 4, 0, 0], dtype=np.int32)
    values = np.array([1, -1, 0, 1, -1, 1, 1, -1, -1], dtype=np.float32)
    #   user 0: likes 0, dislikes 1, stores a 0 for 2, and a dislike of 0 (conflict)
    #   user 1: likes 2, dislikes 3; user 2: likes 4 twice (duplicate), dislikes 0
    matrix = sp.coo_matrix((values, (rows, cols)), shape=(4, 6))
    _, (indptr, indices, bits, pool, redraws) = _bpr_arguments(matrix)
    stored = {user: set(indices[indptr[user]:indptr[user + 1]]) for user in range(4)}
    assert stored == {0: {0, 1, 2}, 1: {2, 3}, 2: {0, 4}, 3: set()}
    for user, items in stored.items():  # the bit table says the same
        for item in range(6):
            assert bool(bits[user, 0] >> np.uint64(item) & np.uint64(1)) == (item in items)
    # Every entry's item, the duplicate twice, the conflicting dislike (user 0, item 0)
    # left out.
    np.testing.assert_array_equal(pool, [0, 1, 2, 2, 3, 4, 4, 0])
    assert redraws >= 1


def test_bpr_negatives_unchanged_without_explicit_negatives():
    matrix = sp.random(20, 30, density=0.2, format="coo", random_state=0, dtype=np.float32)
    data, (indptr, indices, _, pool, _) = _bpr_arguments(matrix)
    np.testing.assert_array_equal(pool, data.item_ids)  # every positive entry, in order
    csr = matrix.tocsr()
    csr.sort_indices()
    np.testing.assert_array_equal(indptr, csr.indptr)
    np.testing.assert_array_equal(indices, csr.indices)
