"""The training kernels with some feature rows frozen (``user_trainable`` /
``item_trainable`` masks), against the NumPy reference in tests/naive.py.

Frozen rows are read as usual (scored, drawn as negatives) but never stepped: the kernel
must match the reference that skips them, leave them bit-identical, and count only the
steps taken in the L2 bookkeeping. A mask with every row trainable must give exactly the
floats of the unmasked (empty-mask) call, which for identity features and adagrad is the
fused fast path.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec.kernels import epoch_inputs, losses, updates
from tests import naive

N_USERS, N_ITEMS, D = 9, 14, 4
NAMES = ("embeddings", "embedding_gradients", "embedding_momentum",
         "biases", "bias_gradients", "bias_momentum")
EVERY_ROW = np.zeros(0, dtype=np.uint8)
SAMPLED_MODES = {"pointwise": losses.SAMPLED_POINTWISE, "bpr-multi": losses.SAMPLED_BPR,
                 "hinge": losses.SAMPLED_HINGE,
                 "adaptive_hinge": losses.SAMPLED_ADAPTIVE_HINGE}
LOSSES = ["logistic", "bpr", "warp", "warp-kos", "regression", "poisson", "pointwise",
          "hinge", "adaptive_hinge", "bpr-multi", "bpr-mixing", "warp-mixing",
          "warp-kos-mixing"]
RNG_SEED = 0x9E3779B97F4A7C15
LEARNING_RATE, RHO, EPSILON = 0.1, 0.95, 1e-6


def _feature_matrices(seed: int, with_features: bool) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    if not with_features:
        return (sp.identity(N_USERS, dtype=np.float32, format="csr"),
                sp.identity(N_ITEMS, dtype=np.float32, format="csr"))
    matrices = []
    for n, extra, offset in ((N_USERS, 5, 0), (N_ITEMS, 4, 1)):
        side = sp.random(n, extra, density=0.5, random_state=seed + offset, format="csr",
                         dtype=np.float32)
        matrices.append(sp.csr_matrix(sp.hstack([sp.identity(n, format="csr"), side]),
                                      dtype=np.float32))
    return matrices[0], matrices[1]


def _problem(loss: str, with_features: bool, seed: int = 3) -> dict:
    """A tiny problem (interactions, features, initial parameters, order) for ``loss``."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(N_USERS * N_ITEMS, size=45, replace=False)
    values = np.ones(45, dtype=np.float32)
    if loss == "logistic" or "mixing" in loss:
        values[rng.random(45) < 0.3] = -1.0
    if loss in ("regression", "poisson"):  # ratings / counts as targets
        values = rng.integers(0 if loss == "poisson" else 1, 6, 45).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, 45).astype(np.float32)
    weights[3] = 0.0
    user_features, item_features = _feature_matrices(seed, with_features)
    params = {}
    for side, rows in (("user", user_features.shape[1]), ("item", item_features.shape[1])):
        params[f"{side}_embeddings"] = ((rng.random((rows, D)) - 0.5) / 2).astype(np.float32)
        params[f"{side}_biases"] = (rng.random(rows) * 0.1).astype(np.float32)
        # Accumulators away from their starting values, so that a frozen row written
        # with its own value would not pass unnoticed by accident.
        params[f"{side}_embedding_gradients"] = rng.uniform(0.5, 2.0, (rows, D)).astype(
            np.float32)
        params[f"{side}_bias_gradients"] = rng.uniform(0.5, 2.0, rows).astype(np.float32)
        params[f"{side}_embedding_momentum"] = rng.uniform(0.0, 0.1, (rows, D)).astype(
            np.float32)
        params[f"{side}_bias_momentum"] = rng.uniform(0.0, 0.1, rows).astype(np.float32)
    return {"user_ids": (cells // N_ITEMS).astype(np.int32),
            "item_ids": (cells % N_ITEMS).astype(np.int32), "values": values,
            "weights": weights, "user_features": user_features,
            "item_features": item_features, "params": params,
            "order": rng.permutation(45).astype(np.int64)}


def _frozen_masks(problem: dict) -> dict[str, np.ndarray]:
    """Boolean trainable masks freezing about half the rows of each side, identity and
    side-feature columns alike."""
    masks = {}
    for side, offset in (("user", 0), ("item", 1)):
        rows = problem["params"][f"{side}_biases"].shape[0]
        masks[side] = (np.arange(rows) + offset) % 2 == 0
    return masks


def _run_kernel(loss: str, problem: dict, adadelta: bool, alpha: float,
                user_trainable: np.ndarray, item_trainable: np.ndarray
                ) -> tuple[dict, np.ndarray]:
    """One serial epoch of the kernel for ``loss``; returns (parameters, reg_log_decay)."""
    mixing = 0.5 if "mixing" in loss else 0.0
    loss = {"bpr-mixing": "bpr-multi", "warp-mixing": "warp",
            "warp-kos-mixing": "warp-kos"}.get(loss, loss)
    user_ids, item_ids, values = problem["user_ids"], problem["item_ids"], problem["values"]
    params = {name: value.copy() for name, value in problem["params"].items()}
    identity = problem["user_features"].shape[1] == N_USERS
    csr = []
    for matrix in (problem["user_features"], problem["item_features"]):
        csr += [None, None, None] if identity else [matrix.indptr.astype(np.int64),
                                                    matrix.indices.astype(np.int32),
                                                    matrix.data.astype(np.float32)]
    reg_log_decay = np.zeros((1, 2))
    args = [user_ids, item_ids, values, problem["weights"], problem["order"], *csr,
            *(params[f"user_{n}"] for n in NAMES), *(params[f"item_{n}"] for n in NAMES),
            user_trainable, item_trainable, LEARNING_RATE, RHO, EPSILON, adadelta, alpha,
            2 * alpha, np.array([RNG_SEED], dtype=np.uint64), reg_log_decay]
    positives = epoch_inputs.positives_lookup(N_USERS, N_ITEMS, user_ids, item_ids, values)
    bits = epoch_inputs.positives_bitset(N_USERS, N_ITEMS, *positives)
    lookup = (*positives, bits)
    known = epoch_inputs.positives_lookup(N_USERS, N_ITEMS, user_ids, item_ids, -values)
    if loss == "logistic":
        losses.fit_logistic(*args)
    elif loss == "bpr":
        losses.fit_bpr(*args, *lookup, np.ascontiguousarray(item_ids[values > 0]), 64)
    elif loss in SAMPLED_MODES:
        pool = (np.ascontiguousarray(item_ids[values > 0]) if loss == "bpr-multi"
                else np.arange(N_ITEMS, dtype=np.int32))
        n_negatives = 1 if loss == "hinge" else 3
        losses.fit_sampled(*args, *lookup, pool, 64, n_negatives, SAMPLED_MODES[loss],
                           *known, mixing)
    elif loss in ("regression", "poisson"):
        losses.fit_explicit(*args, loss == "poisson")
    else:
        negatives = known if mixing > 0 else (None, None)
        extra = () if loss == "warp" else (2, 4)
        kernel = losses.fit_warp if loss == "warp" else losses.fit_warp_kos
        kernel(*args, *lookup, N_ITEMS, 10, 10.0, *extra, *negatives, mixing)
    return params, reg_log_decay


def _run_reference(loss: str, problem: dict, adadelta: bool, alpha: float,
                   trainable: dict[str, np.ndarray] | None) -> tuple[naive.NaiveModel, tuple]:
    mixing = 0.5 if "mixing" in loss else 0.0
    loss = {"bpr-mixing": "bpr-multi", "warp-mixing": "warp",
            "warp-kos-mixing": "warp-kos"}.get(loss, loss)
    model = naive.NaiveModel(problem["params"], problem["user_features"].toarray(),
                             problem["item_features"].toarray(), LEARNING_RATE, RHO, EPSILON,
                             adadelta, trainable=trainable)
    sampled = loss in SAMPLED_MODES
    decay = naive.run_epoch(
        loss, model, problem["user_ids"], problem["item_ids"], problem["values"],
        problem["weights"], problem["order"], N_USERS, N_ITEMS, RNG_SEED, max_sampled=10,
        k=2, n=4, user_alpha=alpha, item_alpha=2 * alpha,
        n_negatives=1 if loss == "hinge" else 3,
        uniform_pool=sampled and loss != "bpr-multi", negative_mixing=mixing)
    return model, decay


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("schedule", ["adagrad", "adadelta"])
@pytest.mark.parametrize("with_features", [False, True], ids=["identity", "features"])
@pytest.mark.parametrize("alpha", [0.0, 0.01], ids=["no-l2", "l2"])
def test_frozen_rows_match_reference(loss, schedule, with_features, alpha):
    adadelta = schedule == "adadelta"
    problem = _problem(loss, with_features)
    masks = _frozen_masks(problem)
    params, reg_log_decay = _run_kernel(loss, problem, adadelta, alpha,
                                        masks["user"].astype(np.uint8),
                                        masks["item"].astype(np.uint8))
    reference, expected_decay = _run_reference(loss, problem, adadelta, alpha, masks)
    unmasked, _ = _run_reference(loss, problem, adadelta, alpha, None)

    for name, value in params.items():
        np.testing.assert_allclose(value, reference.p[name], rtol=2e-4, atol=2e-6,
                                   err_msg=f"{loss}/{schedule}: {name}")
    moved = {"trainable": False, "frozen without the mask": False}
    for side in ("user", "item"):
        frozen = ~masks[side]
        for suffix in NAMES:
            name = f"{side}_{suffix}"
            start = problem["params"][name]
            # Bit-identical: the kernel never writes a frozen row.
            np.testing.assert_array_equal(params[name][frozen], start[frozen],
                                          err_msg=f"{loss}/{schedule}: frozen {name}")
            moved["trainable"] |= not np.array_equal(params[name][~frozen], start[~frozen])
            moved["frozen without the mask"] |= not np.allclose(
                unmasked.p[name][frozen], start[frozen], rtol=0, atol=1e-9)
    # The case is not vacuous: rows do train, and the frozen ones would have moved.
    assert all(moved.values()), moved
    if alpha > 0:
        np.testing.assert_allclose(reg_log_decay[0], expected_decay, rtol=1e-4)
    else:
        assert not reg_log_decay.any()


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("schedule", ["adagrad", "adadelta"])
@pytest.mark.parametrize("with_features", [False, True], ids=["identity", "features"])
def test_full_mask_gives_the_unmasked_floats(loss, schedule, with_features):
    """Every row trainable through a mask of ones (the masked code path, and for identity
    adagrad the unfused steps) gives exactly the floats of the empty mask."""
    adadelta = schedule == "adadelta"
    problem = _problem(loss, with_features)
    n_user_rows = problem["params"]["user_biases"].shape[0]
    n_item_rows = problem["params"]["item_biases"].shape[0]
    for alpha in (0.0, 0.01):
        plain, plain_decay = _run_kernel(loss, problem, adadelta, alpha, EVERY_ROW,
                                         EVERY_ROW)
        full, full_decay = _run_kernel(loss, problem, adadelta, alpha,
                                       np.ones(n_user_rows, np.uint8),
                                       np.ones(n_item_rows, np.uint8))
        for name in plain:
            np.testing.assert_array_equal(full[name], plain[name], err_msg=name)
        np.testing.assert_array_equal(full_decay, plain_decay)


def test_nothing_trainable_changes_nothing():
    problem = _problem("warp", with_features=True)
    params, reg_log_decay = _run_kernel(
        "warp", problem, False, 0.01,
        np.zeros(problem["params"]["user_biases"].shape[0], np.uint8),
        np.zeros(problem["params"]["item_biases"].shape[0], np.uint8))
    for name, value in params.items():
        np.testing.assert_array_equal(value, problem["params"][name], err_msg=name)
    assert not reg_log_decay.any()  # no step taken, so no decay either


def test_decay_parameters_skips_frozen_rows():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(7, 5)).astype(np.float32)
    biases = rng.normal(size=7).astype(np.float32)
    trainable = np.array([1, 0, 0, 1, 1, 0, 1], dtype=np.uint8)
    factor = 0.9
    expected_embeddings = embeddings.copy()
    expected_biases = biases.copy()
    keep = trainable == 1
    expected_embeddings[keep] *= np.float32(factor)
    expected_biases[keep] *= np.float32(factor)
    masked_embeddings, masked_biases = embeddings.copy(), biases.copy()
    updates.decay_parameters(masked_embeddings, masked_biases, factor, trainable)
    np.testing.assert_array_equal(masked_embeddings, expected_embeddings)
    np.testing.assert_array_equal(masked_biases, expected_biases)
    # The empty mask decays every row.
    updates.decay_parameters(embeddings, biases, factor, EVERY_ROW)
    np.testing.assert_array_equal(embeddings[~keep], expected_embeddings[~keep] * np.float32(
        factor))
    np.testing.assert_array_equal(embeddings[keep], expected_embeddings[keep])


def _part_masks(problem: dict) -> dict[str, np.ndarray]:
    """Per-row parts cycling through frozen (0), trainable (1), embedding only (2) and
    bias only (3), offset between the sides."""
    parts = {}
    for side, offset in (("user", 0), ("item", 1)):
        rows = problem["params"][f"{side}_biases"].shape[0]
        parts[side] = ((np.arange(rows) + offset) % 4).astype(np.uint8)
    return parts


@pytest.mark.parametrize("loss", ["logistic", "bpr", "pointwise", "hinge",
                                  "adaptive_hinge", "regression", "poisson"])
@pytest.mark.parametrize("schedule", ["adagrad", "adadelta"])
@pytest.mark.parametrize("with_features", [False, True], ids=["identity", "features"])
def test_row_parts_match_reference(loss, schedule, with_features):
    """Mask values 2 / 3 train only a row's embedding / bias: the kernel matches the
    reference stepping the other part with a zero gradient, and leaves that part (and,
    under adagrad, its accumulators) bit-identical."""
    adadelta = schedule == "adadelta"
    problem = _problem(loss, with_features)
    parts = _part_masks(problem)
    params, _ = _run_kernel(loss, problem, adadelta, 0.0, parts["user"], parts["item"])
    reference = naive.NaiveModel(problem["params"], problem["user_features"].toarray(),
                                 problem["item_features"].toarray(), LEARNING_RATE, RHO,
                                 EPSILON, adadelta, parts=parts)
    naive.run_epoch(loss, reference, problem["user_ids"], problem["item_ids"],
                    problem["values"], problem["weights"], problem["order"], N_USERS,
                    N_ITEMS, RNG_SEED, max_sampled=10, k=2, n=4,
                    n_negatives=1 if loss == "hinge" else 3,
                    uniform_pool=loss in SAMPLED_MODES)
    for name, value in params.items():
        np.testing.assert_allclose(value, reference.p[name], rtol=2e-4, atol=2e-6,
                                   err_msg=f"{loss}/{schedule}: {name}")
    moved = {"embedding-only embeddings": False, "bias-only biases": False}
    for side in ("user", "item"):
        start = problem["params"]
        still = {"embeddings": np.isin(parts[side], (0, 3)),
                 "biases": np.isin(parts[side], (0, 2))}
        for suffix in ("embeddings", "biases"):
            name = f"{side}_{suffix}"
            np.testing.assert_array_equal(params[name][still[suffix]],
                                          start[name][still[suffix]], err_msg=name)
            if not adadelta:
                accum = f"{side}_" + {"embeddings": "embedding_gradients",
                                      "biases": "bias_gradients"}[suffix]
                np.testing.assert_array_equal(params[accum][still[suffix]],
                                              start[accum][still[suffix]], err_msg=accum)
        moved["embedding-only embeddings"] |= not np.array_equal(
            params[f"{side}_embeddings"][parts[side] == 2],
            start[f"{side}_embeddings"][parts[side] == 2])
        moved["bias-only biases"] |= not np.array_equal(
            params[f"{side}_biases"][parts[side] == 3], start[f"{side}_biases"][parts[side] == 3])
    assert all(moved.values()), moved


@pytest.mark.parametrize("loss", ["warp", "warp-kos"])
def test_row_parts_refused_for_the_warp_family(loss):
    """Embedding-only / bias-only rows are not verified for WARP: refused, not run."""
    from hybridrec import LightFM
    matrix = sp.coo_matrix(np.eye(4, dtype=np.float32))
    model = LightFM(loss=loss, no_components=2, random_state=0).fit(matrix, epochs=1)
    with pytest.raises(ValueError, match=f"user_row_parts with values 2.*loss='{loss}'"):
        model._fit_partial_rows(matrix, user_row_parts=np.array([0, 1, 2, 3]))
    model._fit_partial_rows(matrix, user_row_parts=np.array([0, 1, 1, 0]))  # 0/1: fine


def test_decay_parameters_with_row_parts():
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(8, 3)).astype(np.float32)
    biases = rng.normal(size=8).astype(np.float32)
    parts = np.array([0, 1, 2, 3, 0, 1, 2, 3], dtype=np.uint8)
    factor = np.float32(0.8)
    expected_embeddings, expected_biases = embeddings.copy(), biases.copy()
    expected_embeddings[np.isin(parts, (1, 2))] *= factor
    expected_biases[np.isin(parts, (1, 3))] *= factor
    updates.decay_parameters(embeddings, biases, 0.8, parts)
    np.testing.assert_array_equal(embeddings, expected_embeddings)
    np.testing.assert_array_equal(biases, expected_biases)
