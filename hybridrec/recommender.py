"""``hybridrec.Recommender``: DataFrames in, recommendations out.

The facade is an orchestrator. Its fitted state is one immutable
:class:`~hybridrec._fitted.FittedState` (model, the two sides' keys and features,
interactions, history), published by a single assignment when an update completes:

- updates (``fit``, ``fit_partial``, ``fold_in``, ``add_users`` / ``add_items``) build a
  new state in ``hybridrec._updates`` (which trains a copy of the model through
  ``hybridrec._training``) and publish it only when it is complete, so an update that
  raises changes nothing, and reads running meanwhile see the previous state;
- reads (``recommend``, ``similar_*``, ``explain``, ``score_breakdown``, the feature
  queries, ``evaluate``) are functions of ``hybridrec.queries`` over the state's scoring
  snapshot, the same code the Dask partitions run (``hybridrec.distributed``);
- side features are encoded by one fitted ``FeatureEncoder`` per side
  (``hybridrec.data.features``), kept in the state's ``Side`` (``hybridrec._sides``,
  which also documents the feature layout);
- files are written and read by ``hybridrec.persist``.

Nothing loops over DataFrame rows in Python and nothing materialises a users x items
matrix.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import queries
from ._fitted import FittedState
from ._guard import update
from ._params import ParamsMixin
from ._threads import check_num_threads
from ._updates import Settings, extra_users, fitted_state, grown_state, updated_state
from ._validation import check_bool, check_fraction, check_frame, check_int
from .data import FeatureMatrix
from .metrics.ranking import check_evaluate_arguments
from .model import LightFM

__all__ = ["EVALUATE_METRICS", "Recommender"]

_MODEL_PARAMS = ("no_components", "k", "n", "learning_schedule", "loss", "learning_rate",
                 "rho", "epsilon", "item_alpha", "user_alpha", "max_sampled",
                 "num_negative_samples", "negative_mixing")
#: Default metrics of ``Recommender.evaluate`` (and ``hybridrec.distributed.evaluate_dask``).
EVALUATE_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "auc", "reciprocal_rank",
                    "coverage", "popularity")
_NOT_FITTED = "This Recommender is not fitted yet: call fit(interactions, ...) first."
_COLD_HINT = "pass their features as user_features=... (cold start) or fold them in."

Features = pd.DataFrame | FeatureMatrix | None


class Recommender(ParamsMixin):
    """Hybrid recommender on DataFrames: id mapping, side features and a LightFM model.

    Parameters
    ----------
    no_components, k, n, learning_schedule, loss, learning_rate, rho, epsilon,
    item_alpha, user_alpha, max_sampled, num_negative_samples, negative_mixing
        Hyper-parameters of the underlying :class:`hybridrec.LightFM` (same meaning;
        the default loss here is ``'warp'``, the best choice for top-k recommendation
        from implicit feedback). ``negative_mixing`` draws negatives from the dislikes
        given to ``fit`` / ``fit_partial`` as ``negatives``.
    epochs : int, default 10
        Training epochs of ``fit`` (and the default of ``fit_partial``).
    num_threads : int, default 1
        Threads for training and scoring.
    random_state : int, numpy.random.Generator or None
        Seed; ``num_threads=1`` with an int seed is fully reproducible.
    user_identity, item_identity : bool, default True
        Give every user / item with interactions its own identity feature beside its
        side features. A side without side features needs identity features.
    normalize_features : bool, default True
        L1-normalise each feature row (identity + side features), as LightFM's
        ``Dataset`` does.

    Attributes
    ----------
    model_ : LightFM
    user_mapper_, item_mapper_ : IdMapper
        Keys to rows of the feature and interaction matrices.
    user_features_, item_features_ : FeatureMatrix or None
        The model's feature matrices (None for a side without side features): identity
        columns (named by key) then the side features (layout: ``hybridrec._sides``).
    user_encoder_, item_encoder_ : FeatureEncoder or None
        How feature frames are encoded (``describe()`` shows each column's typing).
    interactions_ : scipy.sparse.csr_matrix
        Training interactions (users x items, weights as values).
    negatives_ : scipy.sparse.csr_matrix
        Known dislikes (ones) given as ``negatives``.
    history_ : pandas.DataFrame
        One row per epoch of ``fit``: ``epoch``, ``train_time`` and, with a validation
        frame, ``precision_at_k`` and ``auc``.
    best_epoch_ : int
        The epoch whose parameters were kept.

    Notes
    -----
    Updates are transactions: one that raises leaves the object exactly as before. Reads
    may run from several threads at once, also while another thread updates the object:
    they see the state before the update until it completes. Two updates at once raise
    ``RuntimeError`` (see ``docs/RELIABILITY.md``).

    Items known only by their features (``add_items``, or only in ``item_features``)
    take no part in training until they have interactions: they are never drawn as
    negatives (nobody could have chosen them) and are scored by their side features.
    """

    def __init__(self, no_components: int = 10, k: int = 5, n: int = 10,
                 learning_schedule: str = "adagrad", loss: str = "warp",
                 learning_rate: float = 0.05, rho: float = 0.95, epsilon: float = 1e-6,
                 item_alpha: float = 0.0, user_alpha: float = 0.0, max_sampled: int = 10,
                 num_negative_samples: int = 1, negative_mixing: float = 0.0, epochs: int = 10,
                 num_threads: int = 1, random_state: Any = None, user_identity: bool = True,
                 item_identity: bool = True, normalize_features: bool = True) -> None:
        self.no_components = no_components
        self.k = k
        self.n = n
        self.learning_schedule = learning_schedule
        self.loss = loss
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.num_negative_samples = num_negative_samples
        self.negative_mixing = negative_mixing
        self.epochs = epochs
        self.num_threads = num_threads
        self.random_state = random_state
        self.user_identity = user_identity
        self.item_identity = item_identity
        self.normalize_features = normalize_features

    # ------------------------------------------------------------------ state
    def _settings(self) -> Settings:
        """Validated parameters for the state transitions (LightFM checks its own)."""
        params = {name: getattr(self, name) for name in _MODEL_PARAMS}
        LightFM(**params, random_state=self.random_state)
        check_int(self.epochs, "epochs", 0)
        try:
            threads = check_num_threads(self.num_threads)
        except ValueError as error:
            raise ValueError(f"num_threads={self.num_threads!r}: {error}") from None
        identity = {side: check_bool(getattr(self, f"{side}_identity"), f"{side}_identity")
                    for side in ("user", "item")}
        return Settings(lambda: LightFM(**params, random_state=self.random_state), params,
                        self.loss,
                        self.negative_mixing, int(self.epochs), threads, identity,
                        check_bool(self.normalize_features, "normalize_features"))

    @property
    def _fitted(self) -> FittedState:
        state = self.__dict__.get("_state")
        if state is None:
            raise ValueError(_NOT_FITTED)
        return state

    def __sklearn_is_fitted__(self) -> bool:
        return self.__dict__.get("_state") is not None

    def __getattr__(self, name: str) -> Any:
        # The fitted attributes are views of the published state (read-only).
        view = _STATE_VIEWS.get(name)
        if view is None or "_state" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return view(self.__dict__["_state"])

    def scoring_snapshot(self) -> queries.ScoringSnapshot:
        """The fitted state reduced to what the queries need (``hybridrec.queries``):
        representations, mappers, training interactions; shared with Dask."""
        return self._fitted.snapshot(self.num_threads)

    def _columns(self) -> list[Hashable]:
        state = self._fitted
        return [state.user.column, state.item.column] + (
            [state.weight_col] if state.weight_col is not None else [])

    # ---------------------------------------------------------------- updates
    @update
    def fit(self, interactions: pd.DataFrame, user_col: Hashable = "user_id",
            item_col: Hashable = "item_id", weight_col: Hashable | None = None,
            user_features: Features = None, item_features: Features = None,
            validation: pd.DataFrame | None = None, eval_k: int = 10, patience: int = 3,
            user_feature_spec: Mapping | None = None, item_feature_spec: Mapping | None = None,
            verbose: bool = False, negatives: pd.DataFrame | None = None) -> Recommender:
        """Fit mappers, feature encoders and the model from DataFrames.

        Parameters
        ----------
        interactions : pandas.DataFrame
            One row per interaction; keys of any hashable type.
        user_col, item_col : hashable
            Columns of user and item keys (also the key columns of the feature frames).
        weight_col : hashable, optional
            Column of non-negative weights (sample weights; repeated pairs add up).
        user_features, item_features : pandas.DataFrame or FeatureMatrix, optional
            Side features. A wide frame keyed by ``user_col`` / ``item_col`` is encoded
            by a ``FeatureEncoder``: columns typed automatically (flags, quantile bins,
            lists, delimiter-joined strings split, categories; see
            ``hybridrec.data.features``) unless ``*_feature_spec`` names them. A
            ``FeatureMatrix`` is aligned by key (its side columns only). Keys only here
            become cold-start entities (side features only).
        validation : pandas.DataFrame, optional
            Held-out interactions (unknown keys ignored): evaluate after every epoch, stop
            after ``patience`` epochs without a better precision@``eval_k``, keep the best.
        eval_k, patience : int, default 10, 3
        user_feature_spec, item_feature_spec : dict, optional
            ``FeatureEncoder`` arguments (``categorical``, ``numeric``, ``raw``,
            ``multi_valued`` e.g. ``{"genres": "|"}``, ``flags``, ``n_bins``).
        verbose : bool, default False
            Progress bar over epochs.
        negatives : pandas.DataFrame, optional
            Known dislikes as (user, item) pairs in ``user_col`` / ``item_col``, drawn as
            negatives with probability ``negative_mixing`` (``logistic`` learns them as
            label-0 examples); ``recommend`` does not exclude them.

        Returns
        -------
        Recommender
            ``self``.

        Raises
        ------
        ValueError
            Invalid parameters or arguments, missing columns, NaN keys, negative weights,
            a side without identity nor side features, dislikes of unknown entities or
            also liked, dislikes with an explicit loss.
        TypeError
            Inputs of the wrong type.
        """
        settings = self._settings()
        check_frame(interactions, "interactions",
                    [user_col, item_col] + ([weight_col] if weight_col is not None else []))
        eval_k, patience = check_int(eval_k, "eval_k"), check_int(patience, "patience")
        if validation is not None:
            check_frame(validation, "validation", [user_col, item_col])
        self._state = fitted_state(settings, interactions, user_col, item_col, weight_col,
                                   user_features, item_features, user_feature_spec,
                                   item_feature_spec, negatives, validation, eval_k, patience,
                                   check_bool(verbose, "verbose"))
        return self

    def _update(self, frame: pd.DataFrame, user_features: Features, item_features: Features,
                negatives: pd.DataFrame | None, epochs: int, fold_in: bool,
                replay: float = 1.0) -> Recommender:
        state = self._fitted
        check_frame(frame, "new_interactions", self._columns())
        epochs = check_int(epochs, "epochs", 0)
        self._state = updated_state(state, self._settings(), frame, user_features,
                                    item_features, negatives, epochs, fold_in,
                                    check_fraction(replay, "replay"))
        return self

    @update
    def fit_partial(self, new_interactions: pd.DataFrame, user_features: Features = None,
                    item_features: Features = None, epochs: int | None = None,
                    negatives: pd.DataFrame | None = None, replay: float = 1.0
                    ) -> Recommender:
        """Train further on a batch of interactions: any mix of known and new users and
        items (new-user x new-item rows included).

        New users and items are added with identity features (and their side features
        from ``user_features`` / ``item_features``; other unknown keys of those frames
        are added as cold entities); entities known only by features that appear here get
        their identity feature. The new entities are first folded in (as ``fold_in``),
        then the whole model trains for ``epochs`` epochs on the batch plus a fresh random
        share ``replay`` of the stored interactions each epoch; every known interaction
        stays a positive (never sampled as a negative). Why replay: see
        ``hybridrec._updates.updated_state``.

        Parameters
        ----------
        new_interactions : pandas.DataFrame
            The training frame's columns.
        user_features, item_features : pandas.DataFrame or FeatureMatrix, optional
            Features of new entities, encoded as at ``fit`` (rows of known ones ignored).
        epochs : int, optional
            Default: the ``epochs`` parameter.
        negatives : pandas.DataFrame, optional
            New dislikes (as in ``fit``); they join ``negatives_``.
        replay : float in [0, 1], default 1.0
            Share of the stored interactions revisited each epoch besides the batch
            (1: a warm-started full epoch; smaller is faster and less faithful).

        Returns
        -------
        Recommender
            ``self``.

        Raises
        ------
        ValueError
            Bad columns or weights, dislikes as in ``fit``, rows that are stored dislikes.
        """
        return self._update(new_interactions, user_features, item_features, negatives,
                            self.epochs if epochs is None else epochs, False, replay)

    @update
    def fold_in(self, new_interactions: pd.DataFrame, user_features: Features = None,
                epochs: int = 5, item_features: Features = None) -> Recommender:
        """Add new users and items from a batch of interactions, training only theirs.

        As ``fit_partial``, but only the identity embeddings (and biases) of the entities
        this batch adds, or warms from features only, are trained; every other parameter
        stays bit-identical. With new items every stored interaction is visited, so they
        are drawn as negatives for everyone else's positives, as in a full retrain. Rows
        between known entities are stored (``exclude_seen``, positives) but train nothing.

        Parameters
        ----------
        new_interactions : pandas.DataFrame
            The training frame's columns.
        user_features : pandas.DataFrame or FeatureMatrix, optional
            Side features of new users.
        epochs : int, default 5
        item_features : pandas.DataFrame or FeatureMatrix, optional
            Side features of new items.

        Returns
        -------
        Recommender
            ``self``.
        """
        return self._update(new_interactions, user_features, item_features, None, epochs,
                            True)

    @update
    def fold_in_items(self, new_interactions: pd.DataFrame, item_features: Features = None,
                      epochs: int = 5) -> Recommender:
        """``fold_in`` with item features first (the item-side spelling).

        Parameters
        ----------
        new_interactions : pandas.DataFrame
        item_features : pandas.DataFrame or FeatureMatrix, optional
        epochs : int, default 5

        Returns
        -------
        Recommender
            ``self``.
        """
        return self._update(new_interactions, None, item_features, None, epochs, True)

    @update
    def add_users(self, user_features: pd.DataFrame | FeatureMatrix) -> Recommender:
        """Add cold-start users, known by their features only (no training).

        Parameters
        ----------
        user_features : pandas.DataFrame or FeatureMatrix
            One row per new user, keyed by the user column, with the training frame's
            feature columns (encoded by ``user_encoder_``).

        Returns
        -------
        Recommender
            ``self``; the users get recommendations from their side features.

        Raises
        ------
        ValueError
            Users that are already known, or a model without user side features.
        """
        self._state = grown_state(self._fitted, "user", user_features, "user_features")
        return self

    @update
    def add_items(self, item_features: pd.DataFrame | FeatureMatrix) -> Recommender:
        """The item-side ``add_users``: cold-start items, scored by their side features
        and recommendable at once (not drawn as negatives until they have interactions).

        Parameters
        ----------
        item_features : pandas.DataFrame or FeatureMatrix

        Returns
        -------
        Recommender
            ``self``.
        """
        self._state = grown_state(self._fitted, "item", item_features, "item_features")
        return self

    # ------------------------------------------------------------------ reads
    def recommend(self, users: Any = None, k: int = 10, exclude_seen: bool = True,
                  items: Any = None, filter_items: Any = None,
                  user_features: Features = None, *, item_biases: bool = True,
                  popularity_penalty: float = 0.0, diversity: float = 0.0) -> pd.DataFrame:
        """Top-``k`` items for each user.

        Parameters
        ----------
        users : key or sequence of keys, optional
            Default: every known user (then every user of ``user_features``).
        k : int, default 10
        exclude_seen : bool, default True
            Leave out the user's training interactions.
        items : sequence of keys, optional
            Candidate items (default: all known items).
        filter_items : sequence of keys, optional
            Items never to recommend (unknown keys are ignored).
        user_features : pandas.DataFrame or FeatureMatrix, optional
            Features of users not seen in training (cold start from features alone);
            rows of known users are ignored.
        item_biases : bool, default True
            False ranks by ``user . item`` without the item biases, which otherwise
            pull every list towards the same popular items.
        popularity_penalty : float >= 0, default 0
            Rank by ``score - popularity_penalty * log(1 + n_i)``, ``n_i`` being item
            ``i``'s training interactions.
        diversity : float in [0, 1], default 0
            Maximal-marginal-relevance re-rank: each next item trades relevance against
            its largest cosine similarity to the items already listed, with this weight.
            (Trade-offs measured in ``benchmarks/README.md``.)

        Returns
        -------
        pandas.DataFrame
            ``user, item, score, rank`` (rank 1..k), users in the order asked, keys in the
            caller's types; ``score = user . item + user bias + item bias``. With any
            ranking control a ``ranking_score`` column holds what the list was ranked by
            (before a diversity re-rank).

        Raises
        ------
        KeyError
            Unknown users (without features) or unknown candidate items.
        """
        state = self._fitted
        snapshot = state.snapshot(self.num_threads)
        k = queries.check_k(k)
        exclude_seen = check_bool(exclude_seen, "exclude_seen")
        extra = None
        if user_features is not None:
            keys, rows = extra_users(state, user_features)
            biases, vectors = queries.representations(snapshot.parts("user"), rows,
                                                      self.num_threads)
            extra = queries.ExtraUsers(keys, biases, vectors)
        if users is None:
            users = state.user.mapper.keys.to_numpy(dtype=object)
            if extra is not None:
                users = np.concatenate([users, np.asarray(extra.keys, dtype=object)])
        allowed = queries.allowed_items(state.item.mapper, items, filter_items)
        controls = queries.ranking_controls(item_biases, popularity_penalty, diversity)
        return queries.recommend(snapshot, users, k, exclude_seen, allowed, self.num_threads,
                                 extra, _COLD_HINT, controls)

    def similar_items(self, items: Any, k: int = 10) -> pd.DataFrame:
        """Most similar items (cosine of the learned representations; never itself).

        Parameters
        ----------
        items : key or sequence of keys
        k : int, default 10

        Returns
        -------
        pandas.DataFrame
            ``item, similar_item, similarity, rank``.
        """
        return queries.similar(self.scoring_snapshot(), "item", items, queries.check_k(k),
                               self.num_threads, "items", ("item", "similar_item"))

    def similar_users(self, users: Any, k: int = 10) -> pd.DataFrame:
        """Most similar users (cosine of the learned representations; never itself).

        Parameters
        ----------
        users : key or sequence of keys
        k : int, default 10

        Returns
        -------
        pandas.DataFrame
            ``user, similar_user, similarity, rank``.
        """
        return queries.similar(self.scoring_snapshot(), "user", users, queries.check_k(k),
                               self.num_threads, "users", ("user", "similar_user"))

    def recommend_on_item_page(self, user: Any, item: Any, k: int = 10, weight: float = 0.5,
                               exclude_seen: bool = True) -> pd.DataFrame:
        """Recommendations for ``user`` on the page of ``item``.

        Over the candidates (all items but the page item and, with ``exclude_seen``, the
        user's training items) the user's affinity ``a`` (the score) and the cosine
        similarity ``s`` to the page item are z-scored and mixed:
        ``(1 - weight) * z(a) + weight * z(s)``.

        Parameters
        ----------
        user, item : key
        k : int, default 10
        weight : float in [0, 1], default 0.5
        exclude_seen : bool, default True

        Returns
        -------
        pandas.DataFrame
            ``user, item, score, affinity, similarity, rank``.
        """
        return queries.recommend_on_item_page(self.scoring_snapshot(), user, item,
                                              queries.check_k(k), weight,
                                              check_bool(exclude_seen, "exclude_seen"))

    def explain(self, user: Any, item: Any, n: int = 3) -> pd.DataFrame:
        """The user's training items most similar to ``item`` (why it was recommended).

        Parameters
        ----------
        user, item : key
        n : int, default 3

        Returns
        -------
        pandas.DataFrame
            ``user, item, history_item, similarity, rank`` (empty without history).
        """
        return queries.explain(self.scoring_snapshot(), user, item, check_int(n, "n"))

    def score_breakdown(self, user: Any, item: Any) -> pd.DataFrame:
        """Each feature's part of the score of (``user``, ``item``).

        The terms (``interaction`` shares of ``user . item``, ``item_bias`` and
        ``user_bias`` per feature) sum to the score; ``moves_ranking`` separates what
        decides where the item ranks for this user (listed first) from the user-side
        constant (the user's biases, the same for every item). ``attrs`` hold ``score``,
        ``ranking_score`` and ``user_constant``. See ``hybridrec.queries.score_breakdown``.

        Parameters
        ----------
        user, item : key

        Returns
        -------
        pandas.DataFrame
            ``side, feature, kind, part, weight, contribution, moves_ranking``.
        """
        return queries.score_breakdown(self.scoring_snapshot(), user, item)

    def items_for_feature(self, feature: Any, k: int = 10, side: str = "item") -> pd.DataFrame:
        """Entities closest (cosine) to a feature's embedding, e.g. items for a tag.

        Parameters
        ----------
        feature : str or sequence of str
            Side-feature names such as ``"genres:Drama"``.
        k : int, default 10
        side : {'item', 'user'}, default 'item'

        Returns
        -------
        pandas.DataFrame
            ``feature, <side>, similarity, rank``.
        """
        return queries.items_for_feature(self.scoring_snapshot(), _side(side), feature,
                                         queries.check_k(k), self.num_threads)

    def features_for_item(self, item: Any, k: int = 10, exclude_own: bool = True,
                          side: str = "item") -> pd.DataFrame:
        """Side features closest (cosine) to an entity's representation (tags to add).

        Parameters
        ----------
        item : key or sequence of keys
        k : int, default 10
        exclude_own : bool, default True
            Leave out the features the entity already carries.
        side : {'item', 'user'}, default 'item'

        Returns
        -------
        pandas.DataFrame
            ``<side>, feature, similarity, rank``.
        """
        return queries.features_for_item(self.scoring_snapshot(), _side(side), item,
                                         queries.check_k(k),
                                         check_bool(exclude_own, "exclude_own"),
                                         self.num_threads)

    def similar_features(self, feature: Any, k: int = 10, side: str = "item") -> pd.DataFrame:
        """Side features whose embeddings are closest (cosine) to a feature's.

        Parameters
        ----------
        feature : str or sequence of str
        k : int, default 10
        side : {'item', 'user'}, default 'item'

        Returns
        -------
        pandas.DataFrame
            ``feature, similar_feature, similarity, rank``.
        """
        return queries.similar_features(self.scoring_snapshot(), _side(side), feature,
                                        queries.check_k(k), self.num_threads)

    def evaluate(self, test: pd.DataFrame, k: int | tuple = (10,),
                 metrics: tuple = EVALUATE_METRICS, exclude_seen: bool = True) -> pd.DataFrame:
        """Ranking metrics of held-out interactions (as ``hybridrec.metrics.evaluate``).

        Parameters
        ----------
        test : pandas.DataFrame
            Interactions with the training column names; rows with an unknown user or
            item are dropped (counted in ``attrs["dropped_rows"]``).
        k : int or tuple of int, default (10,)
        metrics : tuple of str
        exclude_seen : bool, default True
            Leave the training interactions out of the ranking.

        Returns
        -------
        pandas.DataFrame
            ``metric, k, mean, stderr, n_users``.
        """
        state = self._fitted
        check_frame(test, "test", [state.user.column, state.item.column])
        ks, metrics = check_evaluate_arguments(k, metrics)
        return queries.evaluate(state.snapshot(self.num_threads), test, ks, metrics,
                                check_bool(exclude_seen, "exclude_seen"), self.num_threads)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to a pickle-free ``.npz`` file (``hybridrec.persist.save_recommender``).

        Parameters
        ----------
        path : str or path-like
            Target file, used exactly as given (e.g. ``model.hrec``).

        Returns
        -------
        pathlib.Path
            The file written (atomically).
        """
        from .persist import save_recommender

        return save_recommender(self.get_params(), self._fitted, path)

    def export(self, path: str | Path) -> Path:
        """Write the fitted model for serving outside Python: Parquet files of every
        user's and item's final vector and bias (``score = u . v + b_u + b_i``), the keys,
        the side features and the training interactions, plus ``manifest.json``
        (``hybridrec.export`` documents the layout; needs pyarrow).

        Parameters
        ----------
        path : str or path-like
            A directory (replaced if it exists).

        Returns
        -------
        pathlib.Path
        """
        from .export import export_recommender

        return export_recommender(self.get_params(), self._fitted, path)

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a file written by :meth:`save` (any format version).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        Recommender
            Gives the same recommendations as the saved one.

        Raises
        ------
        ModelFileError
            Missing, corrupted or truncated files, another format, a newer version.
        """
        from .persist import load_recommender

        params, state = load_recommender(path)
        recommender = cls(**params)
        recommender._state = state
        return recommender


def _side(side: object) -> str:
    if side not in ("user", "item"):
        raise ValueError(f"side must be 'user' or 'item', got {side!r}.")
    return str(side)


_STATE_VIEWS = {
    "model_": lambda state: state.model,
    "user_mapper_": lambda state: state.user.mapper,
    "item_mapper_": lambda state: state.item.mapper,
    "user_features_": lambda state: state.user.public_features(),
    "item_features_": lambda state: state.item.public_features(),
    "user_encoder_": lambda state: state.user.encoder,
    "item_encoder_": lambda state: state.item.encoder,
    "interactions_": lambda state: state.interactions,
    "negatives_": lambda state: state.negatives,
    "history_": lambda state: state.history,
    "best_epoch_": lambda state: state.best_epoch,
    "user_col_": lambda state: state.user.column,
    "item_col_": lambda state: state.item.column,
    "weight_col_": lambda state: state.weight_col,
}

