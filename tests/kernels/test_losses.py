"""Each training kernel against the NumPy reference in tests/naive.py, one serial epoch."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec.kernels import epoch_inputs, losses
from tests import naive

N_USERS, N_ITEMS, D = 9, 14, 4
NAMES = ("embeddings", "embedding_gradients", "embedding_momentum",
         "biases", "bias_gradients", "bias_momentum")
#: The kernels' (user, item) trainable masks for "every row trains".
ALL_ROWS = (np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8))


SAMPLED_MODES = {"pointwise": losses.SAMPLED_POINTWISE, "bpr-multi": losses.SAMPLED_BPR,
                 "hinge": losses.SAMPLED_HINGE,
                 "adaptive_hinge": losses.SAMPLED_ADAPTIVE_HINGE}


def _problem(seed: int, with_features: bool, with_negatives: bool):
    rng = np.random.default_rng(seed)
    cells = rng.choice(N_USERS * N_ITEMS, size=45, replace=False)
    user_ids = (cells // N_ITEMS).astype(np.int32)
    item_ids = (cells % N_ITEMS).astype(np.int32)
    values = np.ones(45, dtype=np.float32)
    if with_negatives:
        values[rng.random(45) < 0.3] = -1.0
    weights = rng.uniform(0.5, 2.0, 45).astype(np.float32)
    weights[3] = 0.0
    if with_features:
        user_features = sp.random(N_USERS, 5, density=0.5, random_state=seed, format="csr",
                                  dtype=np.float32)
        user_features = sp.hstack([sp.identity(N_USERS, format="csr"), user_features]).tocsr()
        item_features = sp.random(N_ITEMS, 4, density=0.5, random_state=seed + 1,
                                  format="csr", dtype=np.float32)
        item_features = sp.hstack([sp.identity(N_ITEMS, format="csr"), item_features]).tocsr()
        user_features = sp.csr_matrix(user_features, dtype=np.float32)
        item_features = sp.csr_matrix(item_features, dtype=np.float32)
    else:
        user_features = sp.identity(N_USERS, dtype=np.float32, format="csr")
        item_features = sp.identity(N_ITEMS, dtype=np.float32, format="csr")
    return user_ids, item_ids, values, weights, user_features, item_features


def _params(rng, n_user_features, n_item_features, adadelta):
    params = {}
    for side, rows in (("user", n_user_features), ("item", n_item_features)):
        params[f"{side}_embeddings"] = ((rng.random((rows, D)) - 0.5) / 2).astype(np.float32)
        params[f"{side}_biases"] = (rng.random(rows) * 0.1).astype(np.float32)
        fill = np.zeros if adadelta else np.ones
        params[f"{side}_embedding_gradients"] = fill((rows, D), np.float32)
        params[f"{side}_bias_gradients"] = fill(rows, np.float32)
        params[f"{side}_embedding_momentum"] = np.zeros((rows, D), np.float32)
        params[f"{side}_bias_momentum"] = np.zeros(rows, np.float32)
    return params


def _csr_args(matrix: sp.csr_matrix, identity: bool):
    if identity:
        return None, None, None
    return (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
            matrix.data.astype(np.float32))


def _lookup(user_ids, item_ids, values, bits=False):
    """The kernels' positives arguments: CSR (indptr, indices) of the value > 0 cells and
    their bit table (``bits``) or an empty table (the kernels then binary-search)."""
    keep = values > 0
    m = sp.csr_matrix((np.ones(int(keep.sum())), (user_ids[keep], item_ids[keep])),
                      shape=(N_USERS, N_ITEMS))
    m.sum_duplicates()
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int32)
    table = (epoch_inputs.positives_bitset(N_USERS, N_ITEMS, indptr, indices) if bits
             else np.zeros((0, 0), dtype=np.uint64))
    return indptr, indices, table


def _known(user_ids, item_ids, values):
    """CSR (indptr, indices) of each user's explicit negatives (value < 0), sorted."""
    negative = values < 0
    m = sp.csr_matrix((np.ones(int(negative.sum())), (user_ids[negative], item_ids[negative])),
                      shape=(N_USERS, N_ITEMS))
    m.sum_duplicates()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32)


@pytest.mark.parametrize("loss", ["logistic", "bpr", "warp", "warp-kos", "regression",
                                  "poisson", "pointwise", "hinge", "adaptive_hinge",
                                  "bpr-multi", "bpr-mixing", "hinge-mixing", "warp-mixing",
                                  "warp-kos-mixing"])
@pytest.mark.parametrize("schedule", ["adagrad", "adadelta"])
@pytest.mark.parametrize("with_features", [False, True], ids=["identity", "features"])
@pytest.mark.parametrize("alpha", [0.0, 0.01], ids=["no-l2", "l2"])
def test_kernel_matches_reference(loss, schedule, with_features, alpha):
    seed = 3
    adadelta = schedule == "adadelta"
    user_ids, item_ids, values, weights, user_features, item_features = _problem(
        seed, with_features, with_negatives=(loss == "logistic" or "mixing" in loss))
    mixing = 0.5 if "mixing" in loss else 0.0
    loss = {"bpr-mixing": "bpr-multi", "hinge-mixing": "hinge", "warp-mixing": "warp",
            "warp-kos-mixing": "warp-kos"}.get(loss, loss)
    if loss in ("regression", "poisson"):  # ratings / counts as targets
        values = np.random.default_rng(seed + 7).integers(
            0 if loss == "poisson" else 1, 6, len(values)).astype(np.float32)
    rng = np.random.default_rng(seed)
    params = _params(rng, user_features.shape[1], item_features.shape[1], adadelta)
    order = rng.permutation(len(user_ids)).astype(np.int64)
    rng_seed = 0x9E3779B97F4A7C15
    learning_rate, rho, epsilon = 0.1, 0.95, 1e-6
    reference = naive.NaiveModel(params, user_features.toarray(), item_features.toarray(),
                                 learning_rate, rho, epsilon, adadelta)
    sampled = loss in SAMPLED_MODES
    n_negatives = 1 if loss == "hinge" else 3  # hinge also covers the single negative
    expected_decay = naive.run_epoch(
        loss, reference, user_ids, item_ids, values, weights, order, N_USERS, N_ITEMS,
        rng_seed, max_sampled=10, k=2, n=4, user_alpha=alpha, item_alpha=2 * alpha,
        n_negatives=n_negatives, uniform_pool=sampled and loss != "bpr-multi",
        negative_mixing=mixing)

    kernel_params = {name: value.copy() for name, value in params.items()}
    rng_states = np.array([rng_seed], dtype=np.uint64)
    reg_log_decay = np.zeros((1, 2))
    identity = not with_features
    args = [user_ids, item_ids, values, weights, order,
            *_csr_args(user_features, identity), *_csr_args(item_features, identity),
            *(kernel_params[f"user_{n}"] for n in NAMES),
            *(kernel_params[f"item_{n}"] for n in NAMES), *ALL_ROWS,
            learning_rate, rho, epsilon, adadelta, alpha, 2 * alpha,
            rng_states, reg_log_decay]
    # Both membership tests, the bit table and the binary search, must give the
    # reference's draws: adagrad cases run one, adadelta cases the other.
    positives = _lookup(user_ids, item_ids, values, bits=not adadelta)
    known = _known(user_ids, item_ids, values) if mixing > 0 else (None, None)
    if loss == "logistic":
        losses.fit_logistic(*args)
    elif loss == "bpr":
        pool = np.ascontiguousarray(item_ids[values > 0])
        losses.fit_bpr(*args, *positives, pool, 64)
    elif sampled:
        if loss == "bpr-multi":
            pool = np.ascontiguousarray(item_ids[values > 0])
        else:
            pool = np.arange(N_ITEMS, dtype=np.int32)
        losses.fit_sampled(*args, *positives, pool, 64, n_negatives,
                           SAMPLED_MODES[loss], *_known(user_ids, item_ids, values), mixing)
    elif loss in ("regression", "poisson"):
        losses.fit_explicit(*args, loss == "poisson")
    elif loss == "warp":
        losses.fit_warp(*args, *positives, N_ITEMS, 10, 10.0, *known, mixing)
    else:
        losses.fit_warp_kos(*args, *positives, N_ITEMS, 10, 10.0, 2, 4, *known,
                            mixing)

    if mixing > 0:  # the case really draws explicit negatives: it differs without mixing
        plain = naive.NaiveModel(params, user_features.toarray(), item_features.toarray(),
                                 learning_rate, rho, epsilon, adadelta)
        naive.run_epoch(loss, plain, user_ids, item_ids, values, weights, order, N_USERS,
                        N_ITEMS, rng_seed, max_sampled=10, k=2, n=4, n_negatives=n_negatives,
                        uniform_pool=sampled and loss != "bpr-multi")
        assert not np.allclose(plain.p["item_embeddings"], reference.p["item_embeddings"])

    changed = False
    for name, value in kernel_params.items():
        np.testing.assert_allclose(value, reference.p[name], rtol=2e-4, atol=2e-6,
                                   err_msg=f"{loss}/{schedule}: {name}")
        changed |= not np.array_equal(value, params[name])
    assert changed, "the epoch changed no parameter"
    if alpha > 0:
        np.testing.assert_allclose(reg_log_decay[0], expected_decay, rtol=1e-4)
    if alpha == 0:
        assert not reg_log_decay.any()


def test_zero_weight_example_changes_nothing():
    user_ids = np.array([0, 1], dtype=np.int32)
    item_ids = np.array([1, 2], dtype=np.int32)
    values = np.ones(2, dtype=np.float32)
    weights = np.zeros(2, dtype=np.float32)
    params = _params(np.random.default_rng(0), N_USERS, N_ITEMS, adadelta=True)
    before = {name: value.copy() for name, value in params.items()}
    losses.fit_logistic(user_ids, item_ids, values, weights, np.arange(2, dtype=np.int64),
                        None, None, None, None, None, None,
                        *(params[f"user_{n}"] for n in NAMES),
                        *(params[f"item_{n}"] for n in NAMES), *ALL_ROWS,
                        0.05, 0.95, 1e-6, True, 0.0, 0.0,
                        np.ones(1, dtype=np.uint64), np.zeros((1, 2)))
    for name in params:
        np.testing.assert_array_equal(params[name], before[name])


@pytest.mark.parametrize("loss", ["warp", "warp-kos"])
def test_warp_mixing_never_uses_a_positive_as_negative(loss):
    """A known negative that is also a positive (a like and a dislike of one item) is
    rejected like any positive. With mixing 1 every draw comes from the known negatives,
    here all positives, so no step is taken at all; without mixing there are steps."""
    user_ids = np.array([0, 0, 0, 0], dtype=np.int32)
    item_ids = np.array([1, 2, 1, 2], dtype=np.int32)
    values = np.array([1.0, 1.0, -1.0, -1.0], dtype=np.float32)
    weights = np.ones(4, dtype=np.float32)
    order = np.arange(4, dtype=np.int64)
    indptr, indices, bits = _lookup(user_ids, item_ids, values, bits=True)
    known_indptr, known_indices = _known(user_ids, item_ids, values)
    assert set(known_indices) == set(indices) == {1, 2}
    kernel = losses.fit_warp if loss == "warp" else losses.fit_warp_kos
    extra = () if loss == "warp" else (2, 4)
    for mixing, known in ((1.0, (known_indptr, known_indices)), (0.0, (None, None))):
        params = _params(np.random.default_rng(0), N_USERS, N_ITEMS, adadelta=False)
        before = {name: value.copy() for name, value in params.items()}
        kernel(user_ids, item_ids, values, weights, order,
               None, None, None, None, None, None,
               *(params[f"user_{n}"] for n in NAMES), *(params[f"item_{n}"] for n in NAMES),
               *ALL_ROWS, 0.05, 0.95, 1e-6, False, 0.0, 0.0,
               np.ones(1, dtype=np.uint64), np.zeros((1, 2)),
               indptr, indices, bits, N_ITEMS, 10, 10.0, *extra, *known, mixing)
        unchanged = all(np.array_equal(params[name], before[name]) for name in params)
        assert unchanged == (mixing == 1.0), f"mixing={mixing}"
