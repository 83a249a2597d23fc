"""Past 2**31 interactions: positions are int64, ids int32, without allocating billions.

Three kinds of checks:

- the public API given matrices whose index arrays are forced to int64 (scipy keeps int32
  for small matrices) gives bit-for-bit the results of the int32 form;
- the Python layer's past-the-limit path (scipy's int64 index arrays, which it uses above
  2**31 - 1 entries) is run on small data by lowering the module's limit constant, again
  with results equal to the int32 path;
- every place that computes positions, offsets or totals that can pass 2**31 is checked
  on its own at such sizes: the random draws of the shuffle and of the negative pool,
  the epoch's chunk and block arithmetic, the CSR index dtype rule.

And one check that the int64 positions cost no second compiled specialisation of any
kernel (a fresh interpreter, signatures read from the dispatchers).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec import LightFM, _config, _validation
from hybridrec._epochs import block_count, epoch_chunks
from hybridrec.kernels import _rng, epoch_inputs
from hybridrec.metrics import auc_score, precision_at_k, reciprocal_rank
from hybridrec.recommender import Recommender

from . import naive

N_USERS, N_ITEMS = 30, 25
STATE_ARRAYS = ("item_embeddings", "item_biases", "user_embeddings", "user_biases",
                "item_embedding_gradients", "user_embedding_gradients")


def _interactions(seed: int = 0, negatives: bool = False) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((N_USERS, N_ITEMS)) < 0.25
    values = np.where(rng.random((N_USERS, N_ITEMS)) < 0.3, -1.0, 1.0) if negatives else 1.0
    return sp.csr_matrix(dense * values, dtype=np.float32)


def _with_int64_indices(matrix: sp.spmatrix) -> sp.spmatrix:
    """A copy whose index arrays are int64 (set after construction: scipy's constructors
    pick int32 for contents that fit)."""
    copy = matrix.copy()
    if copy.format == "coo":
        # (``row`` / ``col`` are views of ``coords``; assigning them keeps int32.)
        copy.coords = (copy.row.astype(np.int64), copy.col.astype(np.int64))
        assert copy.row.dtype == np.int64
    else:
        copy.indptr = copy.indptr.astype(np.int64)
        copy.indices = copy.indices.astype(np.int64)
        assert copy.indptr.dtype == np.int64 and copy.indices.dtype == np.int64
    return copy


def _features(n_rows: int, n_tags: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    tags = sp.csr_matrix((rng.random((n_rows, n_tags)) < 0.3).astype(np.float32))
    return sp.hstack([sp.identity(n_rows, dtype=np.float32, format="csr"), tags]).tocsr()


def _assert_same_model(first: LightFM, second: LightFM) -> None:
    for name in STATE_ARRAYS:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), name)


# ------------------------------------------------------------------ public API, int64 input
@pytest.mark.parametrize("loss, negatives, alpha", [
    ("warp", False, 0.0), ("bpr", True, 0.0), ("logistic", True, 0.01),
    ("warp-kos", False, 0.0), ("hinge", False, 0.0), ("regression", False, 0.0),
])
def test_fit_with_int64_index_arrays_equals_int32(loss, negatives, alpha):
    interactions = _interactions(1, negatives)
    if loss == "regression":
        interactions.data = np.random.default_rng(2).integers(1, 6, interactions.nnz
                                                               ).astype(np.float32)
    weights = interactions.tocoo()
    weights.data = np.random.default_rng(3).uniform(0.5, 2.0, weights.nnz).astype(np.float32)
    item_features = _features(N_ITEMS, 4, 4)

    def fit(matrix, sample_weight, features):
        model = LightFM(no_components=4, loss=loss, item_alpha=alpha, random_state=7)
        return model.fit(matrix, sample_weight=sample_weight, item_features=features,
                         epochs=2)

    narrow = fit(interactions, weights, item_features)
    wide = fit(_with_int64_indices(interactions), _with_int64_indices(weights),
               _with_int64_indices(item_features))
    _assert_same_model(narrow, wide)
    # The COO form with int64 coordinates too (the estimator's own conversion path).
    _assert_same_model(narrow, fit(_with_int64_indices(interactions.tocoo()), weights,
                                   _with_int64_indices(item_features)))


def test_negative_mixing_with_int64_index_arrays_equals_int32():
    interactions = _interactions(5, negatives=True)

    def fit(matrix):
        return LightFM(no_components=4, loss="warp", negative_mixing=0.5,
                       random_state=3).fit(matrix, epochs=2)

    _assert_same_model(fit(interactions), fit(_with_int64_indices(interactions)))


def test_prediction_and_metrics_with_int64_index_arrays_equal_int32():
    train, test = _interactions(6), _interactions(7)
    test = test - test.multiply(train)
    test.eliminate_zeros()
    user_features = _features(N_USERS, 3, 8)
    model = LightFM(no_components=5, loss="warp", random_state=0).fit(
        train, user_features=user_features, epochs=3)
    wide = {name: _with_int64_indices(m) for name, m in
            (("train", train), ("test", test), ("user_features", user_features))}
    np.testing.assert_array_equal(
        model.predict(np.arange(N_USERS), np.arange(N_USERS) % N_ITEMS,
                      user_features=user_features),
        model.predict(np.arange(N_USERS, dtype=np.int64),
                      np.arange(N_USERS, dtype=np.int64) % N_ITEMS,
                      user_features=wide["user_features"]))
    ranks = model.predict_rank(test, train_interactions=train, user_features=user_features)
    wide_ranks = model.predict_rank(wide["test"], train_interactions=wide["train"],
                                    user_features=wide["user_features"])
    np.testing.assert_array_equal(ranks.toarray(), wide_ranks.toarray())
    for metric in (precision_at_k, auc_score, reciprocal_rank):
        np.testing.assert_array_equal(
            metric(model, test, train_interactions=train, user_features=user_features),
            metric(model, wide["test"], train_interactions=wide["train"],
                   user_features=wide["user_features"]))
    representations = model.get_user_representations(user_features)
    for got, expected in zip(model.get_user_representations(wide["user_features"]),
                             representations, strict=True):
        np.testing.assert_array_equal(got, expected)


# ------------------------------------------- the past-2**31 path, by lowering the limit
def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    return pd.DataFrame({"user_id": "u" + pd.Series(rng.integers(0, 40, n)).astype(str),
                         "item_id": "i" + pd.Series(rng.integers(0, 30, n)).astype(str)})


def _recommender_run(tmp_path: Path, tag: str) -> dict:
    train = _frame(0)
    rec = Recommender(no_components=6, epochs=3, loss="bpr", random_state=0)
    rec.fit(train.iloc[:300])
    rec.fit_partial(train.iloc[300:])
    path = rec.save(tmp_path / f"{tag}.npz")
    loaded = Recommender.load(path)
    return {"rec": rec, "loaded": loaded,
            "recommend": rec.recommend(k=5), "loaded_recommend": loaded.recommend(k=5),
            "evaluate": rec.evaluate(_frame(1), k=(5,))}


def test_recommender_past_the_int32_entry_limit_matches(tmp_path, monkeypatch):
    """With the limit lowered to 50 entries every stored matrix above it keeps scipy's
    int64 index arrays (as it would past 2**31 - 1): training, incremental training,
    recommend, evaluate and save / load give exactly the int32 run's results."""
    narrow = _recommender_run(tmp_path, "narrow")
    assert narrow["rec"].interactions_.indptr.dtype == np.int32
    monkeypatch.setattr(_validation, "_INT32_MAX", 50)
    wide = _recommender_run(tmp_path, "wide")
    assert wide["rec"].interactions_.nnz > 50
    assert wide["rec"].interactions_.indptr.dtype == np.int64
    assert wide["loaded"].interactions_.indptr.dtype == np.int64
    assert wide["rec"].scoring_snapshot().seen.indptr.dtype == np.int64
    for name in ("recommend", "loaded_recommend", "evaluate"):
        pd.testing.assert_frame_equal(narrow[name], wide[name], check_dtype=True)
    np.testing.assert_array_equal(narrow["rec"].model_.item_embeddings,
                                  wide["rec"].model_.item_embeddings)


def test_int32_csr_never_wraps_an_indptr(monkeypatch):
    monkeypatch.setattr(_validation, "_INT32_MAX", 5)
    matrix = _validation.int32_csr(sp.csr_matrix(np.ones((3, 3), np.float32)))
    assert matrix.indptr.dtype == matrix.indices.dtype == np.int64
    np.testing.assert_array_equal(matrix.indptr, [0, 3, 6, 9])
    indptr, indices = _validation.csr_kernel_arrays(matrix)
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    assert indptr.flags.c_contiguous and indices.flags.c_contiguous
    small = _validation.int32_csr(sp.csr_matrix(np.eye(2, dtype=np.float32)))
    assert small.indptr.dtype == small.indices.dtype == np.int32


def test_csr_index_dtype_boundary():
    assert _validation.csr_index_dtype(0) is np.int32
    assert _validation.csr_index_dtype(2**31 - 1) is np.int32
    assert _validation.csr_index_dtype(2**31) is np.int64
    assert _validation.csr_index_dtype(5 * 10**9) is np.int64


def test_entry_count_is_not_limited_but_ids_are():
    """A matrix reporting 2**31 entries passes the gate (it used to be refused); more
    than 2**31 - 1 rows is refused, naming the int32 ids."""

    class Huge(sp.coo_matrix):
        @property
        def nnz(self):
            return 2**31

    _validation.check_sparse(Huge(_interactions().tocoo()), "interactions")
    tall = sp.coo_matrix((2**31, 2), dtype=np.float32)  # COO: nothing allocated
    with pytest.raises(ValueError, match=r"interactions has shape \(2147483648, 2\); at "
                                         r"most 2147483647 rows and columns .*ids are int32"):
        LightFM(no_components=2).fit(tall)


# ------------------------------------------------ offsets and totals near and past 2**31
@pytest.mark.parametrize("bound", [1, 7, 2**24, 2**31 - 1, 2**31, 2**31 + 1, 3 * 2**31 + 5,
                                   2**40, 2**62])
def test_draw_below_matches_reference_at_every_size(bound):
    state = np.uint64(0x9E3779B97F4A7C15)
    reference = int(state)
    for _ in range(200):
        state, r = _rng.draw_below(state, bound)
        state = np.uint64(state)  # as in the kernels (a Python int >= 2**63 would type int64)
        reference, expected = naive.draw_below(reference, bound)
        assert int(state) == reference and r == expected and 0 <= r < bound


def test_draw_below_reaches_positions_past_2_31():
    """A BPR pool with one entry per interaction, past 2**31 entries: draws cover it
    (with 31-bit draws no position >= 2**31 could come out)."""
    state = np.uint64(12345)
    bound = 5 * 2**31
    draws = []
    for _ in range(2000):
        state, r = _rng.draw_below(state, bound)
        state = np.uint64(state)
        draws.append(r)
    draws = np.asarray(draws)
    assert draws.max() < bound
    # Uniform on [0, 5 * 2**31): each fifth holds about 400 of 2000 draws.
    counts = np.bincount(draws // 2**31, minlength=5)
    assert counts.shape == (5,) and counts.min() > 300, counts


@pytest.mark.parametrize("m", [0, 1, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1, 2**33, 2**40])
def test_shuffle_slot_matches_reference_at_every_size(m):
    state = np.uint64(0xD1B54A32D192ED03)
    reference = int(state)
    for _ in range(200):
        state, j = epoch_inputs.shuffle_slot(state, m)
        state = np.uint64(state)
        reference, expected = naive.shuffle_slot(reference, m)
        assert int(state) == reference and j == expected and 0 <= j <= m


def test_shuffle_slot_reaches_every_part_of_a_long_order():
    m = 4 * 2**31
    state = np.uint64(99)
    slots = []
    for _ in range(2000):
        state, j = epoch_inputs.shuffle_slot(state, m)
        state = np.uint64(state)
        slots.append(j)
    counts = np.bincount(np.asarray(slots) // 2**31, minlength=5)
    assert counts[:4].min() > 400, counts


def test_shuffled_order_is_int64_and_unchanged_by_the_wide_branch():
    """Below 2**31 the shuffle is the narrow formula, step for step (the reference)."""
    n = 300
    weights = np.ones(n, dtype=np.float32)
    order = epoch_inputs.shuffled_active(weights, weights, True, np.uint64(5))
    assert order.dtype == np.int64
    expected = np.empty(n, dtype=np.int64)
    state = 5
    for m in range(n):
        state, j = naive.shuffle_slot(state, m)
        expected[m] = expected[j]
        expected[j] = m
    np.testing.assert_array_equal(order, expected)


_EPOCH_SIZES = [1, 4096, 4097, 2**31 - 1, 2**31, 2**31 + 1, 2**32, 2**32 + 1, 5 * 10**9,
                3 * 2**33 + 7]


# Regularised epochs are cut into chunks of at most REG_CHUNK_MAX examples: past 2**31 + 1
# that is millions of identical chunks, so those sizes are checked unregularised only.
@pytest.mark.parametrize(("n", "regularised"),
                         [(n, False) for n in _EPOCH_SIZES]
                         + [(n, True) for n in _EPOCH_SIZES if n <= 2**31 + 1])
def test_epoch_chunks_cover_the_epoch_and_keep_kernel_arithmetic_in_int64(n, regularised):
    chunks = epoch_chunks(n, regularised)
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    for (_, stop, _), (start, _, _) in zip(chunks, chunks[1:], strict=False):
        assert stop == start
    for start, stop, n_blocks in chunks:
        size = stop - start
        assert n_blocks == block_count(size)
        # Inside the kernel: (block * size) // n_blocks for block <= n_blocks, in int64.
        assert n_blocks * size < 2**63
        assert size <= (_config.REG_CHUNK_MAX if regularised else _config.EPOCH_CHUNK_MAX)
    if not regularised and n <= _config.EPOCH_CHUNK_MAX:
        assert len(chunks) == 1  # an epoch below 2**32 examples: one call, as before


def test_epoch_chunks_unchanged_where_data_fits():
    """The regularised chunking is the one LightFM-style L2 tests were written against."""
    for n in (1000, 50_000, 1_000_000):
        chunk = min(_config.REG_CHUNK_MAX, max(1024, -(-n // _config.REG_CHUNKS_MIN)))
        expected = [(s, min(s + chunk, n), block_count(min(chunk, n - s)))
                    for s in range(0, n, chunk)]
        assert epoch_chunks(n, True) == expected
        assert epoch_chunks(n, False) == [(0, n, block_count(n))]


@pytest.mark.parametrize(("examples", "blocks"), [
    (0, 1), (1, 1), (127, 1), (255, 1), (256, 2), (1000, 7), (2048, 16),
    (3613, 16),  # a StackExchange L2 chunk (57,795 examples / 16): was one block
    (65_536, 16), (65_537, 17), (1_000_000, 245), (2**32, 2**20)])
def test_block_count_gives_every_thread_work_in_short_calls(examples, blocks):
    """At least TRAIN_MIN_BLOCKS blocks of >= TRAIN_MIN_BLOCK_SIZE examples, else blocks
    of at most TRAIN_BLOCK; every block of a call is non-empty."""
    assert (_config.TRAIN_BLOCK, _config.TRAIN_MIN_BLOCKS,
            _config.TRAIN_MIN_BLOCK_SIZE) == (4096, 16, 128)
    assert block_count(examples) == blocks
    if examples > 0:
        sizes = np.diff([(b * examples) // blocks for b in range(blocks + 1)])
        assert sizes.min() >= 1 and sizes.max() <= _config.TRAIN_BLOCK
        if blocks > 1:
            assert sizes.min() >= min(_config.TRAIN_MIN_BLOCK_SIZE,
                                      examples // blocks)


def test_block_count_with_one_minimum_block_is_the_plain_cut(monkeypatch):
    """TRAIN_MIN_BLOCKS = 1 gives ceil(examples / TRAIN_BLOCK) blocks: the layout (and
    hence the random streams and floats) from before the minimum existed."""
    monkeypatch.setattr(_config, "TRAIN_MIN_BLOCKS", 1)
    for examples in (1, 128, 3613, 4096, 4097, 65_535, 10**6):
        assert block_count(examples) == -(-examples // _config.TRAIN_BLOCK)


# -------------------------------------------------------- one specialisation per kernel
_SPECIALISATION_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, pandas as pd, scipy.sparse as sp
    from numba.core import types
    from numba.core.registry import CPUDispatcher
    import hybridrec.kernels as kernels_package
    import hybridrec.metrics._kernels as metric_kernels
    from hybridrec import LightFM
    from hybridrec.sequence import SequenceModel, sequences_from_frame
    from hybridrec.metrics import precision_at_k, auc_score
    from hybridrec.recommender import Recommender
    from hybridrec.kernels import epoch_inputs, losses, representation, scoring, sequence

    rng = np.random.default_rng(0)
    train = sp.csr_matrix((rng.random((20, 15)) < 0.3).astype(np.float32))
    wide = train.copy()
    wide.indptr, wide.indices = wide.indptr.astype(np.int64), wide.indices.astype(np.int64)
    features = sp.hstack([sp.identity(15, format="csr"), sp.csr_matrix(
        (rng.random((15, 3)) < 0.5).astype(np.float32))]).tocsr()
    for matrix in (train, wide, train.tocoo()):
        for loss in ("warp", "bpr", "logistic", "warp-kos", "hinge"):
            model = LightFM(no_components=3, loss=loss, random_state=0).fit(
                matrix, item_features=features, epochs=1)
            model.fit_partial(matrix, epochs=1)
            model.predict(0, np.arange(15), item_features=features)
            precision_at_k(model, matrix, item_features=features)
            auc_score(model, matrix, item_features=features)
    frame = pd.DataFrame({"user": rng.integers(0, 10, 200), "item": rng.integers(0, 12, 200),
                          "time": np.arange(200)})
    rec = Recommender(no_components=3, epochs=1, random_state=0).fit(frame, "user", "item")
    rec.recommend(k=3)
    rec.evaluate(frame, k=3)
    sequences = sequences_from_frame(frame, "user", "item", "time")
    SequenceModel(no_components=3, epochs=1, random_state=0).fit(sequences)

    conflicts = []
    modules = [epoch_inputs, losses, representation, scoring, sequence, metric_kernels]
    for module in modules:
        for name, value in vars(module).items():
            if not isinstance(value, CPUDispatcher):
                continue
            seen = {}
            for signature in value.signatures:
                for position, argument in enumerate(signature):
                    if isinstance(argument, types.Array) and isinstance(
                            argument.dtype, types.Integer):
                        seen.setdefault(position, set()).add(str(argument.dtype))
            for position, dtypes in seen.items():
                if len(dtypes) > 1:
                    conflicts.append(f"{module.__name__}.{name} argument {position}: "
                                     f"{sorted(dtypes)}")
    print(json.dumps(conflicts))
""")


def test_no_kernel_compiles_an_int32_and_an_int64_specialisation():
    """int32 and int64 inputs (CSR, COO), features, every loss family, metrics, the
    facade and the sequence model: no kernel argument is ever seen as two integer
    dtypes, i.e. the positions are int64 and the ids int32 on every path."""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", _SPECIALISATION_SCRIPT], cwd=root,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-3000:]
