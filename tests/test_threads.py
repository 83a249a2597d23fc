"""num_threads above numba's thread count: every entry point runs with numba's count and
warns once per process (LightFM code written for an 8-core laptop runs on a 2-core CI box).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numba
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import hybridrec._threads as threads_module
from hybridrec import LightFM, Recommender
from hybridrec._threads import check_num_threads, numba_threads
from hybridrec.data import synthetic
from hybridrec.metrics import (
    auc_score,
    evaluate,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)
from hybridrec.sequence import SequenceModel, leave_last_out, sequence_metrics, sequences_from_frame

LIMIT = numba.config.NUMBA_NUM_THREADS
TOO_MANY = max(64, 4 * LIMIT)


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    """Each test sees the warning state of a new process."""
    monkeypatch.setattr(threads_module, "_CLAMP_WARNED", set())


@pytest.fixture
def thread_counts(monkeypatch) -> list[int]:
    """Every count given to numba.set_num_threads during the test."""
    counts: list[int] = []
    original = numba.set_num_threads

    def recording(n: int) -> None:
        counts.append(n)
        original(n)

    monkeypatch.setattr(numba, "set_num_threads", recording)
    return counts


def _interactions() -> sp.coo_matrix:
    return sp.random(30, 40, density=0.2, format="coo", random_state=0, dtype=np.float32)


@pytest.fixture(scope="module")
def fitted() -> tuple[LightFM, sp.csr_matrix]:
    train = _interactions()
    return LightFM(loss="warp", random_state=0).fit(train, epochs=2), train.tocsr()


def _clamp_warnings(call) -> tuple[object, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [w for w in caught if "threads numba was started with" in str(w.message)]


def test_check_num_threads_clamps_and_names_both_counts():
    used, caught = _clamp_warnings(lambda: check_num_threads(TOO_MANY))
    assert used == LIMIT
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert f"num_threads={TOO_MANY}" in message and f"using {LIMIT} threads" in message
    assert "NUMBA_NUM_THREADS" in message and "before hybridrec or numba is imported" in message
    # The warning points at the caller's line, not at hybridrec's internals.
    assert caught[0].filename == __file__
    # Once per process: the same request again is silent (even with "always").
    used, caught = _clamp_warnings(lambda: check_num_threads(TOO_MANY))
    assert used == LIMIT and caught == []
    assert check_num_threads(LIMIT) == LIMIT
    assert check_num_threads(np.int64(1)) == 1


@pytest.mark.parametrize("bad, match", [(0, "Number of threads must be 1 or larger"),
                                        (-3, "Number of threads must be 1 or larger"),
                                        (1.5, "num_threads must be an integer"),
                                        (2.0, "num_threads must be an integer"),
                                        ("4", "num_threads must be an integer"),
                                        (True, "num_threads must be an integer")])
def test_invalid_thread_counts_still_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        check_num_threads(bad)
    with pytest.raises(ValueError, match=match):
        LightFM().fit(_interactions(), num_threads=bad)


def test_numba_threads_block_runs_with_the_limit_and_restores():
    before = numba.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with numba_threads(TOO_MANY) as used:
            assert used == LIMIT
            assert numba.get_num_threads() == LIMIT
    assert numba.get_num_threads() == before


def test_fit_and_fit_partial_run_with_the_limit(thread_counts):
    train = _interactions()
    model, caught = _clamp_warnings(lambda: LightFM(loss="warp", random_state=0).fit(
        train, epochs=2, num_threads=TOO_MANY))
    assert len(caught) == 1
    assert LIMIT in thread_counts and max(thread_counts) <= LIMIT
    assert np.isfinite(model.item_embeddings).all()
    _, caught = _clamp_warnings(lambda: model.fit_partial(train, num_threads=TOO_MANY))
    assert caught == []  # already warned in this process
    threads_module._CLAMP_WARNED.clear()
    _, caught = _clamp_warnings(lambda: model.fit_partial(train, num_threads=TOO_MANY))
    assert len(caught) == 1


def test_predict_and_predict_rank(fitted):
    model, train = fitted
    scores, caught = _clamp_warnings(lambda: model.predict(
        np.repeat(np.arange(30), 40), np.tile(np.arange(40), 30), num_threads=TOO_MANY))
    assert len(caught) == 1
    np.testing.assert_array_equal(scores, model.predict(np.repeat(np.arange(30), 40),
                                                        np.tile(np.arange(40), 30)))
    ranks, caught = _clamp_warnings(lambda: model.predict_rank(train, num_threads=TOO_MANY))
    assert caught == []  # the same (requested, used) pair warns once per process
    np.testing.assert_array_equal(ranks.toarray(), model.predict_rank(train).toarray())


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k, auc_score, reciprocal_rank,
                                    ndcg_at_k])
def test_metric_functions(fitted, metric):
    model, train = fitted
    values, caught = _clamp_warnings(lambda: metric(model, train, num_threads=TOO_MANY))
    assert len(caught) == 1
    np.testing.assert_array_equal(values, metric(model, train))


def test_evaluate(fitted):
    model, train = fitted
    table, caught = _clamp_warnings(lambda: evaluate(model, train, k=5, num_threads=TOO_MANY))
    assert len(caught) == 1
    pd.testing.assert_frame_equal(table, evaluate(model, train, k=5))


def test_recommender_constructor_argument(thread_counts):
    frame = synthetic(60, 50, 900, random_state=0).interactions
    rec, caught = _clamp_warnings(lambda: Recommender(
        num_threads=TOO_MANY, epochs=2, random_state=0).fit(frame))
    assert len(caught) == 1
    assert rec.get_params()["num_threads"] == TOO_MANY  # stored unmodified
    top, _ = _clamp_warnings(lambda: rec.recommend(k=3))
    assert len(top) == 3 * 60
    assert LIMIT in thread_counts and max(thread_counts) <= LIMIT


def test_sequence_model_and_its_metrics(thread_counts):
    frame = synthetic(40, 30, 600, random_state=1).interactions.copy()
    frame["ts"] = np.arange(len(frame))
    user_col, item_col = frame.columns[:2]
    sequences = sequences_from_frame(frame, user_col, item_col, "ts")
    train, test = leave_last_out(sequences, n=1, min_history=1)
    model, caught = _clamp_warnings(lambda: SequenceModel(
        no_components=8, epochs=2, num_threads=TOO_MANY, random_state=0).fit(train))
    assert len(caught) == 1
    assert np.isfinite(model.output_embeddings_).all()
    assert LIMIT in thread_counts and max(thread_counts) <= LIMIT
    scores, caught = _clamp_warnings(lambda: sequence_metrics(model, train, test,
                                                              num_threads=TOO_MANY))
    assert caught == []
    assert scores == sequence_metrics(model, train, test)


def test_once_per_process_in_a_fresh_interpreter():
    """Two fits asking for too many threads: one warning, in a real new process."""
    code = (
        "import warnings, numpy as np, scipy.sparse as sp\n"
        "warnings.simplefilter('always')\n"
        "from hybridrec import LightFM\n"
        "train = sp.random(20, 20, density=0.2, format='coo', random_state=0)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    for _ in range(3):\n"
        f"        LightFM().fit(train, num_threads={TOO_MANY})\n"
        "print(sum('threads numba was started with' in str(w.message) for w in caught))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "1"
