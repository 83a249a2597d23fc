"""hybridrec.spotlight.factorization: Spotlight's model API on small data (no accuracy)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hybridrec.spotlight.evaluation import mrr_score, rmse_score
from hybridrec.spotlight.factorization.explicit import ExplicitFactorizationModel
from hybridrec.spotlight.factorization.implicit import ImplicitFactorizationModel
from hybridrec.spotlight.factorization.representations import BilinearNet
from hybridrec.spotlight.interactions import Interactions
from hybridrec.spotlight.layers import BloomEmbedding, ScaledEmbedding


def _data(seed=0, n_users=40, n_items=60, n=1200):
    """Users prefer items of their own group (4 groups): learnable structure."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    groups = users % 4
    items = (groups * (n_items // 4) + rng.integers(0, n_items // 4, n)).astype(np.int64)
    ratings = (4 + rng.integers(0, 2, n)).astype(np.float32)
    return Interactions(users, items, ratings=ratings, timestamps=np.arange(n),
                        num_users=n_users, num_items=n_items)


IMPLICIT = ["pointwise", "bpr", "hinge", "adaptive_hinge"]
EXPLICIT = ["regression", "poisson", "logistic"]


def _model(loss, **kwargs):
    cls = ImplicitFactorizationModel if loss in IMPLICIT else ExplicitFactorizationModel
    kwargs.setdefault("random_state", np.random.RandomState(0))
    kwargs.setdefault("n_iter", 3)
    return cls(loss=loss, **kwargs)


@pytest.mark.parametrize("loss", IMPLICIT + EXPLICIT)
def test_predict_semantics(loss):
    # Spotlight's test_predict_movielens: user id, user id + items, and pairs agree.
    data = _data()
    model = _model(loss).fit(data)
    for user_id in (0, 7, np.int64(39)):
        items = np.arange(data.num_items)
        by_user = model.predict(user_id)
        assert by_user.shape == (data.num_items,) and by_user.dtype == np.float32
        np.testing.assert_array_equal(by_user, model.predict(user_id, items))
        np.testing.assert_array_equal(by_user, model.predict(np.repeat(user_id, len(items)), items))
        np.testing.assert_array_equal(by_user[[3, 5]], model.predict(np.array([user_id]),
                                                                     np.array([3, 5])))
    scores = model.predict(np.array([1, 2, 3]), np.array([4, 5, 6]))
    assert scores.shape == (3,)
    if loss == "poisson":
        assert (model.predict(0) > 0).all()
    if loss == "logistic":
        probabilities = model.predict(0)
        assert ((probabilities > 0) & (probabilities < 1)).all()


@pytest.mark.parametrize("loss", IMPLICIT)
def test_implicit_learns_structure(loss):
    data = _data()
    model = _model(loss, n_iter=20, num_negative_samples=5)
    model.fit(data)
    # Same-group items score above other groups' items for most users.
    scores = np.stack([model.predict(u) for u in range(data.num_users)])
    own = np.array([scores[u, (u % 4) * 15:(u % 4 + 1) * 15].mean() for u in range(40)])
    other = np.array([np.delete(scores[u], np.s_[(u % 4) * 15:(u % 4 + 1) * 15]).mean()
                      for u in range(40)])
    assert (own > other).mean() > 0.9


def test_explicit_regression_fits_ratings():
    data = _data()
    model = _model("regression", n_iter=30).fit(data)
    assert rmse_score(model, data) < 0.6  # ratings are 4 or 5: the mean alone gives 0.5


def test_fit_resumes_exactly():
    data = _data()
    once = _model("bpr", n_iter=4).fit(data)
    twice = _model("bpr", n_iter=2)
    twice.fit(data)
    between = twice.predict(0).copy()
    twice.fit(data)
    assert not np.array_equal(between, twice.predict(0))
    np.testing.assert_array_equal(once.predict(0), twice.predict(0))
    np.testing.assert_array_equal(once._net.user_embeddings.weight,
                                  twice._net.user_embeddings.weight)


def test_same_seed_same_model_and_random_state_kinds():
    data = _data()
    a = _model("hinge", random_state=np.random.RandomState(3)).fit(data)
    b = _model("hinge", random_state=np.random.RandomState(3)).fit(data)
    np.testing.assert_array_equal(a.predict(1), b.predict(1))
    c = _model("hinge", random_state=3).fit(data)
    d = _model("hinge", random_state=np.random.default_rng(3)).fit(data)
    assert c.predict(1).shape == d.predict(1).shape


def test_spotlight_initialisation():
    data = _data(n_users=400, n_items=500, n=4000)
    model = _model("bpr", n_iter=0, embedding_dim=16).fit(data)
    weights = model._net.item_embeddings.weight
    assert weights.shape == (500, 16) and weights.dtype == np.float32
    assert abs(weights.std() - 1 / 16) < 0.003  # normal, sd 1 / embedding_dim
    np.testing.assert_array_equal(model._net.item_biases.weight, np.zeros((500, 1)))


def test_check_input():
    # Spotlight's test_check_input: ids beyond the fitted range raise ValueError.
    data = _data()
    model = _model("regression", n_iter=1).fit(data)
    data.user_ids[0] = data.user_ids.max() + 1
    data.num_users += 1
    with pytest.raises(ValueError, match="Maximum user id greater than number of users"):
        model.fit(data)
    with pytest.raises(ValueError, match="Maximum user id greater than number of users"):
        model.predict(40)
    with pytest.raises(ValueError, match="Maximum item id greater than number of items"):
        model.predict(0, np.array([0, 60]))
    with pytest.raises(ValueError, match="user ids must be >= 0"):
        model.predict(-1)
    with pytest.raises(ValueError, match="Expected as many user ids"):
        model.predict(np.array([0, 1]), np.array([0, 1, 2]))


def test_not_fitted_and_bad_arguments():
    with pytest.raises(ValueError, match="not fitted yet"):
        ImplicitFactorizationModel().predict(0)
    with pytest.raises(ValueError, match="loss must be one of"):
        ImplicitFactorizationModel(loss="regression")
    with pytest.raises(ValueError, match="loss must be one of"):
        ExplicitFactorizationModel(loss="bpr")
    with pytest.raises(ValueError, match="use_cuda=True: hybridrec has no GPU path"):
        ImplicitFactorizationModel(use_cuda=True)
    with pytest.raises(ValueError, match="optimizer_func takes a PyTorch optimizer"):
        ExplicitFactorizationModel(optimizer_func=lambda parameters: None)
    with pytest.raises(ValueError, match="representation must be a hybridrec.spotlight"):
        ImplicitFactorizationModel(representation=object())
    for name, value in (("embedding_dim", 0), ("n_iter", -1), ("batch_size", 0),
                        ("learning_rate", 0.0), ("l2", -1.0), ("num_negative_samples", 0),
                        ("num_threads", 0)):
        with pytest.raises(ValueError, match=name):
            ImplicitFactorizationModel(**{name: value})
    with pytest.raises(ValueError, match="random_state must be None"):
        ImplicitFactorizationModel(random_state="42")
    model = ExplicitFactorizationModel()
    with pytest.raises(ValueError, match="needs interactions.ratings"):
        model.fit(Interactions([0, 1], [1, 0]))
    with pytest.raises(ValueError, match="needs ratings >= 0"):
        ExplicitFactorizationModel(loss="poisson").fit(Interactions([0], [1], ratings=[-1.0]))
    with pytest.raises(ValueError, match="interactions must be a hybridrec.spotlight"):
        model.fit(_data().tocoo())
    with pytest.raises(ValueError, match="interactions is empty"):
        model.fit(Interactions(np.zeros(0, int), np.zeros(0, int), ratings=np.zeros(0),
                               num_users=2, num_items=2))
    data = _data()
    data.weights = -np.ones(len(data), np.float32)
    with pytest.raises(ValueError, match="weights must be >= 0"):
        ImplicitFactorizationModel().fit(data)


def test_pytorch_only_arguments_warn():
    with pytest.warns(UserWarning, match="sparse=True has no effect in hybridrec"):
        ImplicitFactorizationModel(sparse=True)
    with pytest.warns(UserWarning, match="sparse=True has no effect in hybridrec"):
        ExplicitFactorizationModel(sparse=True)
    with pytest.warns(UserWarning, match="sparse=True has no effect in hybridrec"):
        BilinearNet(3, 4, sparse=True)
    with pytest.warns(UserWarning, match="sparse=True has no effect"):
        ScaledEmbedding(3, 4, sparse=True)
    with pytest.warns(UserWarning, match="bag=True has no effect"):
        BloomEmbedding(30, 4, compression_ratio=0.5, bag=True)
    # use_cuda=False and the defaults are silent.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImplicitFactorizationModel(use_cuda=False)
        BilinearNet(3, 4)


def test_weights_are_sample_weights():
    data = _data()
    plain = _model("hinge").fit(data)
    data.weights = np.ones(len(data), np.float32)
    unit = _model("hinge").fit(data)
    np.testing.assert_array_equal(plain.predict(2), unit.predict(2))
    data.weights = np.where(np.arange(len(data)) % 2 == 0, 3.0, 0.5).astype(np.float32)
    weighted = _model("hinge").fit(data)
    assert not np.array_equal(plain.predict(2), weighted.predict(2))


def test_verbose_prints_epoch_losses(capsys):
    data = _data()
    plain = _model("adaptive_hinge", n_iter=3).fit(data)
    verbose = _model("adaptive_hinge", n_iter=3).fit(data, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 1", "Epoch 2"]
    values = [float(line.split("loss ")[1]) for line in lines]
    assert all(np.isfinite(values)) and values[-1] < values[0]
    # Reporting the loss does not change the training.
    np.testing.assert_array_equal(plain.predict(0), verbose.predict(0))
    _model("regression", n_iter=2).fit(data, verbose=True)
    explicit = capsys.readouterr().out.strip().splitlines()
    assert len(explicit) == 2 and explicit[0].startswith("Epoch 0: loss ")


@pytest.mark.parametrize("loss", ["bpr", "regression"])
def test_pickle_round_trip(loss, tmp_path):
    # Spotlight saves models with torch.save (a pickle); here pickle itself.
    data = _data()
    model = _model(loss).fit(data)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    restored = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(model.predict(3), restored.predict(3))
    if loss == "bpr":
        assert mrr_score(model, data) .mean() == mrr_score(restored, data).mean()
    else:
        assert rmse_score(model, data) == rmse_score(restored, data)
    # The copy keeps training as the original would.
    model.fit(data)
    restored.fit(data)
    np.testing.assert_array_equal(model.predict(3), restored.predict(3))
    assert restored._net.user_embeddings.weight is restored._net.engine.user_embeddings


def test_multithreaded_fit():
    data = _data()
    model = _model("bpr", num_threads=2, n_iter=5).fit(data)
    assert np.isfinite(model.predict(0)).all()


def test_representation_with_bloom_layers():
    data = _data()
    users = BloomEmbedding(data.num_users, 8, compression_ratio=0.5, num_hash_functions=2)
    items = BloomEmbedding(data.num_items, 8, compression_ratio=0.5, num_hash_functions=2)
    net = BilinearNet(data.num_users, data.num_items, user_embedding_layer=users,
                      item_embedding_layer=items)
    model = ImplicitFactorizationModel(loss="bpr", n_iter=5, representation=net,
                                       random_state=np.random.RandomState(0))
    model.fit(data)
    assert model._net is net and net.engine is not None
    assert users.weight.shape == (20, 8) and items.weight.shape == (30, 8)
    # Row 0 is the padding row: it never gets a feature, so it stays at zero.
    np.testing.assert_array_equal(items.weight[0], 0.0)
    # The net's forward is the model's score; the layer looks up summed hashed rows.
    np.testing.assert_allclose(net(np.array([1, 2]), np.array([3, 4])),
                               model.predict(np.array([1, 2]), np.array([3, 4])))
    expected = items.weight[items.hashed_indices()[7]]
    expected = expected[items.hashed_indices()[7] != 0].sum(axis=0)
    np.testing.assert_allclose(items(np.array([7]))[0], expected, rtol=1e-6)
    # As in Spotlight, every id has its own bias beside the hashed embeddings: a score
    # is the dot product of the summed hashed rows plus the two ids' biases.
    assert net.user_biases.weight.shape == (data.num_users, 1)
    assert net.item_biases.weight.shape == (data.num_items, 1)
    assert np.count_nonzero(net.item_biases.weight) > data.num_items // 2
    user_vector, item_vector = users(np.array([5]))[0], items(np.array([9]))[0]
    bias = net.user_biases.weight[5, 0] + net.item_biases.weight[9, 0]
    assert model.predict(5, np.array([9]))[0] == pytest.approx(
        float(user_vector @ item_vector + bias), rel=1e-5)
    # The engine's extra rows: hashed rows keep zero biases, bias rows zero embeddings.
    engine = net.engine
    assert engine.item_embeddings.shape == (30 + data.num_items, 8)
    np.testing.assert_array_equal(engine.item_biases[:30], 0.0)
    np.testing.assert_array_equal(engine.item_embeddings[30:], 0.0)
    np.testing.assert_array_equal(engine.user_biases[:20], 0.0)
    np.testing.assert_array_equal(engine.user_embeddings[20:], 0.0)


@pytest.mark.parametrize("threads", [1, 2])
def test_bloom_layers_keep_their_parts_fixed_with_l2_and_explicit_loss(threads):
    data = _data()
    net = BilinearNet(data.num_users, data.num_items, embedding_dim=8,
                      item_embedding_layer=BloomEmbedding(data.num_items, 8,
                                                          compression_ratio=0.5,
                                                          num_hash_functions=3))
    model = ExplicitFactorizationModel(n_iter=4, l2=1e-3, representation=net,
                                       num_threads=threads,
                                       random_state=np.random.RandomState(1)).fit(data)
    engine = net.engine
    np.testing.assert_array_equal(engine.item_biases[:30], 0.0)
    np.testing.assert_array_equal(engine.item_embeddings[30:], 0.0)
    assert np.count_nonzero(net.item_biases.weight) > 0
    assert net.user_biases.weight.shape == (data.num_users, 1)   # plain layer: its own rows
    scores = model.predict(np.arange(6), np.arange(6))
    manual = ((net.user_embeddings(np.arange(6)) * net.item_embeddings(np.arange(6))).sum(1)
              + net.user_biases.weight[:6, 0] + net.item_biases.weight[:6, 0])
    np.testing.assert_allclose(scores, manual, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="already belongs to another fitted model"):
        ImplicitFactorizationModel(representation=net).fit(data)


def test_representation_checks():
    with pytest.raises(ValueError, match="same embedding_dim"):
        BilinearNet(5, 5, user_embedding_layer=ScaledEmbedding(5, 4),
                    item_embedding_layer=ScaledEmbedding(5, 8))
    with pytest.raises(ValueError, match="user_embedding_layer must be a hybridrec"):
        BilinearNet(5, 5, user_embedding_layer="layer")
    with pytest.raises(ValueError, match="has 3 embeddings but the network needs 5"):
        BilinearNet(5, 5, item_embedding_layer=ScaledEmbedding(3, 32))
    data = _data()
    net = BilinearNet(10, data.num_items)
    with pytest.raises(ValueError, match="representation has 10 users"):
        ImplicitFactorizationModel(representation=net).fit(data)
    # A larger net: parameters for all its ids, predictions for the fitted range only.
    net = BilinearNet(100, 80, embedding_dim=4)
    model = ImplicitFactorizationModel(representation=net, n_iter=1).fit(data)
    assert net.user_embeddings.weight.shape == (100, 4)
    assert net.user_embeddings(np.array([99])).shape == (1, 4)
    assert model.predict(0).shape == (60,)
    with pytest.raises(ValueError, match="Maximum user id greater"):
        model.predict(50)
    # The representation's dimension wins over embedding_dim, as in Spotlight.
    net = BilinearNet(data.num_users, data.num_items, embedding_dim=6)
    model = ImplicitFactorizationModel(embedding_dim=50, representation=net, n_iter=1)
    model.fit(data)
    assert net.user_embeddings.weight.shape == (40, 6)
    assert repr(model).startswith("<ImplicitFactorizationModel: BilinearNet(")
    assert repr(ImplicitFactorizationModel()) == "<ImplicitFactorizationModel: [uninitialised]>"


def test_bpr_negatives_option():
    assert ImplicitFactorizationModel(loss="bpr")._engine_loss() == "bpr-uniform"
    assert ImplicitFactorizationModel(loss="bpr", bpr_negatives="popularity"
                                      )._engine_loss() == "bpr"
    assert ImplicitFactorizationModel(loss="hinge", bpr_negatives="popularity"
                                      )._engine_loss() == "hinge"
    with pytest.raises(ValueError, match="bpr_negatives must be one of"):
        ImplicitFactorizationModel(loss="bpr", bpr_negatives="popular")


def test_uniform_bpr_negatives_reach_items_nobody_interacted_with():
    """Spotlight's BPR draws negatives uniformly, so items without interactions are
    pushed down; LightFM's draws the items of interactions, so it never touches them."""
    data = _data()
    unseen = np.setdiff1d(np.arange(data.num_items + 5), data.item_ids)
    data = Interactions(data.user_ids, data.item_ids, num_users=data.num_users,
                        num_items=data.num_items + 5)
    moved = {}
    for negatives in ("uniform", "popularity"):
        model = _model("bpr", bpr_negatives=negatives, n_iter=3).fit(data)
        start = ImplicitFactorizationModel(loss="bpr", random_state=np.random.RandomState(0))
        start.n_iter = 0
        start.fit(data)
        moved[negatives] = not np.array_equal(model._net.item_embeddings.weight[unseen],
                                              start._net.item_embeddings.weight[unseen])
        if negatives == "uniform":
            assert (model._net.item_biases.weight[unseen] < 0).all()
        else:
            np.testing.assert_array_equal(model._net.item_biases.weight[unseen], 0.0)
    assert moved == {"uniform": True, "popularity": False}
