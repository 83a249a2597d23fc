"""The estimator's own row operations: ``LightFM._insert_rows`` (fresh feature rows) and
``LightFM._fit_partial_rows`` (train some feature rows, the rest frozen bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM
from hybridrec.data import synthetic

SUFFIXES = ("embeddings", "embedding_gradients", "embedding_momentum",
            "biases", "bias_gradients", "bias_momentum")
N_USERS, N_ITEMS = 40, 30

#: name -> (LightFM keyword arguments, kind of interaction values)
CONFIGS = {
    "logistic": ({"loss": "logistic"}, "signed"),
    "bpr": ({"loss": "bpr"}, "ones"),
    "warp": ({"loss": "warp"}, "ones"),
    "warp-kos": ({"loss": "warp-kos", "k": 2, "n": 4}, "ones"),
    "regression": ({"loss": "regression", "learning_rate": 0.02}, "ratings"),
    "poisson": ({"loss": "poisson", "learning_rate": 0.01}, "counts"),
    "pointwise": ({"loss": "pointwise", "num_negative_samples": 2}, "ones"),
    "hinge": ({"loss": "hinge", "num_negative_samples": 2}, "ones"),
    "adaptive_hinge": ({"loss": "adaptive_hinge", "num_negative_samples": 3}, "ones"),
    "bpr-multi": ({"loss": "bpr", "num_negative_samples": 3}, "ones"),
    "bpr-mixing": ({"loss": "bpr", "negative_mixing": 0.3}, "signed"),
    "warp-mixing": ({"loss": "warp", "negative_mixing": 0.3}, "signed"),
}


def _interactions(kind: str, seed: int = 0, shape: tuple[int, int] = (N_USERS, N_ITEMS)
                  ) -> sp.coo_matrix:
    rng = np.random.default_rng(seed)
    n_users, n_items = shape
    cells = rng.choice(n_users * n_items, size=n_users * n_items // 5, replace=False)
    values = np.ones(cells.size, dtype=np.float32)
    if kind == "signed":
        values[rng.random(cells.size) < 0.3] = -1.0
    elif kind == "ratings":
        values = rng.integers(1, 6, cells.size).astype(np.float32)
    elif kind == "counts":
        values = rng.integers(0, 4, cells.size).astype(np.float32)
    return sp.coo_matrix((values, (cells // n_items, cells % n_items)), shape=shape)


def _state(model: LightFM) -> dict[str, np.ndarray]:
    return {f"{side}_{suffix}": getattr(model, f"{side}_{suffix}").copy()
            for side in ("user", "item") for suffix in SUFFIXES}


def _fitted(name: str, alpha: float = 0.0, schedule: str = "adagrad", epochs: int = 2,
            **features) -> tuple[LightFM, sp.coo_matrix]:
    params, kind = CONFIGS[name]
    train = _interactions(kind)
    model = LightFM(no_components=6, random_state=4, user_alpha=alpha, item_alpha=alpha,
                    learning_schedule=schedule, **params)
    return model.fit(train, epochs=epochs, **features), train


def _assert_frozen(before: dict, model: LightFM, trainable: dict[str, np.ndarray],
                   label: str) -> None:
    """Rows outside ``trainable[side]`` are bit-identical in all twelve arrays; the
    trainable embeddings moved."""
    for side in ("user", "item"):
        rows = before[f"{side}_biases"].shape[0]
        frozen = np.ones(rows, dtype=bool)
        frozen[trainable[side]] = False
        for suffix in SUFFIXES:
            name = f"{side}_{suffix}"
            np.testing.assert_array_equal(getattr(model, name)[frozen], before[name][frozen],
                                          err_msg=f"{label}: frozen rows of {name}")
        if len(trainable[side]):
            name = f"{side}_embeddings"
            assert not np.array_equal(getattr(model, name)[~frozen], before[name][~frozen]), (
                f"{label}: no trainable row of {name} moved")


# ---------------------------------------------------------------- _fit_partial_rows
@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.01], ids=["no-l2", "l2"])
def test_frozen_rows_stay_bit_identical(name, threads, alpha):
    model, train = _fitted(name, alpha)
    before = _state(model)
    trainable = {"user": np.arange(0, N_USERS, 3), "item": np.arange(1, N_ITEMS, 3)}
    model._fit_partial_rows(train, epochs=3, num_threads=threads,
                            trainable_user_features=trainable["user"],
                            trainable_item_features=trainable["item"])
    _assert_frozen(before, model, trainable, f"{name}/{threads} threads/alpha={alpha}")
    assert model._is_healthy()


@pytest.mark.parametrize("name", ["logistic", "bpr", "warp", "warp-kos", "regression",
                                  "hinge"])
@pytest.mark.parametrize("alpha", [0.0, 0.01], ids=["no-l2", "l2"])
def test_frozen_feature_rows_with_side_features_and_adadelta(name, alpha):
    """CSR features: the trainable rows are feature rows (columns of the feature matrix);
    an item whose identity row is frozen still has its side-feature rows trained."""
    rng = np.random.default_rng(1)
    user_features = sp.csr_matrix(sp.hstack([
        sp.identity(N_USERS, format="csr"),
        sp.random(N_USERS, 4, density=0.5, random_state=2, format="csr")]), dtype=np.float32)
    item_features = sp.csr_matrix(sp.hstack([
        sp.identity(N_ITEMS, format="csr"),
        sp.random(N_ITEMS, 5, density=0.5, random_state=3, format="csr")]), dtype=np.float32)
    features = {"user_features": user_features, "item_features": item_features}
    model, train = _fitted(name, alpha, schedule="adadelta", **features)
    before = _state(model)
    trainable = {"user": np.sort(rng.choice(N_USERS + 4, 15, replace=False)),
                 "item": np.r_[np.arange(0, N_ITEMS, 4), N_ITEMS + np.arange(5)[::2]]}
    for threads in (1, 2):
        model._fit_partial_rows(train, epochs=2, num_threads=threads,
                                trainable_user_features=trainable["user"],
                                trainable_item_features=trainable["item"], **features)
        _assert_frozen(before, model, trainable, f"{name}/{threads} threads")


def test_one_side_frozen_entirely_the_other_free():
    model, train = _fitted("warp", alpha=0.01)
    before = _state(model)
    model._fit_partial_rows(train, epochs=2, trainable_user_features=[])
    _assert_frozen(before, model, {"user": [], "item": np.arange(N_ITEMS)}, "users frozen")
    before = _state(model)
    model._fit_partial_rows(train, epochs=2, trainable_item_features=np.array([], np.int64))
    _assert_frozen(before, model, {"user": np.arange(N_USERS), "item": []}, "items frozen")


def test_l2_decays_the_trainable_rows_only():
    """With L2 the trainable rows end elsewhere than without it (they are decayed), while
    the frozen rows are bit-identical either way."""
    trainable = np.arange(0, N_ITEMS, 2)
    results = {}
    for alpha in (0.0, 0.05):
        model, train = _fitted("bpr")
        before = _state(model)
        model.user_alpha = model.item_alpha = alpha
        model._fit_partial_rows(train, epochs=3, trainable_user_features=[],
                                trainable_item_features=trainable)
        _assert_frozen(before, model, {"user": [], "item": trainable}, f"alpha={alpha}")
        results[alpha] = model.item_embeddings[trainable]
    assert np.linalg.norm(results[0.05]) < np.linalg.norm(results[0.0])


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("alpha", [0.0, 0.01], ids=["no-l2", "l2"])
def test_every_row_trainable_is_fit_partial(name, alpha):
    """All rows trainable (as index lists, or None) gives fit_partial's floats and leaves
    the generator where fit_partial leaves it (serial)."""
    plain, train = _fitted(name, alpha)
    plain.fit_partial(train, epochs=2)
    for trainable in ({"trainable_user_features": np.arange(N_USERS)[::-1],
                       "trainable_item_features": list(range(N_ITEMS)) * 2},
                      {}):
        model, _ = _fitted(name, alpha)
        model._fit_partial_rows(train, epochs=2, **trainable)
        for key, value in _state(plain).items():
            np.testing.assert_array_equal(getattr(model, key), value, err_msg=key)
        assert (model.random_state_.bit_generator.state
                == plain.random_state_.bit_generator.state)


def test_fit_partial_rows_refuses_bad_arguments():
    model, train = _fitted("warp")
    before = _state(model)
    generator_state = model.random_state_.bit_generator.state
    cases = [
        ({"trainable_item_features": [0, N_ITEMS]}, rf"trainable_item_features contains "
         rf"index {N_ITEMS}, but the model has {N_ITEMS} item feature rows"),
        ({"trainable_user_features": [-1, 2]}, "trainable_user_features.*negative"),
        ({"trainable_item_features": np.ones(N_ITEMS, dtype=bool)},
         "trainable_item_features must hold indices of item feature rows, got a boolean "
         "array"),
        ({"trainable_user_features": np.zeros((2, 2), dtype=int)},
         "trainable_user_features must be a 1-dimensional"),
        ({"trainable_user_features": [0.5]}, "trainable_user_features must hold integer"),
        ({"trainable_user_features": "abc"}, "trainable_user_features must hold integer"),
        ({"epochs": -1}, "epochs must be a non-negative integer"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            model._fit_partial_rows(train, **kwargs)
    with pytest.raises(ValueError, match="more features than there are estimated"):
        model._fit_partial_rows(sp.coo_matrix((N_USERS, N_ITEMS + 1), dtype=np.float32),
                                trainable_item_features=[0])
    for key, value in before.items():  # nothing changed, not even the generator
        np.testing.assert_array_equal(getattr(model, key), value)
    assert model.random_state_.bit_generator.state == generator_state
    with pytest.raises(ValueError, match="fit it first"):
        LightFM(loss="warp")._fit_partial_rows(train, trainable_item_features=[0])


# ---------------------------------------------------------------- _insert_rows
@pytest.mark.parametrize("schedule", ["adagrad", "adadelta"])
@pytest.mark.parametrize("side", ["user", "item"])
@pytest.mark.parametrize("where", ["start", "middle", "end", "append"])
def test_insert_rows_initialises_like_initialize(schedule, side, where):
    model, _ = _fitted("warp", schedule=schedule)
    before = _state(model)
    held = {name: getattr(model, name) for name in before}  # the arrays readers hold
    n_rows = before[f"{side}_biases"].shape[0]
    position = {"start": 0, "middle": 7, "end": n_rows, "append": None}[where]
    at = n_rows if position is None else position
    count, d = 5, model.no_components
    expected_draw = np.random.default_rng()
    expected_draw.bit_generator.state = model.random_state_.bit_generator.state
    rows = model._insert_rows(side, position, count)

    np.testing.assert_array_equal(rows, np.arange(at, at + count))
    assert rows.dtype == np.int32
    embeddings = (expected_draw.random((count, d), dtype=np.float32) - np.float32(0.5)
                  ) / np.float32(d)
    start = 1.0 if schedule == "adagrad" else 0.0
    fresh = {"embeddings": embeddings, "embedding_gradients": np.full((count, d), start),
             "embedding_momentum": np.zeros((count, d)), "biases": np.zeros(count),
             "bias_gradients": np.full(count, start), "bias_momentum": np.zeros(count)}
    for suffix in SUFFIXES:
        name = f"{side}_{suffix}"
        array = getattr(model, name)
        assert array.dtype == np.float32 and array.flags.c_contiguous, name
        assert array.shape == (n_rows + count, *before[name].shape[1:]), name
        np.testing.assert_array_equal(array[at:at + count], fresh[suffix], err_msg=name)
        np.testing.assert_array_equal(np.delete(array, rows, axis=0), before[name],
                                      err_msg=name)
        # Replaced, not resized: the old array is intact for whoever holds it.
        assert array is not held[name]
        np.testing.assert_array_equal(held[name], before[name])
    other = "item" if side == "user" else "user"
    for suffix in SUFFIXES:
        assert getattr(model, f"{other}_{suffix}") is held[f"{other}_{suffix}"]
    # The generator moved on by exactly that draw.
    assert model.random_state_.bit_generator.state == expected_draw.bit_generator.state


def test_insert_rows_draws_initialize_distribution():
    """The inserted embeddings come from _initialize's formula: U[-0.5, 0.5) / d, drawn
    from the model's generator (created from random_state when missing)."""
    d = 8
    train = _interactions("ones")
    fresh = LightFM(loss="warp", no_components=d, random_state=11).fit(train, epochs=0)
    generator = np.random.default_rng(11)
    expected_items = (generator.random((N_ITEMS, d), dtype=np.float32) - np.float32(0.5)
                      ) / np.float32(d)
    np.testing.assert_array_equal(fresh.item_embeddings, expected_items)

    model = LightFM(loss="warp", no_components=d, random_state=11).fit(train, epochs=1)
    model.random_state_ = None  # e.g. a loaded model: created from random_state
    rows = model._insert_rows("item", None, 4000)
    values = model.item_embeddings[rows]
    np.testing.assert_array_equal(values, (np.random.default_rng(11).random(
        (4000, d), dtype=np.float32) - np.float32(0.5)) / np.float32(d))
    assert values.min() >= -0.5 / d and values.max() < 0.5 / d
    assert abs(values.mean()) < 0.002 and abs(values.std() - 1 / d / np.sqrt(12)) < 0.002


def test_insert_zero_rows_changes_nothing():
    model, _ = _fitted("bpr")
    held = {name: getattr(model, name) for name in _state(model)}
    generator_state = model.random_state_.bit_generator.state
    rows = model._insert_rows("user", 3, 0)
    assert rows.shape == (0,)
    assert all(getattr(model, name) is array for name, array in held.items())
    assert model.random_state_.bit_generator.state == generator_state


def test_insert_rows_refuses_bad_arguments():
    model, _ = _fitted("warp")
    before = _state(model)
    for args, message in [
        (("items", None, 1), "side must be 'user' or 'item', got 'items'"),
        (("item", -1, 1), rf"position must be in 0..{N_ITEMS}.*got -1"),
        (("item", N_ITEMS + 1, 1), rf"position must be in 0..{N_ITEMS}.*got {N_ITEMS + 1}"),
        (("user", 1.0, 1), "position must be an integer or None, got 1.0"),
        (("user", True, 1), "position must be an integer or None, got True"),
        (("user", None, -1), "count must be a non-negative integer, got -1"),
        (("user", None, 2.0), "count must be a non-negative integer, got 2.0"),
        (("user", None, True), "count must be a non-negative integer, got True"),
    ]:
        with pytest.raises(ValueError, match=message):
            model._insert_rows(*args)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(model, name), value)
    with pytest.raises(ValueError, match="You must fit the model"):
        LightFM()._insert_rows("item", None, 1)


def test_model_with_inserted_rows_trains_and_predicts():
    """Rows inserted between the identity and the side-feature rows (the facade's
    layout): with the matching wider feature matrix the old items score exactly as
    before, the new items can be trained and predicted."""
    n_genres, count = 4, 3
    genres = sp.random(N_ITEMS + count, n_genres, density=0.5, random_state=5,
                       format="csr", dtype=np.float32)
    old_features = sp.csr_matrix(sp.hstack([sp.identity(N_ITEMS, format="csr"),
                                            genres[:N_ITEMS]]), dtype=np.float32)
    new_features = sp.csr_matrix(sp.hstack([sp.identity(N_ITEMS + count, format="csr"),
                                            genres]), dtype=np.float32)
    train = _interactions("ones")
    model = LightFM(loss="warp", no_components=6, random_state=2).fit(
        train, item_features=old_features, epochs=3)
    users = np.repeat(np.arange(N_USERS), N_ITEMS)
    items = np.tile(np.arange(N_ITEMS), N_USERS)
    scores = model.predict(users, items, item_features=old_features)
    rows = model._insert_rows("item", N_ITEMS, count)
    np.testing.assert_array_equal(rows, np.arange(N_ITEMS, N_ITEMS + count))
    np.testing.assert_array_equal(model.predict(users, items, item_features=new_features),
                                  scores)
    with pytest.raises(ValueError, match="more features than there are estimated"):
        model.fit_partial(train, item_features=sp.identity(N_ITEMS + 2 * count + n_genres,
                                                           format="csr"))
    wider = _interactions("ones", seed=1, shape=(N_USERS, N_ITEMS + count))
    model.fit_partial(wider, item_features=new_features, epochs=2)
    assert model._is_healthy()
    new_scores = model.predict(np.repeat(np.arange(N_USERS), count),
                               np.tile(np.arange(N_ITEMS, N_ITEMS + count), N_USERS),
                               item_features=new_features)
    assert new_scores.shape == (N_USERS * count,) and np.isfinite(new_scores).all()
    ranks = model.predict_rank(wider, item_features=new_features)
    assert ranks.nnz == wider.nnz


# ---------------------------------------------------------------- fold-in of new items
def _held_out_items(n_new: int = 15):
    """Synthetic ml-100k-like implicit feedback: 300 users x 400 items, the ``n_new``
    items held out renumbered last. Returns (all interactions, the old items' part)."""
    frame = synthetic(n_users=300, n_items=400, n_interactions=12_000, string_keys=False,
                      random_state=0).interactions
    users = frame["user_id"].to_numpy()
    items = frame["item_id"].to_numpy()
    counts = np.bincount(items, minlength=400)
    held = np.random.default_rng(0).choice(np.flatnonzero(counts >= 10), n_new, replace=False)
    renumber = np.empty(400, dtype=np.int64)
    old = np.setdiff1d(np.arange(400), held)
    renumber[old] = np.arange(old.size)
    renumber[held] = old.size + np.arange(n_new)
    items = renumber[items]
    ones = np.ones(items.size, dtype=np.float32)
    full = sp.coo_matrix((ones, (users, items)), shape=(300, 400))
    keep = items < old.size
    old_part = sp.coo_matrix((ones[keep], (users[keep], items[keep])), shape=(300, old.size))
    return full, old_part


#: Measured over random_state 0..3: the new items' mean bias sat at
#: the 0.69-0.81 (warp) / 0.29-0.64 (bpr) quantile of the old items' biases, and the
#: mean score gap between users who took a new item and users who did not was 1.32-1.43
#: (warp) / 0.34-0.40 (bpr). Trained on the new items' interactions alone, WARP's new
#: biases sat at the 0.990-0.992 quantile.
FOLD_IN_SCORE_GAP = {"warp": 1.0, "bpr": 0.25}


@pytest.mark.parametrize("loss", ["warp", "bpr"])
def test_fold_in_new_items_against_all_interactions(loss):
    """What the facade's item fold-in needs: new rows appended and trained alone on all
    interactions (so the old positives draw the new items as negatives too). Everything
    else stays bit-identical, and the new items' mean bias stays inside the old items'
    range (below their 0.9 quantile) instead of climbing to the top, which is what WARP
    does when trained on the new items' interactions alone, where they are only ever
    positives (checked as the control; BPR draws its negatives from the training
    positives, so there its control has nothing to show)."""
    full, old_part = _held_out_items()
    n_old, n_new = old_part.shape[1], full.shape[1] - old_part.shape[1]
    model = LightFM(loss=loss, no_components=16, random_state=0).fit(old_part, epochs=10)
    before = _state(model)
    rows = model._insert_rows("item", None, n_new)
    np.testing.assert_array_equal(rows, np.arange(n_old, n_old + n_new))
    model._fit_partial_rows(full, epochs=10, trainable_user_features=[],
                            trainable_item_features=rows)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(model, name)[:value.shape[0]], value,
                                      err_msg=name)
    old_biases = model.item_biases[:n_old]
    new_bias = float(model.item_biases[rows].mean())
    assert old_biases.min() < new_bias < np.quantile(old_biases, 0.9), (
        new_bias, np.mean(old_biases < new_bias))

    # The new items are scored up for the users who took them.
    full_csr = full.tocsr()
    scores = model.predict(np.repeat(np.arange(300), n_new),
                           np.tile(rows, 300)).reshape(300, n_new)
    took = full_csr[:, n_old:].toarray() > 0
    assert scores[took].mean() > scores[~took].mean() + FOLD_IN_SCORE_GAP[loss]

    if loss != "warp":
        return
    # The control: the same rows trained on the new items' interactions alone climb
    # to the top of the old items (the failure mode this operation exists to avoid).
    control = LightFM(loss=loss, no_components=16, random_state=0).fit(old_part, epochs=10)
    control._insert_rows("item", None, n_new)
    new_part = full.col >= n_old
    only_new = sp.coo_matrix((full.data[new_part], (full.row[new_part], full.col[new_part])),
                             shape=full.shape)
    control._fit_partial_rows(only_new, epochs=10, trainable_user_features=[],
                              trainable_item_features=rows)
    climbed = float(control.item_biases[rows].mean())
    assert climbed > np.quantile(control.item_biases[:n_old], 0.98)
