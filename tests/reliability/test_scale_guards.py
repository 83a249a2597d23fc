"""int32 limits: more than 2**31 - 1 interactions, feature entries, rows or keys are
refused with a clear error. Tested cheaply by lowering the limit (the check reads the
module constant at call time), never by allocating 2**31 entries."""

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


CASES = [
    ("interactions", lambda m: LightFM(no_components=2).fit(_matrix(LIMIT + 1)),
     "interactions has 11 stored entries; at most 10"),
    ("interactions rows", lambda m: LightFM(no_components=2).fit(_matrix(3, (LIMIT + 1, 2))),
     r"interactions has shape \(11, 2\); at most 10 rows and columns"),
    ("item_features", lambda m: m.predict(0, np.arange(3), item_features=sp.csr_matrix(
        np.ones((6, 2), np.float32))), "item_features has 12 stored entries"),
    ("user_features at fit", lambda m: LightFM(no_components=2).fit(
        _matrix(4), user_features=sp.csr_matrix(np.ones((6, 2), np.float32))),
     "user_features has 12 stored entries"),
    ("sample_weight", lambda m: LightFM(no_components=2).fit(_matrix(4), sample_weight=_matrix(
        LIMIT + 2)), "sample_weight has 12 stored entries"),
    ("test_interactions", lambda m: m.predict_rank(_matrix(LIMIT + 1)),
     "test_interactions has 11 stored entries"),
    ("metrics", lambda m: precision_at_k(m, _matrix(LIMIT + 1)),
     "test_interactions has 11 stored entries"),
]


@pytest.mark.parametrize("case, call, message", CASES, ids=[c[0] for c in CASES])
def test_int32_limits_are_refused(tag, case, call, message):
    tag("scale guard")
    model = LightFM(no_components=2, random_state=0).fit(_matrix(8))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_validation, "_INT32_MAX", LIMIT)
        with pytest.raises(ValueError, match=message):
            call(model)


def test_idmapper_refuses_more_than_int32_keys(tag, monkeypatch):
    tag("scale guard")
    monkeypatch.setattr(mapping, "_INT32_MAX", 5)
    mapper = IdMapper(range(5))
    with pytest.raises(ValueError, match="at most 5 distinct keys, got 6"):
        mapper.partial_fit([99])
    assert len(mapper) == 5


def test_matrix_claiming_too_many_entries_is_refused(tag):
    """A matrix subclass reporting nnz = 2**31 (without storing them) hits the real limit."""
    tag("scale guard")

    class Huge(sp.coo_matrix):
        @property
        def nnz(self):
            return 2**31

    with pytest.raises(ValueError, match="interactions has 2147483648 stored entries; at "
                                         "most 2147483647"):
        LightFM(no_components=2).fit(Huge(_matrix(4)))
