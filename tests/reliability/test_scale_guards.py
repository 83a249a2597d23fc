"""int32 limits: more than 2**31 - 1 rows, columns or keys (user, item and feature ids) are
refused with a clear error; interactions and feature entries are not limited (positions
are int64). Tested cheaply by lowering the limit (the checks read the module constant at
call time), never by allocating 2**31 entries."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec import LightFM, _validation
from hybridrec.data import IdMapper, mapping
from hybridrec.metrics import precision_at_k

LIMIT = 10


def _matrix(nnz, shape=(6, 6)):
    rows = np.arange(nnz) % shape[0]
    cols = (np.arange(nnz) // shape[0]) % shape[1]
    return sp.coo_matrix((np.ones(nnz, np.float32), (rows, cols)), shape=shape)


#: Stored entries are counted and addressed with int64: past the (lowered) int32 limit
#: these all work, and give what they give below it (tests/test_int64_positions.py).
PAST_THE_LIMIT = [
    ("interactions", lambda m: LightFM(no_components=2, random_state=0).fit(
        _matrix(LIMIT + 1)).item_embeddings),
    ("item_features", lambda m: m.predict(0, np.arange(3), item_features=sp.csr_matrix(
        np.ones((6, 2), np.float32)))),
    ("user_features at fit", lambda m: LightFM(no_components=2, random_state=0).fit(
        _matrix(4), user_features=sp.csr_matrix(np.ones((6, 2), np.float32))
    ).user_embeddings),
    ("sample_weight", lambda m: LightFM(no_components=2, random_state=0).fit(
        _matrix(LIMIT + 2), sample_weight=_matrix(LIMIT + 2)).item_embeddings),
    ("test_interactions", lambda m: m.predict_rank(_matrix(LIMIT + 1)).toarray()),
    ("metrics", lambda m: precision_at_k(m, _matrix(LIMIT + 1))),
]


@pytest.mark.parametrize("case, call", PAST_THE_LIMIT, ids=[c[0] for c in PAST_THE_LIMIT])
def test_entry_counts_past_the_int32_limit_are_accepted(tag, case, call):
    tag("scale guard")
    model = LightFM(no_components=2, random_state=0).fit(_matrix(8))
    expected = call(model)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_validation, "_INT32_MAX", LIMIT)
        np.testing.assert_array_equal(call(model), expected)


def test_more_rows_than_int32_ids_are_refused(tag):
    tag("scale guard")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_validation, "_INT32_MAX", LIMIT)
        with pytest.raises(ValueError, match=r"interactions has shape \(11, 2\); at most 10 "
                                             "rows and columns"):
            LightFM(no_components=2).fit(_matrix(3, (LIMIT + 1, 2)))


def test_idmapper_refuses_more_than_int32_keys(tag, monkeypatch):
    tag("scale guard")
    monkeypatch.setattr(mapping, "_INT32_MAX", 5)
    mapper = IdMapper(range(5))
    with pytest.raises(ValueError, match="at most 5 distinct keys, got 6"):
        mapper.partial_fit([99])
    assert len(mapper) == 5


def test_matrix_claiming_2_31_entries_passes_the_gate(tag):
    """A matrix subclass reporting nnz = 2**31 (without storing them) is no longer refused
    (it was, with int32 positions)."""
    tag("scale guard")

    class Huge(sp.coo_matrix):
        @property
        def nnz(self):
            return 2**31

    _validation.check_sparse(Huge(_matrix(4)), "interactions")
