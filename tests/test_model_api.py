"""LightFM compatibility of hybridrec.LightFM: signatures, defaults, shapes, errors."""

from __future__ import annotations

import inspect
import pickle
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM

LIGHTFM_DEFAULTS = dict(no_components=10, k=5, n=10, learning_schedule="adagrad",
                        loss="logistic", learning_rate=0.05, rho=0.95, epsilon=1e-6,
                        item_alpha=0.0, user_alpha=0.0, max_sampled=10, random_state=None)


def _random(n_users=10, n_items=100, density=0.1, seed=42, fmt="coo"):
    return sp.random(n_users, n_items, density=density, format=fmt, random_state=seed,
                     dtype=np.float32, data_rvs=lambda n: np.ones(n))


#: Constructor parameters beyond LightFM's, after ``random_state``, with defaults that
#: keep LightFM's behaviour.
EXTRA_DEFAULTS = dict(num_negative_samples=1, negative_mixing=0.0)


def test_constructor_defaults_match_lightfm():
    signature = inspect.signature(LightFM.__init__)
    names = [name for name in signature.parameters if name != "self"]
    assert names[:len(LIGHTFM_DEFAULTS)] == list(LIGHTFM_DEFAULTS)
    defaults = {name: p.default for name, p in signature.parameters.items() if name != "self"}
    assert {name: defaults[name] for name in LIGHTFM_DEFAULTS} == LIGHTFM_DEFAULTS
    assert defaults == {**LIGHTFM_DEFAULTS, **EXTRA_DEFAULTS}
    assert LightFM().get_params() == {**LIGHTFM_DEFAULTS, **EXTRA_DEFAULTS}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_num_negative_samples_validation(bad):
    with pytest.raises(ValueError, match="num_negative_samples must be"):
        LightFM(loss="hinge", num_negative_samples=bad)


@pytest.mark.parametrize("loss", ["pointwise", "hinge", "adaptive_hinge", "bpr",
                                  "regression", "poisson"])
def test_new_losses_fit_and_predict(loss):
    train = _random(density=0.3)
    model = LightFM(loss=loss, num_negative_samples=3, random_state=0).fit(train, epochs=2)
    scores = model.predict(np.zeros(5, dtype=np.int32), np.arange(5, dtype=np.int32))
    assert np.isfinite(scores).all()
    if loss == "poisson":
        assert (scores > 0).all()  # the rate exp(score)


@pytest.mark.parametrize("bad, match", [
    (dict(negative_mixing=-0.1), "negative_mixing must be >= 0"),
    (dict(negative_mixing=1.5), "negative_mixing must be <= 1"),
    (dict(negative_mixing=0.5, loss="logistic"), "negative_mixing > 0 needs loss in"),
    (dict(negative_mixing=0.5, loss="regression"), "negative_mixing > 0 needs loss in"),
])
def test_negative_mixing_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        LightFM(**{"loss": "bpr", **bad})


@pytest.mark.parametrize("loss", ["bpr", "hinge", "pointwise", "adaptive_hinge", "warp",
                                  "warp-kos"])
def test_negative_mixing_pushes_explicit_negatives_down(loss):
    """Dislikes (-1) used as preferred negatives end up below the same items trained
    without them (the negatives are never drawn uniformly here: 400 items)."""
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 400
    dense = (rng.random((n_users, n_items)) < 0.05).astype(np.float32)
    disliked = np.arange(10)  # items everybody dislikes and nobody likes
    dense[:, disliked] = -1.0
    train = sp.coo_matrix(dense)

    def disliked_score(mixing):
        model = LightFM(loss=loss, negative_mixing=mixing, random_state=0)
        model.fit(train, epochs=5)
        users = np.repeat(np.arange(n_users), len(disliked)).astype(np.int32)
        items = np.tile(disliked, n_users).astype(np.int32)
        scores = model.predict(users, items)
        others = model.predict(users, (items + 200).astype(np.int32))
        return float(np.mean(scores - others))

    assert disliked_score(0.5) < disliked_score(0.0) - 0.1


def _clustered_dislikes(seed: int) -> sp.coo_matrix:
    """Two clusters of 30 users x 100 items; each user likes 15 items of their cluster
    and dislikes (-1) 5 others of it, which the other users of the cluster may like:
    without negative feedback they look like good recommendations."""
    rng = np.random.default_rng(seed)
    rows, cols, values = [], [], []
    for user in range(60):
        chosen = rng.choice(100, 20, replace=False) + (0 if user < 30 else 100)
        rows += [user] * 20
        cols += chosen.tolist()
        values += [1.0] * 15 + [-1.0] * 5
    return sp.coo_matrix((np.array(values, np.float32), (rows, cols)), shape=(60, 200))


@pytest.mark.parametrize("loss, num_threads", [("warp", 1), ("warp-kos", 1), ("warp", 2)])
def test_warp_negative_mixing_ranks_dislikes_lower(loss, num_threads):
    """The dislikes' mean rank among each user's non-positive items (0 = top, 1 =
    bottom). Measured at 20 epochs, seeds 0-2, one thread: warp 0.24-0.28 without
    mixing, 0.79-0.82 with 0.5 (0.97 with 1.0); warp-kos 0.30-0.33 -> 0.73-0.80."""
    train = _clustered_dislikes(0)
    liked, disliked = train.data > 0, train.data < 0

    def pattern(keep):
        return sp.csr_matrix((np.ones(int(keep.sum()), np.float32),
                              (train.row[keep], train.col[keep])), shape=train.shape)

    def dislikes_mean_rank(mixing):
        model = LightFM(loss=loss, negative_mixing=mixing, random_state=0)
        model.fit(train, epochs=20, num_threads=num_threads)
        ranks = model.predict_rank(pattern(disliked), pattern(liked))
        return float(ranks.data.mean()) / (train.shape[1] - 15)

    plain, mixed = dislikes_mean_rank(0.0), dislikes_mean_rank(0.5)
    assert plain < 0.45
    assert mixed > plain + 0.25


@pytest.mark.parametrize("loss", ["warp", "warp-kos"])
def test_warp_without_mixing_ignores_negatives_bit_for_bit(loss):
    """negative_mixing=0 is LightFM's WARP: stored negatives change nothing, and mixing
    without any stored negative is plain WARP too (the same kernel specialisation)."""
    train = _clustered_dislikes(1)
    liked = train.data > 0
    positives_only = sp.coo_matrix((train.data[liked], (train.row[liked], train.col[liked])),
                                   shape=train.shape)
    fits = [LightFM(loss=loss, negative_mixing=mixing, random_state=3).fit(data, epochs=2)
            for mixing, data in ((0.0, train), (0.0, positives_only),
                                 (0.7, positives_only))]
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].item_embeddings, other.item_embeddings)
        np.testing.assert_array_equal(fits[0].user_embeddings, other.user_embeddings)
    mixed = LightFM(loss=loss, negative_mixing=0.7, random_state=3).fit(train, epochs=2)
    assert not np.array_equal(mixed.item_embeddings, fits[0].item_embeddings)


@pytest.mark.parametrize("loss, extra", [("warp", {}), ("warp-kos", {}), ("bpr", {}),
                                         ("hinge", {"num_negative_samples": 3})])
def test_mixing_never_uses_a_liked_item_as_negative(loss, extra):
    """A dislike stored for an item the user also likes is not an explicit negative: the
    fit is bit-for-bit the fit without those rows, for the WARP searches and the
    sampled (BPR / Spotlight) path alike. User 0 keeps one real dislike, so mixing still
    draws from that user's explicit negatives."""
    train = _clustered_dislikes(2).tocsr()
    liked0 = train[0].indices[train[0].data > 0][:3]
    disliked0 = train[0].indices[train[0].data < 0][:1]
    coo = train.tocoo()
    keep = ~((coo.row == 0) & (coo.data < 0))
    rows = np.concatenate([coo.row[keep], np.zeros(1, np.int32)])
    cols = np.concatenate([coo.col[keep], disliked0])
    values = np.concatenate([coo.data[keep], -np.ones(1, np.float32)])
    clean = sp.coo_matrix((values, (rows, cols)), shape=train.shape)
    conflicted = sp.coo_matrix(  # ... and user 0 also dislikes three liked items
        (np.concatenate([values, -np.ones(3, np.float32)]),
         (np.concatenate([rows, np.zeros(3, np.int32)]), np.concatenate([cols, liked0]))),
        shape=train.shape)

    def fit(data: sp.coo_matrix) -> LightFM:
        return LightFM(loss=loss, negative_mixing=1.0, random_state=0, **extra).fit(
            data, epochs=3)

    with_conflict, without = fit(conflicted), fit(clean)
    np.testing.assert_array_equal(with_conflict.user_embeddings, without.user_embeddings)
    np.testing.assert_array_equal(with_conflict.item_embeddings, without.item_embeddings)


def test_bpr_with_one_negative_is_lightfm_bpr():
    """num_negative_samples=1 (the default) keeps the LightFM BPR kernel, bit for bit."""
    train = _random(density=0.3)
    default = LightFM(loss="bpr", random_state=0).fit(train, epochs=2)
    explicit = LightFM(loss="bpr", random_state=0, num_negative_samples=1).fit(train, epochs=2)
    np.testing.assert_array_equal(default.item_embeddings, explicit.item_embeddings)
    several = LightFM(loss="bpr", random_state=0, num_negative_samples=4).fit(train, epochs=2)
    assert not np.array_equal(several.item_embeddings, default.item_embeddings)


def test_method_signatures_match_lightfm():
    def names(method):
        return list(inspect.signature(method).parameters)[1:]

    fit_args = ["interactions", "user_features", "item_features", "sample_weight", "epochs",
                "num_threads", "verbose"]
    for method in (LightFM.fit, LightFM.fit_partial):
        # LightFM's arguments in LightFM's order; the one extension is keyword-only and off
        # by default, so every LightFM call means the same.
        assert names(method) == fit_args + ["early_stopping"]
        extension = inspect.signature(method).parameters["early_stopping"]
        assert extension.kind is inspect.Parameter.KEYWORD_ONLY
        assert extension.default is None
    assert names(LightFM.predict) == ["user_ids", "item_ids", "item_features",
                                      "user_features", "num_threads"]
    assert names(LightFM.predict_rank) == ["test_interactions", "train_interactions",
                                           "item_features", "user_features", "num_threads",
                                           "check_intersections"]
    assert names(LightFM.get_user_representations) == ["features"]
    assert names(LightFM.get_item_representations) == ["features"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(loss="squared_hinge"), "loss must be one of"),
    (dict(learning_schedule="sgd"), "learning_schedule must be one of"),
    (dict(no_components=0), "no_components must be >= 1"),
    (dict(no_components=-1), "no_components must be >= 1"),
    (dict(no_components=2.5), "no_components must be an integer"),
    (dict(learning_rate=0.0), "learning_rate must be > 0"),
    (dict(learning_rate=-0.1), "learning_rate must be > 0"),
    (dict(item_alpha=-1.0), "item_alpha must be >= 0"),
    (dict(user_alpha=-1.0), "user_alpha must be >= 0"),
    (dict(user_alpha=float("nan")), "user_alpha must be finite"),
    (dict(k=6, n=5), "k must be <= n"),
    (dict(k=0), "k must be >= 1"),
    (dict(max_sampled=0), "max_sampled must be a positive integer"),
    (dict(max_sampled=-1.0), "max_sampled must be a positive integer"),
    (dict(rho=1.0), "rho must be > 0.0 and < 1.0"),
    (dict(epsilon=-1e-3), "epsilon must be >= 0"),
    (dict(random_state="seed"), "random_state must be"),
])
def test_invalid_parameters_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LightFM(**kwargs)


def test_set_params_then_fit_validates():
    model = LightFM().set_params(no_components=0)
    with pytest.raises(ValueError, match="no_components"):
        model.fit(_random())
    with pytest.raises(ValueError, match="Invalid parameter invalid_param"):
        LightFM().set_params(invalid_param=666)


def test_sklearn_clone_and_params_round_trip():
    sklearn_base = pytest.importorskip("sklearn.base")
    model = LightFM(no_components=7, loss="warp", random_state=3)
    assert LightFM(**model.get_params()).get_params() == model.get_params()
    clone = sklearn_base.clone(model)
    assert clone.get_params() == model.get_params()
    assert clone is not model


def test_fit_returns_self_and_attributes_have_lightfm_shapes():
    model = LightFM(no_components=6, loss="warp")
    assert model.item_embeddings is None
    train = _random()
    assert model.fit(train) is model
    assert model.fit_partial(train) is model
    shapes = {"embeddings": (100, 6), "biases": (100,)}
    for side, rows in (("item", 100), ("user", 10)):
        for suffix in ("embeddings", "embedding_gradients", "embedding_momentum"):
            array = getattr(model, f"{side}_{suffix}")
            assert array.shape == (rows, 6) and array.dtype == np.float32
        for suffix in ("biases", "bias_gradients", "bias_momentum"):
            array = getattr(model, f"{side}_{suffix}")
            assert array.shape == (rows,) and array.dtype == np.float32
    assert shapes  # documented shapes above


@pytest.mark.parametrize("fmt", ["coo", "csr", "csc", "lil"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64])
def test_matrix_formats_and_dtypes_are_converted(fmt, dtype):
    train = _random().astype(dtype).asformat(fmt)
    features = sp.identity(10, dtype=dtype, format=fmt)
    item_features = sp.identity(100, dtype=dtype, format=fmt)
    model = LightFM(loss="warp")
    model.fit_partial(train, user_features=features, item_features=item_features,
                      sample_weight=train.tocoo())
    model.predict(np.array([0, 1]), np.array([2, 3]), user_features=features,
                  item_features=item_features)
    model.predict_rank(train, user_features=features, item_features=item_features)


@pytest.mark.parametrize("loss", ["logistic", "bpr", "warp", "warp-kos"])
def test_duplicate_coo_entries(loss):
    rows = np.repeat(np.arange(10), 100)
    cols = np.tile(np.arange(10), 100)
    train = sp.coo_matrix((np.ones(1000, dtype=np.float32), (rows, cols)), shape=(10, 20))
    LightFM(loss=loss).fit(train, epochs=2)


def test_empty_matrix_initialises_and_warns():
    model = LightFM()
    with pytest.warns(UserWarning, match="no stored entries"):
        model.fit_partial(sp.coo_matrix((10, 100), dtype=np.float32))
    assert model.item_embeddings.shape == (100, 10)
    assert np.all(model.item_embedding_gradients == 1.0)


def test_non_sparse_interactions_are_refused():
    with pytest.raises(ValueError, match="interactions must be a scipy.sparse matrix"):
        LightFM().fit(np.ones((3, 3)))


@pytest.mark.parametrize("where", ["interactions", "user_features", "item_features",
                                   "sample_weight"])
def test_nan_inputs_are_refused(where):
    train = _random().tocoo()
    kwargs = {}
    if where == "interactions":
        train.data[0] = np.nan
    elif where == "sample_weight":
        weights = train.copy()
        weights.data[1] = np.inf
        kwargs["sample_weight"] = weights
    else:
        n = 10 if where == "user_features" else 100
        features = sp.identity(n, format="csr", dtype=np.float32)
        features.data[0] = np.nan
        kwargs[where] = features
    with pytest.raises(ValueError, match=f"{where} contains NaN or infinite values. Not all "
                                         "input values are finite"):
        LightFM().fit(train, **kwargs)


def test_feature_matrix_with_too_few_rows():
    train = _random()
    with pytest.raises(ValueError, match="user_features has 9 rows but interactions needs 10"):
        LightFM().fit(train, user_features=sp.identity(10, format="csr")[:9])
    with pytest.raises(ValueError, match="item_features has 99 rows but interactions needs 100"):
        LightFM().fit(train, item_features=sp.identity(100, format="csr")[:99])


def test_fit_partial_with_a_larger_matrix_than_the_model():
    model = LightFM().fit(_random())
    with pytest.raises(ValueError, match="more features than there are estimated feature "
                                         "embeddings: 11 vs 10"):
        model.fit_partial(_random(n_users=11))
    with pytest.raises(ValueError, match="item feature matrix specifies more features"):
        model.fit_partial(_random(), item_features=sp.identity(101, format="csr")[:100])


def test_sample_weight_checks():
    train = sp.coo_matrix(np.array([[0, 1], [0, 1]], dtype=np.float32))
    with pytest.raises(ValueError, match="must be in the same order"):
        LightFM().fit(train, sample_weight=sp.coo_matrix(np.ones((2, 2))))
    with pytest.raises(ValueError, match="must be the same shape"):
        LightFM().fit(train, sample_weight=sp.coo_matrix(np.ones((1, 2))))
    with pytest.raises(ValueError, match="Sample_weight must be a COO matrix"):
        LightFM().fit(train, sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="Sample_weight must be a COO matrix"):
        LightFM().fit(train, sample_weight=train.tocsr())
    negative = sp.coo_matrix((-np.ones(2), (train.row, train.col)), shape=train.shape)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        LightFM().fit(train, sample_weight=negative)
    LightFM().fit(train, sample_weight=sp.coo_matrix((train.data, (train.row, train.col))))


def test_warp_kos_accepts_sample_weights():
    """LightFM raises NotImplementedError here; hybridrec scales the update by the weight
    (zero weights skip the example, so all-zero weights change nothing)."""
    rng = np.random.default_rng(0)
    train = sp.coo_matrix((rng.random((20, 30)) < 0.3).astype(np.float32))
    weights = sp.coo_matrix((rng.uniform(0.5, 2.0, train.nnz).astype(np.float32),
                             (train.row, train.col)), shape=train.shape)
    unweighted = LightFM(loss="warp-kos", random_state=0).fit(train, epochs=2)
    weighted = LightFM(loss="warp-kos", random_state=0).fit(train, sample_weight=weights,
                                                             epochs=2)
    assert np.isfinite(weighted.item_embeddings).all()
    assert not np.array_equal(weighted.item_embeddings, unweighted.item_embeddings)
    ones = sp.coo_matrix((np.ones(train.nnz, np.float32), (train.row, train.col)),
                         shape=train.shape)
    same = LightFM(loss="warp-kos", random_state=0).fit(train, sample_weight=ones, epochs=2)
    np.testing.assert_array_equal(same.item_embeddings, unweighted.item_embeddings)
    zeros = sp.coo_matrix((np.zeros(train.nnz, np.float32), (train.row, train.col)),
                          shape=train.shape)
    untouched = LightFM(loss="warp-kos", random_state=0).fit(train, sample_weight=zeros)
    fresh = LightFM(loss="warp-kos", random_state=0).fit(train, epochs=0)
    np.testing.assert_array_equal(untouched.item_embeddings, fresh.item_embeddings)


@pytest.mark.parametrize("bad, match", [(0, "epochs must be"), (-1, "epochs must be"),
                                        (1.5, "epochs must be")])
def test_bad_epochs(bad, match):
    if bad == 0:
        LightFM().fit(_random(), epochs=0)  # zero epochs is allowed: initialise only
        return
    with pytest.raises(ValueError, match=match):
        LightFM().fit(_random(), epochs=bad)


def test_num_threads_validation_and_restoration():
    before = numba.get_num_threads()
    with pytest.raises(ValueError, match="Number of threads must be 1 or larger"):
        LightFM().fit(_random(), num_threads=0)
    # More threads than numba has run with numba's count (tests/test_threads.py checks
    # the warning at every entry point).
    too_many = numba.config.NUMBA_NUM_THREADS + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        LightFM().fit(_random(), num_threads=too_many)
    assert numba.get_num_threads() == before
    # An exception inside the kernel block still restores the thread count.
    model = LightFM(learning_rate=1e7, loss="warp")
    with pytest.raises(ValueError, match="diverged"):
        model.fit(sp.random(200, 200, density=0.2, random_state=0, format="coo"), epochs=10,
                  num_threads=numba.config.NUMBA_NUM_THREADS)
    assert numba.get_num_threads() == before


def test_divergence_is_reported():
    train = sp.random(1000, 1000, density=0.01, random_state=0, format="coo")
    with pytest.raises(ValueError, match="Not all estimated parameters are finite, your model "
                                         "may have diverged. Try decreasing the learning rate"):
        LightFM(learning_rate=1e7, loss="warp").fit(train, epochs=10)


def test_predict_before_fit():
    model = LightFM()
    for call in (lambda: model.predict(0, np.arange(3)),
                 lambda: model.predict_rank(_random()),
                 model.get_user_representations, model.get_item_representations):
        with pytest.raises(ValueError, match="You must fit the model before"):
            call()


def test_predict_broadcasts_scalar_user_ids():
    model = LightFM(loss="warp", random_state=0).fit(_random(), epochs=3)
    items = np.arange(100)
    expected = model.predict(np.repeat(3, 100), items)
    assert expected.dtype == np.float32 and expected.shape == (100,)
    for user in (3, np.int64(3), np.int32(3), np.uint8(3)):
        np.testing.assert_array_equal(model.predict(user, items), expected)
    np.testing.assert_array_equal(model.predict([3, 3], [0, 1]), expected[:2])
    np.testing.assert_array_equal(model.predict((3, 3), (0, 1)), expected[:2])


def test_predict_id_errors():
    model = LightFM().fit(_random())
    with pytest.raises(ValueError, match="user_ids must hold integer ids"):
        model.predict("foo", np.arange(3))
    with pytest.raises(ValueError, match="cannot be negative"):
        model.predict(np.array([-1]), np.array([0]))
    with pytest.raises(ValueError, match="cannot be negative"):
        model.predict(1231241241231241414, np.arange(3))
    with pytest.raises(ValueError, match=r"Expected the number of user IDs \(3\) to equal the "
                                         r"number of item IDs \(2\)"):
        model.predict(np.arange(3), np.arange(2))
    with pytest.raises(ValueError, match="item_ids contains id 100, but the model has 100 item "
                                         "embeddings"):
        model.predict(0, np.array([100]))
    with pytest.raises(ValueError, match="user_features has 5 rows but user_ids"):
        model.predict(np.array([7]), np.array([0]),
                      user_features=sp.identity(10, format="csr")[:5])
    with pytest.raises(ValueError, match="item_ids must hold integer ids"):
        model.predict(0, np.array([0.5]))
    assert model.predict(0, np.array([], dtype=np.int32)).shape == (0,)


def test_feature_inference_fails_without_enough_embeddings():
    model = LightFM().fit(_random(20, 20), user_features=sp.identity(20, format="csr"),
                          item_features=sp.identity(20, format="csr"))
    with pytest.raises(ValueError):
        model.predict(np.array([20]), np.array([20]))


def test_predict_rank_matches_lightfm_properties():
    n_users, n_items = 10, 100
    train = sp.rand(n_users, n_items, format="csr", random_state=42)
    model = LightFM().fit_partial(train)
    everything = sp.csr_matrix(np.ones((n_users, n_items)))
    ranks = model.predict_rank(everything, num_threads=2).toarray()
    for row in ranks:
        np.testing.assert_array_equal(np.sort(row), np.arange(n_items))
    assert np.all(model.predict_rank(everything, train_interactions=everything,
                                     check_intersections=False).toarray() == 0)
    ranks = model.predict_rank(everything, train_interactions=train,
                               check_intersections=False).toarray()
    np.testing.assert_array_equal(ranks.max(axis=1),
                                  n_items - 1 - np.diff(train.tocsr().indptr))
    with pytest.raises(ValueError, match=f"share {train.nnz} interactions"):
        model.predict_rank(train, train_interactions=train)
    model.predict_rank(train, train_interactions=train, check_intersections=False)
    disjoint = sp.csr_matrix(train.shape)
    model.predict_rank(train, train_interactions=disjoint)
    # All-zero parameters: ties count against every item, so all ranks are n_items - 1.
    for name in ("item_embeddings", "user_embeddings", "item_biases", "user_biases"):
        getattr(model, name)[:] = 0.0
    assert np.all(model.predict_rank(everything).data == n_items - 1)
    with pytest.raises(ValueError, match="train_interactions has shape"):
        model.predict_rank(everything, train_interactions=sp.csr_matrix((5, 5)))


def test_predict_rank_against_reference():
    from tests import naive

    rng = np.random.default_rng(1)
    train = _random(12, 30, density=0.2, seed=1).tocsr()
    test = _random(12, 30, density=0.3, seed=2).tocsr()
    test = sp.csr_matrix(test - test.multiply(train.astype(bool)))
    test.eliminate_zeros()
    model = LightFM(loss="bpr", random_state=0).fit(train, epochs=3)
    # Add ties on purpose: two items with identical parameters.
    model.item_embeddings[5] = model.item_embeddings[6]
    model.item_biases[5] = model.item_biases[6]
    scores = np.stack([model.predict(u, np.arange(30)) for u in range(12)])
    test_lists = [list(test.indices[test.indptr[u]:test.indptr[u + 1]]) for u in range(12)]
    train_sets = [set(train.indices[train.indptr[u]:train.indptr[u + 1]]) for u in range(12)]
    expected = naive.ranks(scores, test_lists, train_sets)
    got = model.predict_rank(test, train_interactions=train)
    for u in range(12):
        np.testing.assert_array_equal(got.data[got.indptr[u]:got.indptr[u + 1]], expected[u])
    assert rng is not None


def test_representations_match_predictions():
    n_users, n_items = 8, 12
    train = _random(n_users, n_items, density=0.4, seed=3)
    user_features = sp.hstack([sp.identity(n_users), sp.random(n_users, 3, density=0.5,
                                                               random_state=1)]).tocsr()
    item_features = sp.hstack([sp.identity(n_items), sp.random(n_items, 4, density=0.5,
                                                               random_state=2)]).tocsr()
    for uf, itf in ((None, None), (user_features, item_features)):
        model = LightFM(loss="warp", random_state=0).fit(train, user_features=uf,
                                                          item_features=itf, epochs=2)
        ub, ue = model.get_user_representations(uf)
        ib, ie = model.get_item_representations(itf)
        assert ue.dtype == np.float32 and ie.dtype == np.float32
        expected = ue @ ie.T + ub[:, None] + ib[None, :]
        users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
        got = model.predict(users.ravel(), items.ravel(), item_features=itf,
                            user_features=uf).reshape(n_users, n_items)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        if uf is not None:
            np.testing.assert_allclose(ue, uf @ model.user_embeddings, rtol=1e-6, atol=1e-7)


def test_training_schedule_initial_state():
    train = _random()
    model = LightFM(learning_schedule="adagrad").fit(train, epochs=0)
    assert np.all(model.item_embedding_gradients == 1) and np.all(model.item_bias_gradients == 1)
    assert not model.item_embedding_momentum.any()
    model.fit_partial(train, epochs=1)
    assert model.item_embedding_gradients.max() > 1 and not model.item_embedding_momentum.any()
    model = LightFM(learning_schedule="adadelta").fit(train, epochs=0)
    assert not model.item_embedding_gradients.any() and not model.item_embedding_momentum.any()
    model.fit_partial(train, epochs=1)
    assert model.item_embedding_gradients.max() > 0 and model.item_embedding_momentum.max() > 0


def test_state_reset():
    train = _random()
    model = LightFM().fit(train, epochs=1)
    assert model.user_embedding_gradients.mean() > 1.0
    model.fit(train, epochs=0)
    assert np.all(model.user_embedding_gradients == 1.0)


@pytest.mark.parametrize("loss", ["logistic", "bpr", "warp"])
def test_zero_sample_weight_leaves_accumulators_untouched(loss):
    train = _random(20, 50, density=0.2).tocoo()
    weights = train.copy()
    weights.data = np.where(train.row % 2 == 1, 0.0, 1.0).astype(np.float32)
    model = LightFM(loss=loss, random_state=0).fit(train, sample_weight=weights, epochs=1)
    odd = np.arange(1, 20, 2)
    even = np.arange(0, 20, 2)
    assert np.all(model.user_embedding_gradients[odd] == 1.0)
    assert np.all(model.user_bias_gradients[odd] == 1.0)
    assert np.any(model.user_embedding_gradients[even] != 1.0)


def test_seeded_single_thread_fits_are_bit_identical():
    train = _random(30, 60, density=0.1)
    for loss in ("logistic", "bpr", "warp", "warp-kos"):
        a = LightFM(loss=loss, random_state=10).fit(train, epochs=2)
        b = LightFM(loss=loss, random_state=10).fit(train, epochs=2)
        np.testing.assert_array_equal(a.item_embeddings, b.item_embeddings)
        np.testing.assert_array_equal(a.user_embeddings, b.user_embeddings)
        np.testing.assert_array_equal(a.item_biases, b.item_biases)
        b.fit(train, epochs=2)  # fit resets, so the same seed gives the same model
        np.testing.assert_array_equal(a.user_embeddings, b.user_embeddings)
    c = LightFM(loss="warp", random_state=11).fit(train, epochs=2)
    assert not np.array_equal(a.item_embeddings, c.item_embeddings)


def test_random_state_advances_between_fit_partial_calls():
    train = _random(30, 60, density=0.1)
    model = LightFM(loss="warp", random_state=10)
    model.fit_partial(train, epochs=1)
    first = model.random_state_.bit_generator.state["state"]["state"]
    model.fit_partial(train, epochs=1)
    assert model.random_state_.bit_generator.state["state"]["state"] != first
    assert model.random_state == 10  # the parameter itself is never modified


def test_pickle_round_trip_keeps_training_identically():
    train = _random(30, 60, density=0.1)
    model = LightFM(loss="warp", random_state=1).fit(train, epochs=2)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(0, np.arange(60)), model.predict(0, np.arange(60)))
    model.fit_partial(train, epochs=1)
    copy.fit_partial(train, epochs=1)
    np.testing.assert_array_equal(copy.item_embeddings, model.item_embeddings)


def test_verbose_shows_progress(capsys):
    LightFM().fit(_random(), epochs=2, verbose=True)
    captured = capsys.readouterr()
    assert "Epoch" in captured.err + captured.out


def test_warp_with_few_items_stays_finite():
    train = sp.coo_matrix(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    for loss in ("warp", "warp-kos"):
        model = LightFM(loss=loss, max_sampled=10, k=1, n=2).fit(train, epochs=5)
        assert np.isfinite(model.item_embeddings).all()


def test_repr_shows_changed_parameters():
    assert repr(LightFM()) == "LightFM()"
    assert repr(LightFM(loss="warp", no_components=3)) == "LightFM(no_components=3, loss='warp')"
