"""Every read of a fitted ``Recommender``, as functions over a :class:`ScoringSnapshot`.

A snapshot holds what the queries need of a fitted model as plain numpy / scipy objects:
the id mappers, every user's and item's representation (features already summed), the
training interactions and, for explanations and feature queries, the feature-level
embeddings. It carries no optimiser state, pickles compactly and is never changed after
it is made, so ``Recommender`` (one process) and ``hybridrec.distributed`` (the Dask
workers, which get :meth:`ScoringSnapshot.for_scoring`) run the same code on it:
``recommend`` and ``evaluate_frame`` are the per-partition computations of the Dask
path. Scores do not depend on how users are batched (``_scoring.top_k``), so a
partitioned run returns exactly the single-process result.

Nothing here imports dask.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _ann
from ._scoring import prepare_test_train, rank_items, top_k
from ._threads import numba_threads
from ._validation import (
    check_bool,
    check_fraction,
    check_int,
    csr_kernel_arrays,
    int32_csr,
    is_real,
    key_array,
    show_keys,
)
from .data import IdMapper
from .kernels import rerank, scoring
from .metrics import item_popularity
from .metrics._aggregate import EvaluationParts, summarise
from .metrics.ranking import evaluation_parts, evaluation_rank_options

SIDES = ("user", "item")
#: The approximate-search indexes a snapshot can have: ``"recommend"`` (maximum inner
#: product with the item biases, over the item vectors) and ``"similar_items"`` (cosine
#: over the unit item vectors).
INDEX_KINDS = ("recommend", "similar_items")
#: Seed of the indexes' k-means (an index is a function of the model's vectors).
INDEX_SEED = 0


# ---------------------------------------------------------------------- snapshot
@dataclass(frozen=True)
class FeatureParts:
    """The feature level of one side: what explanations and feature queries read.

    Attributes
    ----------
    matrix : CSR (n_entities, n_features)
        Each entity's (normalised) feature weights.
    embeddings : float32 (n_features, d)
    biases : float32 (n_features,)
    n_identity : int
        Leading identity columns (column ``i`` is entity ``i``'s identity feature).
    names : object array (n_features - n_identity,)
        Side-feature names.
    """

    matrix: sp.csr_matrix
    embeddings: np.ndarray
    biases: np.ndarray
    n_identity: int
    names: np.ndarray

    def positions(self, side: str, names: object, argument: str) -> np.ndarray:
        """Positions of side-feature ``names`` in ``self.names`` (``KeyError`` naming
        unknown ones, ``ValueError`` without side features)."""
        if self.names.size == 0:
            raise ValueError(f"this model has no {side} side features.")
        wanted = np.asarray(key_array(names, argument), dtype=object)
        positions = pd.Index(self.names).get_indexer(pd.Index(wanted))
        if np.any(positions < 0):
            raise KeyError(f"{argument}: unknown {side} feature(s) "
                           f"{show_keys(wanted[positions < 0])}; e.g. {show_keys(self.names)}.")
        return positions

    def column_names(self, columns: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Names of feature columns: the entity key for an identity column."""
        names = np.empty(columns.size, dtype=object)
        is_identity = columns < self.n_identity
        names[is_identity] = keys[columns[is_identity]]
        names[~is_identity] = self.names[columns[~is_identity] - self.n_identity]
        return names


def representations(parts: FeatureParts, matrix: sp.csr_matrix | None = None,
                    num_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(biases, vectors)`` of feature rows (default: every entity's row): the sums
    ``matrix @ biases`` and ``matrix @ embeddings`` in float32, by the same numba kernel
    (and summation order) as ``LightFM.get_user_representations``."""
    matrix = int32_csr(parts.matrix if matrix is None else matrix)
    n_rows, d = matrix.shape[0], parts.embeddings.shape[1]
    vectors = np.empty((n_rows, d), dtype=np.float32)
    biases = np.empty(n_rows, dtype=np.float32)
    if n_rows:
        with numba_threads(num_threads):
            scoring.representations(*csr_kernel_arrays(matrix), matrix.data, n_rows,
                                    parts.embeddings, parts.biases, vectors, biases)
    return biases, vectors


@dataclass(frozen=True)
class ScoringSnapshot:
    """A fitted Recommender reduced to what its queries need (see the module doc).

    Attributes
    ----------
    user_mapper, item_mapper : IdMapper
    user_col, item_col : column names of the training interactions
    user_biases, user_vectors : float32 (n_users,), (n_users, d)
        Representations of every known user (through its feature row).
    item_biases, item_vectors : float32 (n_items,), (n_items, d)
    seen : CSR (n_users, n_items)
        Training interactions (what ``exclude_seen`` leaves out).
    popularity : float64 (n_items,)
        Item popularity from ``seen``, as ``evaluate`` computes it with training data.
    user_parts, item_parts : FeatureParts or None
        The feature level (None in :meth:`for_scoring` snapshots).
    """

    user_mapper: IdMapper
    item_mapper: IdMapper
    user_col: Hashable
    item_col: Hashable
    user_biases: np.ndarray
    user_vectors: np.ndarray
    item_biases: np.ndarray
    item_vectors: np.ndarray
    seen: sp.csr_matrix
    popularity: np.ndarray
    user_parts: FeatureParts | None = None
    item_parts: FeatureParts | None = None

    @property
    def n_users(self) -> int:
        """int: the number of users (rows of ``user_vectors``)."""
        return int(self.user_vectors.shape[0])

    @property
    def n_items(self) -> int:
        """int: the number of items (rows of ``item_vectors``)."""
        return int(self.item_vectors.shape[0])

    def mapper(self, side: str) -> IdMapper:
        """The id mapper of ``side`` (``"user"`` or ``"item"``)."""
        return self.user_mapper if side == "user" else self.item_mapper

    def vectors(self, side: str) -> np.ndarray:
        """The representation vectors of ``side`` (``"user"`` or ``"item"``)."""
        return self.user_vectors if side == "user" else self.item_vectors

    def parts(self, side: str) -> FeatureParts:
        """The feature-level parts of ``side``; raises ``ValueError`` when absent."""
        parts = self.user_parts if side == "user" else self.item_parts
        if parts is None:
            raise ValueError("this snapshot has no feature-level parts (made by "
                             "for_scoring()); explanations need the full snapshot.")
        return parts

    def for_scoring(self) -> ScoringSnapshot:
        """The snapshot without the feature level: what batch scoring needs (sent to
        the Dask workers)."""
        return replace(self, user_parts=None, item_parts=None)


def make_snapshot(user_col: Hashable, item_col: Hashable, user_mapper: IdMapper,
                  item_mapper: IdMapper, user_parts: FeatureParts, item_parts: FeatureParts,
                  seen: sp.csr_matrix, num_threads: int = 1) -> ScoringSnapshot:
    """A snapshot with every entity's representation computed from its feature row."""
    user_biases, user_vectors = representations(user_parts, num_threads=num_threads)
    item_biases, item_vectors = representations(item_parts, num_threads=num_threads)
    seen = int32_csr(seen)
    return ScoringSnapshot(user_mapper, item_mapper, user_col, item_col, user_biases,
                           user_vectors, item_biases, item_vectors, seen,
                           item_popularity(seen, seen), user_parts, item_parts)


# ------------------------------------------------------------------------ helpers
def rows_of(mapper: IdMapper, keys: object, argument: str, hint: str = "") -> np.ndarray:
    """Rows of ``keys`` in ``mapper``; ``KeyError`` naming a few unknown keys."""
    keys = key_array(keys, argument)
    rows = mapper.transform(keys, unknown="ignore", name=argument)
    if np.any(rows < 0):
        bad = pd.unique(np.asarray(keys, dtype=object)[rows < 0])
        raise KeyError(f"{argument}: {bad.size} unknown key(s) {show_keys(bad)}.{hint}")
    return rows


def allowed_items(mapper: IdMapper, items: object, filter_items: object) -> np.ndarray | None:
    """Candidate mask of ``recommend``: only ``items`` (all known if None), minus
    ``filter_items`` (unknown keys there are ignored); None when both are None."""
    if items is None and filter_items is None:
        return None
    allowed = np.ones(len(mapper), dtype=bool)
    if items is not None:
        allowed[:] = False
        allowed[rows_of(mapper, items, "items")] = True
    if filter_items is not None:
        banned = mapper.transform(key_array(filter_items, "filter_items"), unknown="ignore")
        allowed[banned[banned >= 0]] = False
    return allowed


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32 C-contiguous."""
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
    out = np.divide(vectors, norms, out=np.zeros(vectors.shape, np.float64), where=norms > 0)
    return np.ascontiguousarray(out, dtype=np.float32)


def _self_exclusion(rows: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """CSR with one entry per query ``q`` at column ``rows[q]`` (leave the query out)."""
    m = rows.shape[0]
    return int32_csr(sp.csr_matrix((np.ones(m, np.float32), (np.arange(m), rows)),
                                   shape=(m, n_columns)))


def _zscore(values: np.ndarray) -> np.ndarray:
    std = values.std()
    centred = values - values.mean()
    return centred / std if std > 0 else np.zeros_like(centred)


def top_frame(query_keys: np.ndarray, items: np.ndarray, scores: np.ndarray,
              result_keys: np.ndarray, columns: tuple[str, str, str]) -> pd.DataFrame:
    """Long DataFrame ``[query, result, score, rank]`` from ``top_k`` output (-1 dropped)."""
    m, k = items.shape
    valid = items >= 0
    query = np.repeat(np.arange(m), k)[valid.ravel()]
    return pd.DataFrame({
        columns[0]: np.asarray(query_keys)[query],
        columns[1]: result_keys[items[valid]],
        columns[2]: scores[valid].astype(np.float32),
        "rank": np.tile(np.arange(1, k + 1), m)[valid.ravel()],
    })


def _nearest(queries: np.ndarray, candidates: np.ndarray, k: int, num_threads: int,
             exclude: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-``k`` of L2-normalised ``queries`` among normalised ``candidates``."""
    return top_k(queries, candidates, np.zeros(candidates.shape[0], np.float32),
                 np.arange(queries.shape[0]), k, num_threads, exclude=exclude)


# ------------------------------------------------------------ approximate search
def check_index_kind(kind: object) -> str:
    """``kind`` of an approximate index: one of ``INDEX_KINDS``."""
    if not isinstance(kind, str) or kind not in INDEX_KINDS:
        raise ValueError(f"kind must be one of {INDEX_KINDS}, got {kind!r}.")
    return kind


def index_items(snapshot: ScoringSnapshot, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The item vectors (and biases) an index of ``kind`` is built on: the snapshot's
    item representations and biases (``"recommend"``) or their unit vectors
    (``"similar_items"``, no biases)."""
    if kind == "recommend":
        return snapshot.item_vectors, snapshot.item_biases
    return l2_normalised(snapshot.item_vectors), None


def build_approximate_index(snapshot: ScoringSnapshot, kind: str,
                            num_threads: int) -> _ann.IVFIndex:
    """The IVF index of ``kind`` over the snapshot's items (``hybridrec._ann``).

    ``"recommend"`` calibrates its default ``n_probe`` on (up to 2,000 of) the
    snapshot's users with their training items excluded, as ``recommend`` excludes
    them; ``"similar_items"`` on the items themselves, each excluding itself. Both
    aim at a mean recall@10 of ``_ann.DEFAULT_RECALL_TARGET`` (0.99) against the exact
    lists. The k-means seed is fixed (``INDEX_SEED``): the same model gives the
    same index at any thread count.
    """
    start = time.perf_counter()
    vectors, biases = index_items(snapshot, check_index_kind(kind))
    if kind == "recommend":
        index = _ann.build_index(vectors, biases, sample_queries=snapshot.user_vectors,
                                 sample_exclude=snapshot.seen, random_state=INDEX_SEED,
                                 num_threads=num_threads)
    else:
        index = _ann.build_index(vectors, metric="cosine", random_state=INDEX_SEED,
                                 num_threads=num_threads)
    index.info["build_seconds"] = round(time.perf_counter() - start, 3)
    return index


def restore_approximate_index(snapshot: ScoringSnapshot, kind: str, arrays: dict,
                              metadata: dict) -> _ann.IVFIndex:
    """An index saved by ``_ann.index_to_arrays``, over the snapshot's items
    (``ValueError`` if they are not the items it was built on)."""
    vectors, biases = index_items(snapshot, check_index_kind(kind))
    index = _ann.index_from_arrays(arrays, metadata, vectors, biases)
    expected = "dot" if kind == "recommend" else "cosine"
    if index.metric != expected:
        raise ValueError(f"the saved {kind!r} index has metric {index.metric!r}, expected "
                         f"{expected!r}.")
    return index


def describe_index(index: _ann.IVFIndex, kind: str) -> dict:
    """What ``Recommender.approximate_index`` reports about an index."""
    info = index.info
    return {"kind": kind, "metric": index.metric, "n_items": index.n_items,
            "n_clusters": index.n_clusters, "n_probe": int(index.n_probe),
            "recall_target": info.get("recall_target"),
            "calibration_recall": info.get("calibration_recall"),
            "n_probe_source": info.get("n_probe_source"),
            "build_seconds": info.get("build_seconds")}


def check_approximate(approximate: object, n_probe: object,
                      controls: RankingControls | None = None) -> bool:
    """Checked ``approximate`` / ``n_probe`` of a query (``n_probe`` only with
    ``approximate=True``; ranking controls that change the score are refused)."""
    approximate = check_bool(approximate, "approximate")
    if n_probe is not None and not approximate:
        raise ValueError(f"n_probe={n_probe!r} applies only with approximate=True.")
    if n_probe is not None:
        check_int(n_probe, "n_probe", 1)
    if approximate and controls is not None and (not controls.item_biases
                                                 or controls.popularity_penalty > 0):
        raise ValueError(
            "approximate=True ranks by the model's score: its index holds the item "
            "biases, so item_biases=False and popularity_penalty > 0 are not supported "
            "with it (use approximate=False for them; diversity is supported).")
    return approximate


def _check_index(index: object, snapshot: ScoringSnapshot, kind: str) -> None:
    """Refuse an index that cannot be the snapshot's ``kind`` index (a cheap check of
    type, metric and size; the full digest is checked when a saved index is loaded)."""
    expected = "dot" if kind == "recommend" else "cosine"
    if (not isinstance(index, _ann.IVFIndex) or index.metric != expected
            or index.n_items != snapshot.n_items
            or index.n_components != snapshot.item_vectors.shape[1]):
        raise ValueError(f"index is not this snapshot's {kind!r} index (built on other "
                         "items); build it from this snapshot.")


# ------------------------------------------------------------------ recommendations
@dataclass(frozen=True)
class ExtraUsers:
    """Users outside the snapshot (cold start from features): keys and representations."""

    keys: np.ndarray
    biases: np.ndarray
    vectors: np.ndarray


@dataclass(frozen=True)
class RankingControls:
    """How ``recommend`` orders items besides the model's score (all off by default).

    Attributes
    ----------
    item_biases : bool
        Rank with the item biases (False: by ``user . item`` alone, which stops the
        lists converging on the items with the largest biases, mostly the popular ones).
    popularity_penalty : float >= 0
        Subtract ``popularity_penalty * log(1 + n_i)`` from the ranking score of item
        ``i`` with ``n_i`` training interactions.
    diversity : float in [0, 1]
        Maximal-marginal-relevance re-rank of the best ``candidates``: each next item
        maximises ``(1 - diversity) * relevance - diversity * (largest cosine similarity
        to the items already chosen)``, relevance min-max scaled per user. 0: off.
    candidates : int or None
        Candidates the re-rank chooses from (default ``max(3 k, k + 20)``).
    """

    item_biases: bool = True
    popularity_penalty: float = 0.0
    diversity: float = 0.0
    candidates: int | None = None

    @property
    def active(self) -> bool:
        """bool: whether these controls change the ranking at all."""
        return (not self.item_biases) or self.popularity_penalty > 0 or self.diversity > 0

    def ranking_biases(self, snapshot: ScoringSnapshot) -> np.ndarray:
        """Per-item bias the ranking uses (the model's, zero, minus the penalty)."""
        if self.item_biases:
            biases = snapshot.item_biases.astype(np.float32, copy=True)
        else:
            biases = np.zeros(snapshot.n_items, dtype=np.float32)
        if self.popularity_penalty > 0:
            counts = np.rint(snapshot.popularity * snapshot.n_users)
            biases -= np.float32(self.popularity_penalty) * np.log1p(counts).astype(np.float32)
        return biases


def ranking_controls(item_biases: Any = True, popularity_penalty: Any = 0.0,
                     diversity: Any = 0.0) -> RankingControls:
    """Checked :class:`RankingControls` (``ValueError`` naming a bad argument)."""
    item_biases = check_bool(item_biases, "item_biases")
    if not is_real(popularity_penalty) or not np.isfinite(popularity_penalty) \
            or popularity_penalty < 0:
        raise ValueError(f"popularity_penalty must be a finite number >= 0, got "
                         f"{popularity_penalty!r}.")
    return RankingControls(item_biases, float(popularity_penalty),
                           check_fraction(diversity, "diversity"))


def recommend(snapshot: ScoringSnapshot, keys: object, k: int, exclude_seen: bool,
              allowed: np.ndarray | None, num_threads: int, extra: ExtraUsers | None = None,
              hint: str = "", controls: RankingControls | None = None,
              index: _ann.IVFIndex | None = None, n_probe: int | None = None
              ) -> pd.DataFrame:
    """Top-``k`` frame ``[user, item, score, rank]`` for user ``keys`` in that order.

    Known users are scored from the snapshot (their training items left out with
    ``exclude_seen``); keys of ``extra`` users (not known) from their given
    representations. ``KeyError`` names keys that are neither (``hint`` is appended).
    ``score`` is the model's ``user . item + item bias + user bias``; with active
    ``controls`` the lists are ordered by them and a ``ranking_score`` column (the score
    the controls rank by, before any diversity re-rank) is added.

    With ``index`` (the snapshot's ``"recommend"`` index) the lists come from the
    approximate search (``_ann.search``, ``n_probe`` clusters per user, default the
    index's calibrated value) with the same exclusions and candidates; its scores are
    the exact path's bit for bit. A diversity re-rank then chooses from the approximate
    pool; controls that change the score (no item biases, a popularity penalty) are
    refused, as the index holds the model's biases.
    """
    keys = key_array(keys, "users")
    rows = snapshot.user_mapper.transform(keys, unknown="ignore", name="users")
    extra_position = np.full(keys.shape[0], -1)
    if extra is not None and extra.keys.size:
        extra_position = pd.Index(np.asarray(extra.keys, dtype=object)).get_indexer(
            pd.Index(np.asarray(keys, dtype=object)))
    missing = (rows < 0) & (extra_position < 0)
    if np.any(missing):
        raise KeyError(f"users: {int(missing.sum())} unknown user(s) "
                       f"{show_keys(np.asarray(keys, dtype=object)[missing])}; {hint}")
    warm = rows >= 0
    vectors = np.zeros((keys.shape[0], snapshot.item_vectors.shape[1]), dtype=np.float32)
    user_biases = np.zeros(keys.shape[0], dtype=np.float32)
    vectors[warm] = snapshot.user_vectors[rows[warm]]
    user_biases[warm] = snapshot.user_biases[rows[warm]]
    if not np.all(warm):
        assert extra is not None  # otherwise every cold user was reported missing above
        vectors[~warm] = extra.vectors[extra_position[~warm]]
        user_biases[~warm] = extra.biases[extra_position[~warm]]
    exclude = sp.csr_matrix((keys.shape[0], snapshot.n_items), dtype=np.float32)
    if exclude_seen and np.any(warm):
        seen = snapshot.seen[rows[warm]].tocoo()
        exclude = sp.csr_matrix((seen.data, (np.flatnonzero(warm)[seen.row], seen.col)),
                                shape=exclude.shape)
    exclude = int32_csr(exclude)
    item_keys = snapshot.item_mapper.keys.to_numpy()
    users = np.arange(keys.shape[0])
    if index is not None:
        check_approximate(True, n_probe, controls)
        _check_index(index, snapshot, "recommend")

    def best(biases: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        if index is not None:   # the index's biases are the model's (checked above)
            return _ann.search(index, vectors, users, count, num_threads, exclude=exclude,
                               allowed_items=allowed, n_probe=n_probe)
        return top_k(vectors, snapshot.item_vectors, biases, users, count, num_threads,
                     exclude=exclude, allowed_items=allowed)

    if controls is None or not controls.active:
        items, scores = best(snapshot.item_biases, k)
        return top_frame(keys, items, scores + user_biases[:, None], item_keys,
                         ("user", "item", "score"))
    biases = controls.ranking_biases(snapshot)
    pool = k
    if controls.diversity > 0:
        pool = controls.candidates or max(3 * k, k + 20)
    items, ranking = best(biases, max(pool, k))
    if controls.diversity > 0:
        chosen = np.full((keys.shape[0], k), -1, dtype=np.int32)
        positions = np.full((keys.shape[0], k), -1, dtype=np.int32)
        with numba_threads(num_threads):
            rerank.mmr(items, ranking, l2_normalised(snapshot.item_vectors), k,
                       float(controls.diversity), chosen, positions)
        ranking = np.where(positions >= 0, np.take_along_axis(
            ranking, np.maximum(positions, 0), axis=1), -np.inf).astype(np.float32)
        items = chosen
    valid = items >= 0
    safe = np.maximum(items, 0)
    model_scores = np.where(valid, ranking - biases[safe] + snapshot.item_biases[safe]
                            + user_biases[:, None], -np.inf).astype(np.float32)
    frame = top_frame(keys, items, model_scores, item_keys, ("user", "item", "score"))
    frame.insert(3, "ranking_score", (ranking + user_biases[:, None])[valid].astype(np.float32))
    return frame


def similar(snapshot: ScoringSnapshot, side: str, keys: object, k: int, num_threads: int,
            argument: str, columns: tuple[str, str], index: _ann.IVFIndex | None = None,
            n_probe: int | None = None) -> pd.DataFrame:
    """Cosine neighbours of entities of ``side`` (an entity is never its own).

    With ``index`` (the snapshot's ``"similar_items"`` index; ``side`` must be
    ``"item"``) the neighbours come from the approximate search, ``n_probe`` clusters
    per query (default the index's calibrated value), similarities bit for bit the exact
    path's.
    """
    mapper = snapshot.mapper(side)
    query_keys = key_array(keys, argument)
    rows = rows_of(mapper, query_keys, argument)
    unit = l2_normalised(snapshot.vectors(side))
    exclusion = _self_exclusion(rows, unit.shape[0])
    if index is not None:
        if side != "item":
            raise ValueError("approximate search is available for similar items only.")
        check_approximate(True, n_probe)
        _check_index(index, snapshot, "similar_items")
        found, scores = _ann.search(index, unit[rows], np.arange(rows.shape[0]), k,
                                    num_threads, exclude=exclusion, n_probe=n_probe)
    else:
        found, scores = _nearest(unit[rows], unit, k, num_threads, exclusion)
    return top_frame(query_keys, found, scores, mapper.keys.to_numpy(),
                     (columns[0], columns[1], "similarity"))


def recommend_on_item_page(snapshot: ScoringSnapshot, user: object, item: object, k: int,
                           weight: float, exclude_seen: bool) -> pd.DataFrame:
    """Items for ``user`` on ``item``'s page: z-scored affinity and similarity mixed
    (see ``Recommender.recommend_on_item_page``)."""
    weight = check_fraction(weight, "weight")
    user_row = rows_of(snapshot.user_mapper, [user], "user")[0]
    item_row = rows_of(snapshot.item_mapper, [item], "item")[0]
    items = snapshot.item_vectors.astype(np.float64)
    affinity = (items @ snapshot.user_vectors[user_row].astype(np.float64)
                + snapshot.item_biases + snapshot.user_biases[user_row])
    unit = l2_normalised(snapshot.item_vectors).astype(np.float64)
    similarity = unit @ unit[item_row]
    candidates = np.ones(unit.shape[0], dtype=bool)
    candidates[item_row] = False
    if exclude_seen:
        candidates[snapshot.seen[user_row].indices] = False
    index = np.flatnonzero(candidates)
    combined = ((1.0 - weight) * _zscore(affinity[index])
                + weight * _zscore(similarity[index]))
    order = np.argsort(-combined, kind="stable")[:k]
    chosen = index[order]
    return pd.DataFrame({
        "user": np.repeat(np.asarray([user], dtype=object), chosen.size),
        "item": snapshot.item_mapper.keys.to_numpy()[chosen],
        "score": combined[order], "affinity": affinity[chosen],
        "similarity": similarity[chosen], "rank": np.arange(1, chosen.size + 1)})


# ------------------------------------------------------------------- explanations
def explain(snapshot: ScoringSnapshot, user: object, item: object, n: int) -> pd.DataFrame:
    """The user's training items most similar (cosine) to ``item``, ``item`` left out."""
    user_row = rows_of(snapshot.user_mapper, [user], "user")[0]
    item_row = rows_of(snapshot.item_mapper, [item], "item")[0]
    history = snapshot.seen[user_row].indices
    history = history[history != item_row]
    unit = l2_normalised(snapshot.item_vectors[np.concatenate([[item_row], history])])
    similarity = unit[1:].astype(np.float64) @ unit[0].astype(np.float64)
    order = np.argsort(-similarity, kind="stable")[:n]
    return pd.DataFrame({
        "user": np.repeat(np.asarray([user], dtype=object), order.size),
        "item": np.repeat(np.asarray([item], dtype=object), order.size),
        "history_item": snapshot.item_mapper.keys.to_numpy()[history[order]],
        "similarity": similarity[order], "rank": np.arange(1, order.size + 1)})


def score_breakdown(snapshot: ScoringSnapshot, user: object, item: object) -> pd.DataFrame:
    """Each feature's part of the score of (``user``, ``item``), ranking terms first.

    With user representation ``u = sum_f w_f e_f`` and item representation
    ``v = sum_g x_g e_g``, the score ``u . v + sum_f w_f b_f + sum_g x_g b_g`` is split
    into terms that sum to it exactly:

    - ``interaction`` of user feature ``f``: ``w_f (e_f . v) / 2``, of item feature
      ``g``: ``x_g (e_g . u) / 2`` (the dot product shared half-half between the sides);
    - ``item_bias`` of item feature ``g``: ``x_g b_g``;
    - ``user_bias`` of user feature ``f``: ``w_f b_f``.

    The user-bias terms are the same for every item, so they never change where an item
    ranks for the user: they are flagged ``moves_ranking=False`` and listed last. The
    frame's ``attrs`` hold ``score``, ``ranking_score`` (the score without the
    user-side constant: what orders this user's recommendations) and ``user_constant``.
    """
    user_row = rows_of(snapshot.user_mapper, [user], "user")[0]
    item_row = rows_of(snapshot.item_mapper, [item], "item")[0]
    sides = {}
    for side, row in (("user", user_row), ("item", item_row)):
        parts = snapshot.parts(side)
        features = parts.matrix[row]
        sides[side] = (parts, features.indices, features.data.astype(np.float64),
                       parts.embeddings[features.indices].astype(np.float64),
                       parts.biases[features.indices].astype(np.float64))
    vectors = {side: weights @ embeddings for side, (_, _, weights, embeddings, _)
               in sides.items()}
    frames = []
    for side, other in (("user", "item"), ("item", "user")):
        parts, columns, weights, embeddings, biases = sides[side]
        names = parts.column_names(columns, snapshot.mapper(side).keys.to_numpy(dtype=object))
        kind = np.where(columns < parts.n_identity, "identity", "feature")
        interaction = weights * (embeddings @ vectors[other]) / 2.0
        bias_part = "user_bias" if side == "user" else "item_bias"
        for part, values, moves in (("interaction", interaction, True),
                                    (bias_part, weights * biases, side == "item")):
            frames.append(pd.DataFrame({
                "side": side, "feature": names, "kind": kind, "part": part,
                "weight": weights, "contribution": values, "moves_ranking": moves}))
    frame = pd.concat(frames, ignore_index=True)
    contribution = frame["contribution"].to_numpy()
    moves = frame["moves_ranking"].to_numpy(dtype=bool)
    score = float(contribution.sum())
    constant = float(contribution[~moves].sum())
    # Terms that move the ranking first, each group by decreasing absolute size.
    frame = frame.iloc[np.lexsort((-np.abs(contribution), ~moves))].reset_index(drop=True)
    frame.attrs.update(score=score, user_constant=constant, ranking_score=score - constant)
    return frame


# ------------------------------------------------------------------ feature queries
def _feature_unit(parts: FeatureParts) -> np.ndarray:
    """L2-normalised embeddings of the side features."""
    return l2_normalised(parts.embeddings[parts.n_identity:])


def items_for_feature(snapshot: ScoringSnapshot, side: str, feature: object, k: int,
                      num_threads: int) -> pd.DataFrame:
    """Entities of ``side`` closest (cosine) to each feature's embedding."""
    parts = snapshot.parts(side)
    queries = key_array(feature, "feature")
    positions = parts.positions(side, queries, "feature")
    found, scores = _nearest(_feature_unit(parts)[positions],
                             l2_normalised(snapshot.vectors(side)), k, num_threads)
    return top_frame(queries, found, scores, snapshot.mapper(side).keys.to_numpy(),
                     ("feature", side, "similarity"))


def features_for_item(snapshot: ScoringSnapshot, side: str, keys: object, k: int,
                      exclude_own: bool, num_threads: int) -> pd.DataFrame:
    """Side features closest (cosine) to entities' representations."""
    parts = snapshot.parts(side)
    parts.positions(side, [], "feature")  # refuses a side without side features
    queries = key_array(keys, side)
    rows = rows_of(snapshot.mapper(side), queries, side)
    exclude = None
    if exclude_own:
        exclude = int32_csr(parts.matrix[rows][:, parts.n_identity:] != 0)
    found, scores = _nearest(l2_normalised(snapshot.vectors(side)[rows]), _feature_unit(parts),
                             k, num_threads, exclude)
    return top_frame(queries, found, scores, parts.names, (side, "feature", "similarity"))


def similar_features(snapshot: ScoringSnapshot, side: str, feature: object, k: int,
                     num_threads: int) -> pd.DataFrame:
    """Side features whose embeddings are closest (cosine) to each feature's."""
    parts = snapshot.parts(side)
    queries = key_array(feature, "feature")
    positions = parts.positions(side, queries, "feature")
    unit = _feature_unit(parts)
    found, scores = _nearest(unit[positions], unit, k, num_threads,
                             _self_exclusion(positions, unit.shape[0]))
    return top_frame(queries, found, scores, parts.names,
                     ("feature", "similar_feature", "similarity"))


# --------------------------------------------------------------------- evaluation
def test_interactions(frame: pd.DataFrame, user_mapper: IdMapper, item_mapper: IdMapper,
                      user_col: Hashable, item_col: Hashable) -> tuple[sp.csr_matrix, int]:
    """The (n_users, n_items) CSR of the rows of ``frame`` whose user and item are both
    known, and the number of rows dropped (the policy of ``Recommender.evaluate``)."""
    users = user_mapper.transform(frame[user_col], unknown="ignore",
                                  name=f"test[{user_col!r}]")
    items = item_mapper.transform(frame[item_col], unknown="ignore",
                                  name=f"test[{item_col!r}]")
    known = (users >= 0) & (items >= 0)
    # Repeated pairs add up, as in interactions_from_frame (int32_csr sums duplicates).
    matrix = sp.csr_matrix((np.ones(int(known.sum()), dtype=np.float32),
                            (users[known], items[known])),
                           shape=(len(user_mapper), len(item_mapper)))
    return int32_csr(matrix), int((~known).sum())


def snapshot_test(snapshot: ScoringSnapshot, frame: pd.DataFrame
                  ) -> tuple[sp.csr_matrix, int]:
    """``test_interactions`` with the snapshot's mappers and columns."""
    return test_interactions(frame, snapshot.user_mapper, snapshot.item_mapper,
                             snapshot.user_col, snapshot.item_col)


def evaluate_frame(snapshot: ScoringSnapshot, frame: pd.DataFrame, ks: tuple[int, ...],
                   metrics: tuple[str, ...], exclude_seen: bool,
                   popularity: np.ndarray | None, num_threads: int
                   ) -> tuple[EvaluationParts, int]:
    """Metric sums of the users of ``frame`` (all of each user's test rows must be here).

    Returns the combinable parts and the number of rows dropped for an unknown user or
    item (the policy of ``Recommender.evaluate``). ``popularity`` None: from ``seen``
    (``exclude_seen``) or this frame's test rows.
    """
    test, dropped = snapshot_test(snapshot, frame)
    test, train = prepare_test_train(test, snapshot.seen if exclude_seen else None, False)
    if popularity is None:
        popularity = snapshot.popularity if exclude_seen else item_popularity(train, test)
    result = rank_items(snapshot.user_vectors, snapshot.item_vectors, snapshot.item_biases,
                        test, train, num_threads, **evaluation_rank_options(ks, metrics))
    return evaluation_parts(result, train, ks, metrics, popularity, num_threads), dropped


def evaluate(snapshot: ScoringSnapshot, frame: pd.DataFrame, ks: tuple[int, ...],
             metrics: tuple[str, ...], exclude_seen: bool, num_threads: int) -> pd.DataFrame:
    """``Recommender.evaluate``'s table: ``metric, k, mean, stderr, n_users`` with the
    number of dropped rows in ``attrs["dropped_rows"]``."""
    parts, dropped = evaluate_frame(snapshot, frame, ks, metrics, exclude_seen, None,
                                    num_threads)
    table = summarise(parts)
    table.attrs["dropped_rows"] = dropped
    return table


def check_k(k: object) -> int:
    """``k`` of the queries: an integer >= 1."""
    return check_int(k, "k", 1)
