"""The sequence representations against Spotlight's own PyTorch modules.

Runs only where PyTorch is installed and ``SPOTLIGHT_PATH`` points at a checkout of
maciejkula/spotlight (e.g. ``SPOTLIGHT_PATH=../peers/spotlight`` in an environment with
``torch``); skipped otherwise. A fitted front-door model's parameters are copied into
Spotlight's ``PoolNet`` / ``CNNNet`` / ``LSTMNet`` / ``MixtureLSTMNet``, and Spotlight's
forward pass (``user_representation`` then ``forward``, as its ``predict`` does) must
give the scores of ``ImplicitSequenceModel.predict``. The float64 reference
(tests/sequence/reference.py) is compared with the same modules to 1e-12 in float64.
Training too: from the same initial parameters, shuffles and negatives, Spotlight's fit
loop (its modules, losses and ``torch.optim.Adam``) and the front door's ``fit`` with one
thread must end at the same parameters.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from hybridrec.sequence.network import draw_seeds
from hybridrec.spotlight.interactions import Interactions
from hybridrec.spotlight.sequence.implicit import ImplicitSequenceModel
from hybridrec.spotlight.sequence.representations import CNNNet
from tests.sequence import reference as ref

torch = pytest.importorskip("torch")
_PATH = os.environ.get("SPOTLIGHT_PATH")
if not _PATH or not os.path.isdir(os.path.join(_PATH, "spotlight")):
    pytest.skip("SPOTLIGHT_PATH does not point at a Spotlight checkout", allow_module_level=True)
sys.path.insert(0, _PATH)
representations = pytest.importorskip("spotlight.sequence.representations")

CASES = {
    "pooling": ("pooling", lambda n: representations.PoolNet(n, 8)),
    "lstm": ("lstm", lambda n: representations.LSTMNet(n, 8)),
    "mixture": ("mixture", lambda n: representations.MixtureLSTMNet(n, 8)),
    "cnn": (lambda n: CNNNet(n, 8, kernel_width=(3, 2), dilation=(1, 2), num_layers=2,
                             nonlinearity="relu"),
            lambda n: representations.CNNNet(n, 8, kernel_width=(3, 2), dilation=(1, 2),
                                             num_layers=2, nonlinearity="relu")),
}


def _train():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(30), 9)
    items = rng.integers(1, 25, users.shape[0])
    data = Interactions(users, items, timestamps=np.arange(users.shape[0]), num_items=25)
    return data.to_sequence(max_sequence_length=12, step_size=5)


def _load(module, network):
    params = {name: torch.from_numpy(np.array(value, dtype=np.float32))
              for name, value in network.params.items()}
    module.item_embeddings.weight.data = params["E"].clone()
    module.item_biases.weight.data = params["b"][:, None].clone()
    if hasattr(module, "lstm"):
        module.lstm.weight_ih_l0.data = params["W_ih"].clone()
        module.lstm.weight_hh_l0.data = params["W_hh"].clone()
        module.lstm.bias_ih_l0.data = params["b_ih"].clone()
        module.lstm.bias_hh_l0.data = params["b_hh"].clone()
        module.lstm.flatten_parameters()
    if hasattr(module, "projection"):
        module.projection.weight.data = params["P"][:, :, None].clone()
        module.projection.bias.data = params["bP"].clone()
    if hasattr(module, "cnn_layers"):
        for layer, conv in enumerate(module.cnn_layers):
            width = conv.weight.shape[2]
            weights = params["W"][layer, :width]            # [tap, out, in]
            conv.weight.data = weights.permute(1, 2, 0)[..., None].contiguous()
            conv.bias.data = params["c"][layer].clone()


def _spotlight_scores(module, sequence, n_items):
    module.train(False)
    with torch.no_grad():
        sequences = torch.from_numpy(np.asarray(sequence, dtype=np.int64).reshape(1, -1))
        items = torch.arange(n_items).reshape(-1, 1)
        _, final = module.user_representation(sequences)
        size = (n_items,) + final.size()[1:]
        return module(final.expand(*size), items).numpy().ravel()


@pytest.mark.parametrize("name", list(CASES))
def test_predict_equals_spotlights_forward(name):
    ours, theirs = CASES[name]
    train = _train()
    representation = ours if isinstance(ours, str) else ours(train.num_items)
    model = ImplicitSequenceModel(loss="adaptive_hinge", representation=representation,
                                  embedding_dim=8, n_iter=3, batch_size=8,
                                  random_state=np.random.RandomState(0)).fit(train)
    module = theirs(train.num_items)
    _load(module, model._network)
    for row in list(train.sequences[:6]) + [np.array([3, 4, 5]), np.zeros(7, np.int32)]:
        np.testing.assert_allclose(model.predict(row),
                                   _spotlight_scores(module, row, train.num_items),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_reference_forward_equals_spotlight_in_float64(name):
    train = _train()
    _, theirs = CASES[name]
    module = theirs(train.num_items).double()
    rng = np.random.default_rng(1)
    config = {"pooling": {}, "lstm": {}, "mixture": {"num_mixtures": 4},
              "cnn": {"kernel_width": (3, 2), "dilation": (1, 2), "relu": True}}[name]
    net = ref.init_network(name, train.num_items, 8, rng, **config)
    p = {k: torch.from_numpy(v) for k, v in net.params.items()}
    module.item_embeddings.weight.data = p["E"].clone()
    module.item_biases.weight.data = p["b"][:, None].clone()
    if name in ("lstm", "mixture"):
        for ours_name, theirs_name in (("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"),
                                       ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
            getattr(module.lstm, theirs_name).data = p[ours_name].clone()
    if name == "mixture":
        module.projection.weight.data = p["P"][:, :, None].clone()
        module.projection.bias.data = p["bP"].clone()
    if name == "cnn":
        for layer, conv in enumerate(module.cnn_layers):
            conv.weight.data = p[f"W{layer}"].permute(1, 2, 0)[..., None].contiguous()
            conv.bias.data = p[f"c{layer}"].clone()
    module.train(False)
    for row in train.sequences[:4]:
        with torch.no_grad():
            seq = torch.from_numpy(row[None].astype(np.int64))
            _, final = module.user_representation(seq)
            items = torch.arange(train.num_items).reshape(-1, 1)
            size = (train.num_items,) + final.size()[1:]
            expected = module(final.expand(*size), items).numpy().ravel()
        np.testing.assert_allclose(ref.final_scores(net, row), expected, rtol=1e-12,
                                   atol=1e-12)


# ------------------------------------------------------------------------ training


def _spotlight_state(module) -> dict[str, np.ndarray]:
    """Spotlight's parameters under the engine's names (``SequenceNetwork.params``)."""
    state = {"E": module.item_embeddings.weight, "b": module.item_biases.weight[:, 0]}
    if hasattr(module, "lstm"):
        state.update(W_ih=module.lstm.weight_ih_l0, W_hh=module.lstm.weight_hh_l0,
                     b_ih=module.lstm.bias_ih_l0, b_hh=module.lstm.bias_hh_l0)
    if hasattr(module, "projection"):
        state.update(P=module.projection.weight[:, :, 0], bP=module.projection.bias)
    out = {name: value.detach().numpy().astype(np.float64) for name, value in state.items()}
    if hasattr(module, "cnn_layers"):
        for layer, conv in enumerate(module.cnn_layers):
            out[f"W{layer}"] = conv.weight.detach()[..., 0].permute(2, 0, 1).numpy()
            out[f"c{layer}"] = conv.bias.detach().numpy()
    return out


def _engine_state(network) -> dict[str, np.ndarray]:
    params = {name: np.array(value, dtype=np.float64) for name, value in
              network.params.items()}
    if "W" in params:
        W, c = params.pop("W"), params.pop("c")
        for layer, width in enumerate(network.spec.kernel_width):
            params[f"W{layer}"] = W[layer, :width]
            params[f"c{layer}"] = c[layer]
    return params


def _spotlight_fit(module, sequences, random_state, n_iter, batch_size, loss, n_negatives,
                   learning_rate, l2):
    """Spotlight's ``ImplicitSequenceModel.fit`` loop (its loss functions, its
    ``torch.optim.Adam``) on ``module``, fed the shuffles and negatives the engine
    draws from ``random_state`` (``SequenceNetwork.fit_epoch``): the permutation of the
    sequences, one stream seed per minibatch, and within a minibatch one draw (or
    ``n_negatives``) per unmasked target, rows and positions in order."""
    losses = pytest.importorskip("spotlight.losses")
    loss_function = {"bpr": losses.bpr_loss, "pointwise": losses.pointwise_loss,
                     "hinge": losses.hinge_loss,
                     "adaptive_hinge": losses.adaptive_hinge_loss}[loss]
    mode = {"bpr": ref.BPR, "pointwise": ref.POINTWISE, "hinge": ref.HINGE,
            "adaptive_hinge": ref.ADAPTIVE_HINGE}[loss]
    count = n_negatives if loss == "adaptive_hinge" else 1
    n_items = module.item_biases.weight.shape[0]
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate, weight_decay=l2)
    module.train(True)
    for _ in range(n_iter):
        order = random_state.permutation(len(sequences))
        n_batches = -(-len(sequences) // batch_size)
        seeds = draw_seeds(random_state, n_batches)
        for k in range(n_batches):
            rows = sequences[order[k * batch_size:(k + 1) * batch_size]]
            drawn = ref.draw_negatives(list(rows), mode, n_negatives, n_items, len(rows),
                                       [int(seeds[k])])
            negatives = np.zeros((count, *rows.shape), dtype=np.int64)
            for row, per_position in enumerate(drawn):
                for position, values in enumerate(per_position):
                    if values is not None:
                        negatives[:, row, position] = values
            batch = torch.from_numpy(rows.astype(np.int64))
            representation, _ = module.user_representation(batch)
            positive = module(representation, batch)
            size = (count,) + (1,) * (representation.dim() - 1)
            negative = module(representation.repeat(*size),
                              torch.from_numpy(negatives.reshape(-1, rows.shape[1])))
            negative = negative.view(count, *rows.shape)
            if loss != "adaptive_hinge":
                negative = negative[0]
            optimizer.zero_grad()
            value = loss_function(positive, negative, mask=batch != 0)
            value.backward()
            optimizer.step()


TRAINING_CASES = {
    "pooling-bpr": ("pooling", "bpr"),
    "pooling-adaptive": ("pooling", "adaptive_hinge"),
    "lstm-bpr": ("lstm", "bpr"),
    "lstm-adaptive": ("lstm", "adaptive_hinge"),
    "mixture-pointwise": ("mixture", "pointwise"),
    "cnn-hinge": ("cnn", "hinge"),
    "cnn-adaptive": ("cnn", "adaptive_hinge"),
    "mixture-bpr": ("mixture", "bpr"),
    "pooling-pointwise": ("pooling", "pointwise"),
    "lstm-pointwise": ("lstm", "pointwise"),
}


@pytest.mark.parametrize("case", list(TRAINING_CASES))
def test_fit_is_spotlights_training_step_for_step(case):
    """Pins Spotlight's training algorithm, not only its forward pass: from the same
    initial parameters, with the same shuffles and negatives, Spotlight's own fit loop
    (its modules, losses and ``torch.optim.Adam`` with ``weight_decay``) and the front
    door's ``fit`` (one thread) end at the same parameters after 2 epochs of 3
    minibatches each (masked mean loss over batch and time, dense Adam moments on every
    row, padding row frozen, prefix states of left-padded rows)."""
    name, loss = TRAINING_CASES[case]
    ours, theirs = CASES[name]
    train = _train()
    sequences = train.sequences.astype(np.int64)
    batch_size = -(-len(sequences) // 3)
    random_state = np.random.RandomState(7)
    representation = ours if isinstance(ours, str) else ours(train.num_items)
    model = ImplicitSequenceModel(loss=loss, representation=representation, embedding_dim=8,
                                  n_iter=0, batch_size=batch_size, learning_rate=3e-2,
                                  l2=1e-3, num_negative_samples=4, random_state=random_state)
    model.fit(train)                                  # n_iter=0: initialised, not trained
    # Non-zero starting biases: a bias gradient that cancels to (nearly) zero in exact
    # arithmetic is float32 rounding noise, which Adam's first steps amplify to a step of
    # up to learning_rate (g / (|g| + eps)); the weight decay of a non-zero bias keeps
    # every gradient well above that noise.
    biases = model._network.params["b"]
    biases[1:] = np.random.default_rng(3).normal(0.0, 0.1, biases.shape[0] - 1)
    module = theirs(train.num_items)
    _load(module, model._network)
    np.testing.assert_allclose(_spotlight_state(module)["E"], _engine_state(model._network)["E"])
    replay = np.random.RandomState()
    replay.set_state(random_state.get_state())
    model.n_iter = 2
    model.fit(train)
    _spotlight_fit(module, sequences, replay, 2, batch_size, loss, 4, 3e-2, 1e-3)
    expected = _spotlight_state(module)
    got = _engine_state(model._network)
    assert set(expected) <= set(got)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=2e-4, atol=2e-5, err_msg=key)
    assert not got["E"][0].any()
