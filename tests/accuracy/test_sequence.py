"""Next-item accuracy on MovieLens (last item of each user held out, time order).

Measured with the default SequenceModel (seeds 0-2), MRR / P@10:
ml-latest-small: pooling 0.047-0.055 / 0.0105-0.0115, co-occurrence 0.0451 / 0.0074,
popularity 0.0181 / 0.0041. ml-100k: pooling 0.080-0.086 / 0.0160-0.0181,
co-occurrence 0.0718 / 0.0145, popularity 0.0402 / 0.0086.
"""

from __future__ import annotations

import pandas as pd
import pytest

from hybridrec.sequence import (
    CooccurrenceBaseline,
    PopularityBaseline,
    SequenceModel,
    leave_last_out,
    sequence_metrics,
    sequences_from_frame,
)
from tests.conftest import shared_data_path

pytestmark = pytest.mark.accuracy


def _frames():
    latest = pd.read_csv(shared_data_path("ml-latest-small", "ratings.csv"))
    ml100k = pd.read_csv(shared_data_path("ml-100k", "u.data"), sep="\t", header=None,
                         names=["userId", "movieId", "rating", "timestamp"])
    return {"ml-latest-small": latest, "ml-100k": ml100k}


@pytest.mark.parametrize("name", ["ml-latest-small", "ml-100k"])
def test_pooling_beats_popularity_and_cooccurrence(name):
    frame = _frames()[name]
    train, test = leave_last_out(sequences_from_frame(frame, "userId", "movieId",
                                                      "timestamp"))
    learned = sequence_metrics(SequenceModel(random_state=0).fit(train), train, test)
    for baseline in (PopularityBaseline(), CooccurrenceBaseline()):
        reference = sequence_metrics(baseline.fit(train), train, test)
        assert learned["mrr"] > reference["mrr"], (name, type(baseline).__name__)
        assert learned["precision_at_k"] > reference["precision_at_k"], name
