"""The sequence representations against Spotlight's own PyTorch modules.

Runs only where PyTorch is installed and ``SPOTLIGHT_PATH`` points at a checkout of
maciejkula/spotlight (e.g. ``SPOTLIGHT_PATH=../peers/spotlight`` in an environment with
``torch``); skipped otherwise. A fitted front-door model's parameters are copied into
Spotlight's ``PoolNet`` / ``CNNNet`` / ``LSTMNet`` / ``MixtureLSTMNet``, and Spotlight's
forward pass (``user_representation`` then ``forward``, as its ``predict`` does) must
give the scores of ``ImplicitSequenceModel.predict``. The float64 reference
(tests/sequence/reference.py) is compared with the same modules to 1e-12 in float64.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

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
