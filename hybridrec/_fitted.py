"""The published state of a fitted ``Recommender``: one immutable object.

A :class:`FittedState` bundles everything a fitted Recommender knows: the model, the two
:class:`~hybridrec._sides.Side` objects (keys, side features, identity switches), the
training interactions and dislikes, and the training history. Updates never change a
published state: they build a new one and the Recommender swaps it in with one
attribute assignment, so a reader that took the state before the swap keeps a complete,
consistent view (old arrays, mappers and features together), and an update that fails
leaves the published state as it was.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._sides import Side
from .model import LightFM
from .queries import FeatureParts, ScoringSnapshot, make_snapshot


@dataclass(frozen=True)
class FittedState:
    """A fitted Recommender's state (see the module docstring).

    Attributes
    ----------
    model : LightFM
        Never trained again once published (updates train a copy).
    user, item : Side
    interactions : CSR (n_users, n_items)
        Training interactions, weights as values.
    negatives : CSR (n_users, n_items)
        Known dislikes (ones).
    weight_col : hashable or None
    history : pandas.DataFrame
    best_epoch : int
    """

    model: LightFM
    user: Side
    item: Side
    interactions: sp.csr_matrix
    negatives: sp.csr_matrix
    weight_col: Hashable | None
    history: pd.DataFrame
    best_epoch: int
    #: Holds the snapshot once computed (a list: the dataclass is frozen). Two threads
    #: may both compute it; the first one stored is used by everyone (they are equal).
    _snapshot: list = field(default_factory=list, repr=False, compare=False)

    def side(self, name: str) -> Side:
        """The ``"user"`` or ``"item"`` side."""
        return self.user if name == "user" else self.item

    @property
    def shape(self) -> tuple[int, int]:
        """(n_users, n_items)."""
        return len(self.user), len(self.item)

    def feature_parts(self, name: str) -> FeatureParts:
        """The feature level of one side (the model's embeddings, not copied: a
        published model is never trained again)."""
        side = self.side(name)
        return FeatureParts(side.matrix, getattr(self.model, f"{name}_embeddings"),
                            getattr(self.model, f"{name}_biases"), side.n_identity,
                            side.names)

    def snapshot(self, num_threads: int = 1) -> ScoringSnapshot:
        """The scoring snapshot of this state, computed once and cached."""
        if not self._snapshot:
            self._snapshot.append(make_snapshot(
                self.user.column, self.item.column, self.user.mapper, self.item.mapper,
                self.feature_parts("user"), self.feature_parts("item"),
                self.interactions, num_threads))
        return self._snapshot[0]

    def check_consistent(self) -> None:
        """Raise ``ValueError`` if the parts do not fit together (a corrupted file)."""
        for name in ("user", "item"):
            side = self.side(name)
            rows = getattr(self.model, f"{name}_embeddings").shape[0]
            if side.n_features != rows:
                raise ValueError(f"{name} feature matrix has {side.n_features} columns but "
                                 f"the model has {rows} {name} embeddings.")
            if side.active.shape[0] != len(side) or side.side_features.shape[0] != len(side):
                raise ValueError(f"{name} side features / identity switches do not have "
                                 f"one row per {name} ({len(side)}).")
        for label, matrix in (("interactions", self.interactions),
                              ("negatives", self.negatives)):
            if matrix.shape != self.shape:
                raise ValueError(f"{label} have shape {matrix.shape}, expected {self.shape}.")
        if not np.isfinite(self.interactions.data).all():
            raise ValueError("interactions hold non-finite weights.")
