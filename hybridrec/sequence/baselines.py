"""Baselines for next-item models: popularity (``hybridrec.PopularityModel`` on the
sequences' item counts, so the package has one popularity model) and item-to-item
transitions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..baselines import PopularityModel
from .data import Sequences

__all__ = ["CooccurrenceBaseline", "PopularityBaseline"]


class PopularityBaseline:
    """Scores every item by its number of occurrences in the training sequences.

    A ``hybridrec.PopularityModel`` fitted on the sequences x items occurrence counts
    (each occurrence an example), exposed with the sequence baselines' interface.
    """

    def fit(self, sequences: Sequences) -> PopularityBaseline:
        """Count item occurrences.

        Parameters
        ----------
        sequences : Sequences

        Returns
        -------
        PopularityBaseline
        """
        counts = sequences.history_matrix().tocoo()
        self.model_ = PopularityModel().fit(counts, sample_weight=counts)
        self.scores_ = self.model_.item_biases_
        return self

    def scores(self, sequences: Sequences) -> np.ndarray:
        """The same popularity scores for every sequence, (n_sequences, n_items)."""
        return np.broadcast_to(self.scores_, (len(sequences), self.scores_.shape[0]))


class CooccurrenceBaseline:
    """Item-to-item transitions: scores the items that followed the sequence's last item
    in training sequences, by count (popularity breaks ties, scaled below one count)."""

    def fit(self, sequences: Sequences) -> CooccurrenceBaseline:
        """Count transitions ``a -> b`` of consecutive items within each sequence.

        Returns
        -------
        CooccurrenceBaseline
        """
        n_items = len(sequences.item_mapper)
        items = sequences.items
        same = np.ones(items.shape[0], dtype=bool)
        same[sequences.indptr[1:-1] - 1] = False     # last item of a sequence -> next sequence
        same[-1:] = False
        previous, following = items[:-1][same[:-1]], items[1:][same[:-1]]
        self.transitions_ = sp.csr_matrix(
            (np.ones(previous.shape[0], dtype=np.float32), (previous, following)),
            shape=(n_items, n_items))
        self.transitions_.sum_duplicates()
        popularity = np.bincount(items, minlength=n_items).astype(np.float64)
        self.tie_break_ = (popularity / (popularity.max() + 1.0) * 0.5).astype(np.float32)
        return self

    def scores(self, sequences: Sequences) -> np.ndarray:
        """Transition counts from each sequence's last item, (n_sequences, n_items)."""
        last = sequences.items[np.maximum(sequences.indptr[1:] - 1, 0)]
        scores = self.transitions_[last].toarray()
        scores += self.tie_break_
        scores[sequences.lengths == 0] = self.tie_break_
        return scores.astype(np.float32)
