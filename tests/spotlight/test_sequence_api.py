"""hybridrec.spotlight.sequence: Spotlight's ImplicitSequenceModel and representations on
small data (API, semantics, errors; accuracy is in test_sequence_implicit.py)."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest

from hybridrec.spotlight.evaluation import sequence_mrr_score
from hybridrec.spotlight.interactions import Interactions, SequenceInteractions
from hybridrec.spotlight.layers import BloomEmbedding, ScaledEmbedding
from hybridrec.spotlight.sequence.implicit import ImplicitSequenceModel
from hybridrec.spotlight.sequence.representations import (
    PADDING_IDX,
    CNNNet,
    LSTMNet,
    MixtureLSTMNet,
    PoolNet,
)
from tests.sequence import reference as ref
from tests.sequence.test_network import _reference

REPRESENTATIONS = ["pooling", "cnn", "lstm", "mixture"]


def _cycle_sequences(n_users=60, n_items=21, length=12, seed=0) -> SequenceInteractions:
    """Each user walks a cycle over items 1..n_items-1 from a random start."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for user in range(n_users):
        start = rng.integers(0, n_items - 1)
        n = rng.integers(3, length + 5)
        for t in range(n):
            users.append(user)
            items.append(1 + (start + t) % (n_items - 1))
            times.append(t)
    data = Interactions(np.array(users), np.array(items), timestamps=np.array(times),
                        num_users=n_users, num_items=n_items)
    return data.to_sequence(max_sequence_length=length, step_size=4)


def _model(representation="pooling", **kwargs):
    kwargs.setdefault("random_state", np.random.RandomState(0))
    kwargs.setdefault("n_iter", 3)
    kwargs.setdefault("batch_size", 16)
    return ImplicitSequenceModel(representation=representation, **kwargs)


def test_signatures_and_defaults_are_spotlights():
    def defaults(f):
        return {name: p.default for name, p in inspect.signature(f).parameters.items()
                if name != "self"}
    assert defaults(ImplicitSequenceModel.__init__) == {
        "loss": "pointwise", "representation": "pooling", "embedding_dim": 32, "n_iter": 10,
        "batch_size": 256, "l2": 0.0, "learning_rate": 1e-2, "optimizer_func": None,
        "use_cuda": False, "sparse": False, "random_state": None,
        "num_negative_samples": 5, "num_threads": 1}
    empty = inspect.Parameter.empty
    assert defaults(PoolNet.__init__) == {"num_items": empty, "embedding_dim": 32,
                                          "item_embedding_layer": None, "sparse": False}
    assert defaults(LSTMNet.__init__) == defaults(PoolNet.__init__)
    assert defaults(CNNNet.__init__) == {
        "num_items": empty, "embedding_dim": 32, "kernel_width": 3, "dilation": 1,
        "num_layers": 1, "nonlinearity": "tanh", "residual_connections": True,
        "sparse": False, "benchmark": True, "item_embedding_layer": None}
    assert defaults(MixtureLSTMNet.__init__) == {
        "num_items": empty, "embedding_dim": 32, "num_mixtures": 4,
        "item_embedding_layer": None, "sparse": False}
    assert list(inspect.signature(ImplicitSequenceModel.fit).parameters) == [
        "self", "interactions", "verbose"]
    assert list(inspect.signature(ImplicitSequenceModel.predict).parameters) == [
        "self", "sequences", "item_ids"]
    assert PADDING_IDX == 0


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_predict_semantics(representation):
    train = _cycle_sequences()
    model = _model(representation)
    assert repr(model) == "<ImplicitSequenceModel: [uninitialised]>"
    model.fit(train)
    assert model._initialized and model._num_items == train.num_items
    sequence = train.sequences[3]
    full = model.predict(sequence)
    assert full.shape == (train.num_items,) and full.dtype == np.float32
    np.testing.assert_array_equal(full, model.predict(sequence[None, :]))
    np.testing.assert_array_equal(full, model.predict(list(sequence)))
    if representation != "mixture":
        assert full[PADDING_IDX] == 0.0           # zero embedding, zero bias
    items = np.array([[4], [1], [7]])
    np.testing.assert_allclose(model.predict(sequence, items), full[[4, 1, 7]], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(model.predict(sequence, items.ravel()), full[[4, 1, 7]],
                               rtol=1e-5, atol=1e-6)
    assert model.predict(sequence, 5).shape == (1,)
    # Any new sequence, padded or not, of any length: scored in real time.
    assert model.predict(np.array([3, 4, 5])).shape == (train.num_items,)
    assert model.predict(np.zeros(30, dtype=np.int32)).shape == (train.num_items,)


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_predict_equals_the_reference_forward(representation):
    train = _cycle_sequences()
    model = _model(representation).fit(train)
    network = model._network
    reference = _reference(network)
    for row in train.sequences[:5]:
        np.testing.assert_allclose(model.predict(row), ref.final_scores(reference, row),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_recommend_excludes_preceding_items_and_padding(representation):
    train = _cycle_sequences()
    model = _model(representation, n_iter=5, loss="adaptive_hinge").fit(train)
    matrix = train.sequences[:7]
    items, scores = model.recommend(matrix, k=4)
    assert items.shape == (7, 4) and items.dtype == np.int32 and scores.dtype == np.float32
    for row, top, top_scores in zip(matrix, items, scores, strict=True):
        full = model.predict(row)
        full[row] = -np.inf
        full[PADDING_IDX] = -np.inf
        best = np.argsort(-full, kind="stable")[:4]
        np.testing.assert_allclose(top_scores, full[best], rtol=1e-5, atol=1e-6)
        assert not set(top) & set(row.tolist()) and PADDING_IDX not in top
    everything, _ = model.recommend(matrix[:1], k=train.num_items)
    assert (everything[0] == -1).sum() == len(set(matrix[0].tolist()) | {0})
    kept, _ = model.recommend(matrix[:2], k=3, exclude_preceding=False)
    assert kept.shape == (2, 3)


def test_the_order_aware_models_learn_the_cycle():
    # (Pooling forgets the order, so it cannot tell which end of the walked arc is next.)
    train = _cycle_sequences(seed=1)
    test = _cycle_sequences(seed=2)
    for representation in ["cnn", "lstm", "mixture"]:
        model = _model(representation, n_iter=15, loss="adaptive_hinge", learning_rate=0.05)
        model.fit(train)
        assert sequence_mrr_score(model, test).mean() > 0.5, representation


def test_check_input_and_bad_arguments():
    train = _cycle_sequences()
    with pytest.raises(ValueError, match="not fitted"):
        _model().predict(train.sequences[0])
    model = _model().fit(train)
    with pytest.raises(ValueError, match="Maximum item id greater than number of items"):
        model.predict(np.array([1, 2, train.num_items]))
    with pytest.raises(ValueError, match="Maximum item id greater than number of items"):
        model.predict(train.sequences[0], np.array([train.num_items]))
    with pytest.raises(ValueError, match="negative item id"):
        model.predict(np.array([1, -2]))
    with pytest.raises(ValueError, match="integer item ids"):
        model.predict(np.array([1.5, 2.0]))
    with pytest.raises(ValueError, match="one sequence"):
        model.predict(train.sequences[:2])
    bigger = SequenceInteractions(train.sequences + 1, num_items=train.num_items + 1)
    with pytest.raises(ValueError, match="Maximum item id greater than number of items"):
        model.fit(bigger)
    with pytest.raises(ValueError, match="SequenceInteractions"):
        model.fit(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="only padding"):
        _model().fit(SequenceInteractions(np.zeros((3, 4), np.int32), num_items=5))
    for kwargs, message in [
        ({"loss": "warp"}, "loss must be one of"),
        ({"representation": "gru"}, "representation must be one of"),
        ({"representation": object()}, "representation must be"),
        ({"use_cuda": True}, "use_cuda=True: hybridrec has no GPU"),
        ({"optimizer_func": lambda params: None}, "optimizer_func takes a PyTorch"),
        ({"n_iter": -1}, "n_iter must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"learning_rate": 0.0}, "learning_rate must be"),
        ({"l2": float("nan")}, "l2 must be"),
        ({"num_negative_samples": 0}, "num_negative_samples must be"),
        ({"num_threads": 0}, "num_threads must be"),
        ({"random_state": "seed"}, "random_state must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            ImplicitSequenceModel(**kwargs)
    with pytest.raises(ValueError, match=r"Nonlinearity must be one of \(tanh, relu\)"):
        CNNNet(10, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="different numbers of layers"):
        CNNNet(10, kernel_width=(3, 5), dilation=(1, 2, 4))
    with pytest.raises(ValueError, match="embedding_dim"):
        LSTMNet(10, embedding_dim=16, item_embedding_layer=ScaledEmbedding(10, 32))
    with pytest.raises(ValueError, match="padding_idx=0"):
        PoolNet(10, item_embedding_layer=BloomEmbedding(10, 32, compression_ratio=0.5,
                                                        padding_idx=None))
    small = ImplicitSequenceModel(representation=PoolNet(5), n_iter=1)
    with pytest.raises(ValueError, match="num_items=5"):
        small.fit(train)


def test_cnn_layers_follow_spotlights_expansion():
    net = CNNNet(10, kernel_width=5, dilation=(1, 2, 4), num_layers=3)
    assert net.kernel_width == (5, 5, 5) and net.dilation == (1, 2, 4)
    assert net.num_layers == 3
    spec = net.engine_spec()
    assert spec.kernel_width == (5, 5, 5) and not spec.relu and spec.residual


def test_fit_resumes_and_same_seed_same_model():
    train = _cycle_sequences()
    a = _model("lstm", random_state=np.random.RandomState(4)).fit(train)
    b = _model("lstm", random_state=np.random.RandomState(4)).fit(train)
    np.testing.assert_array_equal(a.predict(train.sequences[0]), b.predict(train.sequences[0]))
    steps = a._network.steps
    before = a.predict(train.sequences[0])
    a.fit(train)
    assert a._network.steps == 2 * steps
    assert not np.array_equal(before, a.predict(train.sequences[0]))
    c = _model("lstm", random_state=4).fit(train)   # an int seeds a RandomState
    np.testing.assert_array_equal(c.predict(train.sequences[0]), before)


def test_random_state_is_drawn_once_at_construction_as_in_spotlight():
    state = np.random.RandomState(9)
    ImplicitSequenceModel(random_state=state)
    expected = np.random.RandomState(9)
    expected.randint(-10**8, 10**8)
    assert state.randint(1000) == expected.randint(1000)


def test_verbose_prints_epoch_losses(capsys):
    _model(n_iter=2).fit(_cycle_sequences(), verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 1"]
    assert all(float(line.split("loss ")[1]) > 0 for line in lines)


def test_multithreaded_fit_and_sparse_and_benchmark_are_accepted():
    train = _cycle_sequences()
    test = _cycle_sequences(seed=3)
    one = _model("cnn", n_iter=10, loss="adaptive_hinge", learning_rate=0.05).fit(train)
    with pytest.warns(UserWarning, match="sparse=True has no effect") as caught:
        two = _model("cnn", n_iter=10, loss="adaptive_hinge", learning_rate=0.05,
                     num_threads=2, sparse=True)
    assert len(caught) == 1 and caught[0].filename == __file__
    two.fit(train)
    assert abs(sequence_mrr_score(one, test).mean()
               - sequence_mrr_score(two, test).mean()) < 0.1
    for make in (lambda: CNNNet(10, benchmark=False, sparse=True),
                 lambda: PoolNet(10, sparse=True), lambda: MixtureLSTMNet(10, sparse=True)):
        with pytest.warns(UserWarning, match="sparse=True has no effect") as caught:
            make()
        assert len(caught) == 1 and caught[0].filename == __file__


@pytest.mark.parametrize("representation", [PoolNet, LSTMNet])
def test_bloom_item_embeddings(representation):
    train = _cycle_sequences()
    layer = BloomEmbedding(train.num_items, 32, compression_ratio=0.5, num_hash_functions=2)
    net = representation(train.num_items, item_embedding_layer=layer)
    model = _model(net, n_iter=10, loss="adaptive_hinge", learning_rate=0.05).fit(train)
    assert layer.weight.shape == (layer.num_rows, 32) and not layer.weight[0].any()
    assert net.item_biases.weight.shape == (train.num_items, 1)
    hashes = layer.hashed_indices()
    vectors = layer.weight[hashes].sum(axis=1)
    np.testing.assert_allclose(model._network.item_vectors(), vectors, rtol=1e-5, atol=1e-7)
    if representation is LSTMNet:
        assert sequence_mrr_score(model, _cycle_sequences(seed=3)).mean() > 0.3
    with pytest.raises(ValueError, match="already belongs to another fitted model"):
        _model(net).fit(train)


def test_pickle_round_trip(tmp_path):
    train = _cycle_sequences()
    model = _model("mixture").fit(train)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(loaded.predict(train.sequences[2]),
                                  model.predict(train.sequences[2]))
    loaded.fit(train)
