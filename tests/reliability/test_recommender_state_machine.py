"""A stateful property test of ``Recommender`` (hypothesis' ``RuleBasedStateMachine``).

Random sequences of fit, fit_partial with new keys, fold_in, add_items, save / load and
recommend on small synthetic frames; after every step the invariants hold: every key
maps back to itself, the state's parts agree in size, no parameter is non-finite,
``exclude_seen`` never returns a training pair, fold-in leaves every old row
bit-identical, and save / load round-trips bit for bit.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hybridrec import Recommender
from hybridrec.data import synthetic
from tests.reliability.conftest import recommender_checksum

DATA = synthetic(n_users=40, n_items=30, n_interactions=500, random_state=3)
PARAMETER_NAMES = [f"{side}_{suffix}" for side in ("user", "item")
                   for suffix in ("embeddings", "biases", "embedding_gradients",
                                  "bias_gradients", "embedding_momentum", "bias_momentum")]


def _new_rows(draw_seed: int, n: int, prefix: str) -> pd.DataFrame:
    """Interactions mixing known and new users and items (new x new included)."""
    rng = np.random.default_rng(draw_seed)
    known_users = DATA.interactions["user_id"].unique()
    known_items = DATA.interactions["item_id"].unique()
    users = np.concatenate([rng.choice(known_users, n), [f"{prefix}u{i}" for i in range(n)]])
    items = np.concatenate([rng.choice(known_items, n), [f"{prefix}i{i}" for i in range(n)]])
    return pd.DataFrame({"user_id": rng.permutation(users), "item_id": rng.permutation(items)})


class RecommenderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rec: Recommender | None = None
        self.steps = 0

    @initialize(seed=st.integers(0, 5), identity=st.booleans())
    def fit(self, seed: int, identity: bool) -> None:
        self.rec = Recommender(no_components=4, epochs=2, random_state=seed,
                               user_identity=True, item_identity=identity)
        known = DATA.items["item_id"].isin(DATA.interactions["item_id"].unique())
        self.rec.fit(DATA.interactions.iloc[:400], item_features=DATA.items[known])

    def _key(self) -> str:
        self.steps += 1
        return f"s{self.steps}"

    @rule(seed=st.integers(0, 1000), n=st.integers(1, 4), epochs=st.integers(0, 2))
    def fit_partial_with_new_keys(self, seed: int, n: int, epochs: int) -> None:
        batch = _new_rows(seed, n, self._key())
        items = batch[["item_id"]].drop_duplicates().assign(
            genre="topic1", price=3.0, tags=[["topic1"]] * batch["item_id"].nunique())
        self.rec.fit_partial(batch, item_features=items, epochs=epochs)
        self._check_batch_stored(batch)

    @rule(seed=st.integers(0, 1000), n=st.integers(1, 4))
    def fold_in_keeps_old_rows(self, seed: int, n: int) -> None:
        batch = _new_rows(seed, n, self._key())
        items = batch[["item_id"]].drop_duplicates().assign(
            genre="topic2", price=9.0, tags=[["style1"]] * batch["item_id"].nunique())
        before = copy.deepcopy(self.rec.model_)
        self.rec.fold_in(batch, item_features=items, epochs=1)
        for name in PARAMETER_NAMES:
            side = name.split("_")[0]
            features = getattr(self.rec, f"{side}_features_")
            n_side = 0 if features is None else features.side_names.size
            old, now = getattr(before, name), getattr(self.rec.model_, name)
            # New identity rows are inserted between the old identity rows and the side
            # features: every old row is still there, unchanged.
            n_identity = old.shape[0] - n_side
            kept = np.concatenate([now[:n_identity], now[now.shape[0] - n_side:]])
            np.testing.assert_array_equal(kept, old, err_msg=name)
        self._check_batch_stored(batch)

    @rule(n=st.integers(1, 3))
    def add_items(self, n: int) -> None:
        key = self._key()
        items = pd.DataFrame({"item_id": [f"{key}c{i}" for i in range(n)],
                              "genre": "topic0", "price": 1.0, "tags": [["style0"]] * n})
        self.rec.add_items(items)
        assert set(items["item_id"]) <= set(self.rec.item_mapper_.keys)

    @rule()
    def save_and_load_round_trip(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.hrec"
            self.rec.save(path)
            loaded = Recommender.load(path)
        assert recommender_checksum(loaded) == recommender_checksum(self.rec)
        pd.testing.assert_frame_equal(loaded.recommend(k=5), self.rec.recommend(k=5))
        self.rec = loaded

    @precondition(lambda self: self.rec is not None)
    @rule(k=st.integers(1, 40))
    def recommend_never_returns_training_pairs(self, k: int) -> None:
        out = self.rec.recommend(k=k)
        users = self.rec.user_mapper_.transform(out["user"])
        items = self.rec.item_mapper_.transform(out["item"])
        seen = self.rec.interactions_[users, items]
        assert np.all(np.asarray(seen).ravel() == 0)
        assert out.groupby("user").size().max() <= k

    def _check_batch_stored(self, batch: pd.DataFrame) -> None:
        users = self.rec.user_mapper_.transform(batch["user_id"])
        items = self.rec.item_mapper_.transform(batch["item_id"])
        assert np.all(np.asarray(self.rec.interactions_[users, items]).ravel() > 0)

    @invariant()
    def keys_map_back_and_parts_agree(self) -> None:
        if self.rec is None:
            return
        for side in ("user", "item"):
            mapper = getattr(self.rec, f"{side}_mapper_")
            keys = mapper.keys.to_numpy(dtype=object)
            np.testing.assert_array_equal(mapper.transform(keys), np.arange(len(keys)))
            assert list(mapper.inverse_transform(np.arange(len(keys)))) == list(keys)
        assert self.rec.interactions_.shape == (len(self.rec.user_mapper_),
                                                len(self.rec.item_mapper_))
        self.rec._state.check_consistent()

    @invariant()
    def parameters_are_finite(self) -> None:
        if self.rec is None:
            return
        for name in PARAMETER_NAMES:
            values = getattr(self.rec.model_, name)
            if name.endswith(("embeddings", "biases")):
                assert np.isfinite(values).all(), name
            else:
                assert not np.isnan(values).any(), name


RecommenderMachine.TestCase.settings = settings(
    max_examples=12, stateful_step_count=8, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestRecommenderStateMachine = RecommenderMachine.TestCase
