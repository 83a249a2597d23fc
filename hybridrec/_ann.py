"""Approximate top-k: an inverted-file (IVF) index over item representations.

The exact path (``_scoring.top_k``) scores every item for every user; this index scores
only the items of a few clusters per user. Build: the items' augmented vectors
``[v, b]`` (bias as one more component) are clustered by k-means (Lloyd, L2). Search: a
user's augmented query ``[u, 1]`` scores every centroid (``[u, 1] . [c, c_b]``, the
maximum-inner-product reduction that keeps the item bias), the ``n_probe`` best clusters
are scanned and each of their items is re-scored with the exact path's float32
arithmetic, so:

- a returned score equals ``top_k``'s score for that user and item, bit for bit;
- a returned list is the exact ranking (score descending, ties to the lower item index)
  of the scanned candidates minus excluded / not-allowed items; whenever the exact top-k
  items are all among the scanned candidates, the result equals ``top_k``'s exactly;
- a user whose probed clusters hold fewer than ``k`` eligible items keeps probing (in
  centroid-score order) until it has ``k`` or the catalogue is exhausted, so it gets
  ``k`` results whenever ``top_k`` would;
- results depend neither on the batching of users nor on the thread count.

Recall is not guaranteed per user: ``build_index`` calibrates the default ``n_probe`` on
a sample of queries so that their mean recall@k against the exact lists reaches
``recall_target`` (0.99 by default); ``search(n_probe=...)`` trades recall for speed.
The cosine variant (``metric="cosine"``, for similar items) is the same index over unit
vectors with zero biases.

An index is plain arrays plus a JSON-able dict (``index_to_arrays`` /
``index_from_arrays``); item vectors are not stored in it (the model has them) but a
digest of them is, so an index cannot be attached to other items by mistake.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._config import INDEX
from ._scoring import as_sorted_csr, top_k
from ._threads import check_num_threads, numba_threads
from ._validation import check_int_in
from .kernels import ann

FORMAT = "hybridrec.ivf"
FORMAT_VERSION = 1
METRICS = ("dot", "cosine")
#: Default recall target of the n_probe calibration.
DEFAULT_RECALL_TARGET = 0.99
#: Queries the calibration uses at most (exact top-k for them costs ~1 ms per 1,000
#: users and 1,000 items at 64 components).
CALIBRATION_QUERIES = 2000
#: Widest run of a cluster's items scored at once (8 x TILE float32 scores stay in L1).
TILE = 512
#: Users per search task at most (each task groups its users' probes by cluster, so
#: larger blocks score more users per load of a cluster's items: at 1,265 clusters and
#: 9 probes, 4,096 users give a cluster ~29 users, 16,384 ~117, which cut a 200k-user
#: search's time by ~10%).
MAX_BLOCK = 16384
#: A task's (user, cluster) pairs and list slots at most: its per-worker arrays stay
#: ~1 MiB each however many clusters are probed or items listed (a full probe of
#: 1,265 clusters by 16,384 users would need 83 MB per worker).
TASK_SLOTS = 16384 * 16
#: k-means training points per centroid at most (faiss's default, 256).
POINTS_PER_CENTROID = 256
#: Norm tolerance of the cosine index's unit vectors.
UNIT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class IVFIndex:
    """An inverted-file index over ``n_items`` item representations (see module doc).

    Attributes
    ----------
    metric : {"dot", "cosine"}
        ``"dot"``: score ``u . v + b``; ``"cosine"``: unit vectors, zero biases.
    centroids : float32 (n_clusters, d + 1)
        k-means centroids of the augmented items ``[v, b]``.
    order : int32 (n_items,)
        Item index at each cluster-order position.
    offsets : int64 (n_clusters + 1,)
        Cluster ``c`` holds positions ``offsets[c] .. offsets[c + 1] - 1``.
    n_probe : int
        Default clusters probed per query.
    items_t : float32 (dp, n_items)
        Item vectors transposed in cluster order, zero rows up to ``dp`` (multiple of 8).
    item_rows : float32 (n_items, dp)
        The same, not transposed (the search reads clusters both ways).
    biases : float32 (n_items,)
        Item biases in cluster order.
    info : dict
        Build parameters and calibration results (JSON-able).
    """

    metric: str
    centroids: np.ndarray
    order: np.ndarray
    offsets: np.ndarray
    n_probe: int
    items_t: np.ndarray = field(repr=False)
    item_rows: np.ndarray = field(repr=False)
    biases: np.ndarray = field(repr=False)
    info: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return int(self.order.shape[0])

    @property
    def n_components(self) -> int:
        return int(self.centroids.shape[1] - 1)

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])

    def item_vectors(self) -> np.ndarray:
        """The indexed item vectors in item order, float32 (n_items, d)."""
        out = np.empty((self.n_items, self.n_components), dtype=np.float32)
        out[self.order] = self.items_t[:self.n_components].T
        return out

    def item_biases(self) -> np.ndarray:
        """The indexed item biases in item order, float32 (n_items,)."""
        out = np.empty(self.n_items, dtype=np.float32)
        out[self.order] = self.biases
        return out


# ------------------------------------------------------------------ validation
def _check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")
    return value


def _check_matrix(values: object, name: str, columns: int | None = None) -> np.ndarray:
    """A finite 2-d float array as C-contiguous float32 (clear errors otherwise)."""
    array = np.asarray(values)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a 2-d array of real numbers, got shape "
                         f"{array.shape} and dtype {array.dtype}.")
    if columns is not None and array.shape[1] != columns:
        raise ValueError(f"{name} has {array.shape[1]} components but the index was built "
                         f"on {columns}.")
    with np.errstate(over="ignore"):
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values (after conversion to "
                         "float32).")
    return array


def _check_biases(values: object, n: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n,) or array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real array of shape ({n},), got shape "
                         f"{array.shape} and dtype {array.dtype}.")
    with np.errstate(over="ignore"):
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return array


def _padded_depth(d: int) -> int:
    """Components rounded up to a multiple of 8, as ``_scoring.top_k`` pads them."""
    return -(-d // 8) * 8


def _transposed(vectors: np.ndarray, depth: int) -> np.ndarray:
    out = np.zeros((depth, vectors.shape[0]), dtype=np.float32)
    out[:vectors.shape[1]] = vectors.T
    return out


def _digest(vectors: np.ndarray, biases: np.ndarray) -> str:
    """SHA-256 of the indexed item vectors and biases (float32, item order)."""
    digest = hashlib.sha256()
    digest.update(f"{vectors.shape}".encode())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(biases, dtype=np.float32).tobytes())
    return digest.hexdigest()


def default_n_clusters(n_items: int) -> int:
    """``round(4 sqrt(n_items))`` clusters (faiss's usual 4-16 sqrt(n) range, low end),
    at most ``n_items``."""
    return int(max(1, min(n_items, round(4.0 * math.sqrt(n_items)))))


# ---------------------------------------------------------------------- k-means
def _assign(points: np.ndarray, centroids: np.ndarray, num_threads: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid (L2) of each point, and the squared distance to it."""
    depth = -(-points.shape[1] // 8) * 8
    padded = np.zeros((points.shape[0], depth), dtype=np.float32)
    padded[:, :points.shape[1]] = points
    centroids_t = _transposed(centroids, depth)
    half_norms = (-0.5 * np.einsum("ij,ij->i", centroids.astype(np.float64),
                                   centroids.astype(np.float64))).astype(np.float32)
    assignment = np.empty(points.shape[0], dtype=INDEX)
    best = np.empty(points.shape[0], dtype=np.float32)
    with numba_threads(num_threads) as threads:
        ann.nearest_centroids(padded, centroids_t, half_norms, threads,
                              np.zeros(1, dtype=np.int64), assignment, best)
    squared = np.einsum("ij,ij->i", points.astype(np.float64), points.astype(np.float64))
    return assignment, np.maximum(squared - 2.0 * best.astype(np.float64), 0.0)


def _update(points: np.ndarray, assignment: np.ndarray, distances: np.ndarray,
            n_clusters: int) -> np.ndarray:
    """Centroids as float64 means of their points in point order (deterministic);
    an empty cluster takes the worst-represented point not yet taken (the largest
    distance to its centroid), as scikit-learn's k-means does."""
    counts = np.bincount(assignment, minlength=n_clusters)
    order = np.argsort(assignment, kind="stable")
    sums = np.zeros((n_clusters, points.shape[1]), dtype=np.float64)
    nonempty = np.flatnonzero(counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
    sums[nonempty] = np.add.reduceat(points[order].astype(np.float64), starts, axis=0)
    centroids = np.zeros_like(sums)
    centroids[nonempty] = sums[nonempty] / counts[nonempty, None]
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        worst = np.argsort(-distances, kind="stable")[:empty.size]
        centroids[empty[:worst.size]] = points[worst]
    return centroids.astype(np.float32)


def kmeans(points: np.ndarray, n_clusters: int, n_iter: int, rng: np.random.Generator,
           num_threads: int) -> np.ndarray:
    """Lloyd's k-means (L2) on ``points`` (float32 (n, p)): centroids float32 (n_clusters, p).

    Initial centroids are distinct points drawn by ``rng``; training uses at most
    ``POINTS_PER_CENTROID * n_clusters`` points (drawn by ``rng``). Every step is
    deterministic given ``rng`` and independent of ``num_threads``.
    """
    n = points.shape[0]
    if n > POINTS_PER_CENTROID * n_clusters:
        sample = np.sort(rng.choice(n, POINTS_PER_CENTROID * n_clusters, replace=False))
        points = points[sample]
        n = points.shape[0]
    centroids = points[np.sort(rng.choice(n, n_clusters, replace=False))].copy()
    for _ in range(n_iter):
        assignment, distances = _assign(points, centroids, num_threads)
        centroids = _update(points, assignment, distances, n_clusters)
    return centroids


# ------------------------------------------------------------------------ build
def _augmented(vectors: np.ndarray, biases: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.hstack([vectors, biases[:, None]]), dtype=np.float32)


def _assemble(metric: str, vectors: np.ndarray, biases: np.ndarray, centroids: np.ndarray,
              assignment: np.ndarray, n_probe: int, info: dict) -> IVFIndex:
    """The index arrays from item assignments (cluster order: by cluster, then item)."""
    n_clusters = centroids.shape[0]
    order = np.argsort(assignment, kind="stable").astype(INDEX)
    offsets = np.zeros(n_clusters + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(np.bincount(assignment, minlength=n_clusters))
    items_t = _transposed(vectors[order], _padded_depth(vectors.shape[1]))
    return IVFIndex(metric, centroids, order, offsets, n_probe, items_t,
                    np.ascontiguousarray(items_t.T), np.ascontiguousarray(biases[order]), info)


def build_index(item_vectors: np.ndarray, item_biases: np.ndarray | None = None, *,
                metric: str = "dot", n_clusters: int | None = None, n_iter: int = 10,
                n_probe: int | None = None, recall_target: float = DEFAULT_RECALL_TARGET,
                sample_queries: np.ndarray | None = None,
                sample_exclude: sp.spmatrix | None = None, calibration_k: int = 10,
                random_state: int = 0, num_threads: int = 1) -> IVFIndex:
    """Cluster the items and calibrate the default number of probed clusters.

    Parameters
    ----------
    item_vectors : float array (n_items, d)
        Item representations (``"cosine"``: unit rows, or zero rows).
    item_biases : float array (n_items,), optional
        Item biases (``"dot"``; zeros if omitted). Must be omitted for ``"cosine"``.
    metric : {"dot", "cosine"}
        ``"dot"``: queries are user vectors and scores ``u . v + b`` (recommend);
        ``"cosine"``: queries are unit vectors (similar items).
    n_clusters : int, optional
        k-means clusters (default ``default_n_clusters(n_items)``, ``4 sqrt(n_items)``).
    n_iter : int
        Lloyd iterations (default 10).
    n_probe : int, optional
        Fix the default clusters probed per query instead of calibrating it.
    recall_target : float
        In (0, 1]: the calibration picks the smallest ``n_probe`` whose mean recall@k
        over the sample queries against the exact lists reaches it. 1.0 may probe every
        cluster.
    sample_queries : float array (n, d), optional
        Queries for the calibration (``"dot"``: user vectors, e.g. all of a model's
        users; at most ``CALIBRATION_QUERIES`` are drawn). Default: ``"cosine"`` uses
        the items themselves; ``"dot"`` without queries probes ``ceil(n_clusters / 8)``
        (no calibration possible).
    sample_exclude : sparse (n, n_items), optional
        Items excluded per sample query during the calibration (e.g. the users' seen
        items, as ``recommend`` excludes them).
    calibration_k : int
        ``k`` of the calibrated recall (default 10).
    random_state : int
        Seed of the k-means initialisation, its training sample and the calibration
        sample. The same seed and inputs give the same index, at any ``num_threads``.
    num_threads : int

    Returns
    -------
    IVFIndex

    Raises
    ------
    ValueError
        On a bad argument (named in the message).
    """
    metric = _check_choice(metric, "metric", METRICS)
    num_threads = check_num_threads(num_threads)
    vectors = _check_matrix(item_vectors, "item_vectors")
    n_items, d = vectors.shape
    if n_items == 0 or d == 0:
        raise ValueError(f"item_vectors must hold at least one item and one component, "
                         f"got shape {vectors.shape}.")
    if metric == "cosine":
        if item_biases is not None:
            raise ValueError("item_biases must be None for metric='cosine' (cosine "
                             "similarity has no bias).")
        norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
        bad = (np.abs(norms - 1.0) > UNIT_TOLERANCE) & (norms > 0)
        if bad.any():
            raise ValueError(f"metric='cosine' needs unit (or zero) item_vectors; row "
                             f"{int(np.flatnonzero(bad)[0])} has norm "
                             f"{norms[bad][0]:.6g}. Normalise the rows first.")
        biases = np.zeros(n_items, dtype=np.float32)
    else:
        biases = (np.zeros(n_items, dtype=np.float32) if item_biases is None
                  else _check_biases(item_biases, n_items, "item_biases"))
    if n_clusters is None:
        n_clusters = default_n_clusters(n_items)
    n_clusters = check_int_in(n_clusters, "n_clusters", 1, n_items)
    n_iter = check_int_in(n_iter, "n_iter", 0)
    if n_probe is not None:
        n_probe = check_int_in(n_probe, "n_probe", 1, n_clusters)
    if (isinstance(recall_target, bool) or not isinstance(recall_target, numbers.Real)
            or not 0.0 < float(recall_target) <= 1.0):
        raise ValueError(f"recall_target must be a number in (0, 1], got {recall_target!r}.")
    calibration_k = check_int_in(calibration_k, "calibration_k", 1)
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise ValueError(f"random_state must be an integer seed, got {random_state!r}.")
    queries = None
    if sample_queries is not None:
        queries = _check_matrix(sample_queries, "sample_queries", d)
        if sample_exclude is not None:
            sample_exclude = _check_exclude(sample_exclude, queries.shape[0], n_items,
                                            "sample_exclude")
    elif sample_exclude is not None:
        raise ValueError("sample_exclude needs sample_queries (its rows are theirs).")

    rng = np.random.default_rng(random_state)
    points = _augmented(vectors, biases)
    centroids = kmeans(points, n_clusters, n_iter, rng, num_threads)
    assignment, _ = _assign(points, centroids, num_threads)
    info: dict[str, Any] = {
        "n_iter": n_iter, "random_state": int(random_state),
        "recall_target": float(recall_target), "calibration_k": calibration_k,
        "items_digest": _digest(vectors, biases),
    }
    index = _assemble(metric, vectors, biases, centroids, assignment,
                      n_probe or max(1, -(-n_clusters // 8)), info)
    if n_probe is not None:
        info["n_probe_source"] = "given"
        return index
    if queries is None and metric == "cosine":
        queries = vectors
        sample_exclude = sp.identity(n_items, dtype=np.float32, format="csr")
    if queries is None:
        info["n_probe_source"] = "default ceil(n_clusters / 8): no sample_queries"
        return index
    chosen, recall = _calibrate(index, vectors, biases, queries, sample_exclude,
                                float(recall_target), calibration_k, rng, num_threads)
    info.update(n_probe_source="calibrated", calibration_recall=recall)
    return IVFIndex(metric, index.centroids, index.order, index.offsets, chosen,
                    index.items_t, index.item_rows, index.biases, info)


def _calibrate(index: IVFIndex, vectors: np.ndarray, biases: np.ndarray,
               queries: np.ndarray, exclude: sp.csr_matrix | None, target: float, k: int,
               rng: np.random.Generator, num_threads: int) -> tuple[int, float]:
    """Smallest n_probe whose mean recall@k on (a sample of) ``queries`` reaches
    ``target``, by bisection (recall does not decrease with n_probe: the probed
    clusters of a query are nested). Returns it and its recall."""
    n = queries.shape[0]
    rows = np.arange(n)
    if n > CALIBRATION_QUERIES:
        rows = np.sort(rng.choice(n, CALIBRATION_QUERIES, replace=False))
    sample = np.ascontiguousarray(queries[rows])
    sample_exclude = None if exclude is None else as_sorted_csr(exclude[rows], "exclude")
    users = np.arange(rows.shape[0], dtype=INDEX)
    k = min(k, index.n_items)
    exact, _ = top_k(sample, vectors, biases, users, k, num_threads, exclude=sample_exclude)

    def recall(n_probe: int) -> float:
        found, _ = search(index, sample, users, k, num_threads, exclude=sample_exclude,
                          n_probe=n_probe)
        return mean_recall(found, exact)

    low, high = 1, index.n_clusters
    high_recall = recall(high)
    while low < high:
        middle = (low + high) // 2
        value = recall(middle)
        if value >= target:
            high, high_recall = middle, value
        else:
            low = middle + 1
    return high, high_recall


def mean_recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean over rows of |found ∩ exact| / |exact| (-1 entries ignored; rows whose
    exact list is empty count as 1). Vectorised in chunks of rows."""
    found = np.asarray(found)
    exact = np.asarray(exact)
    if exact.shape[0] == 0:
        return 1.0
    total = 0.0
    for start in range(0, exact.shape[0], 65536):
        truth = exact[start:start + 65536]
        got = found[start:start + 65536]
        valid = truth >= 0
        hits = ((truth[:, :, None] == got[:, None, :]).any(axis=2) & valid).sum(axis=1)
        size = valid.sum(axis=1)
        total += np.where(size > 0, hits / np.maximum(size, 1), 1.0).sum()
    return float(total / exact.shape[0])


# ----------------------------------------------------------------------- search
def _check_exclude(exclude: Any, n_rows: int, n_items: int, name: str) -> sp.csr_matrix:
    if not sp.issparse(exclude):
        raise ValueError(f"{name} must be a scipy.sparse matrix of shape ({n_rows}, "
                         f"{n_items}) or None, got an object of type "
                         f"{type(exclude).__name__}.")
    if exclude.shape != (n_rows, n_items):
        raise ValueError(f"{name} must have shape ({n_rows}, {n_items}) (rows of "
                         f"user_vectors x indexed items), got {exclude.shape}.")
    return as_sorted_csr(exclude, name)


def search(index: IVFIndex, user_vectors: np.ndarray, users: np.ndarray, k: int,
           num_threads: int, exclude: sp.spmatrix | None = None,
           allowed_items: np.ndarray | None = None, n_probe: int | None = None,
           return_scanned: bool = False):
    """The (approximately) ``k`` best items for each of ``users``: ``top_k``'s contract.

    Parameters
    ----------
    index : IVFIndex
    user_vectors : float array (n_rows, d)
        Query representations (rows picked by ``users``). ``"cosine"`` indexes: unit
        vectors, as the items were.
    users : int array (m,)
        Rows of ``user_vectors`` to search for, in output order.
    k : int
        List length (>= 0).
    num_threads : int
    exclude : sparse (n_rows, n_items), optional
        Items never returned per row of ``user_vectors`` (e.g. seen items, the query
        item itself for similar items).
    allowed_items : bool array (n_items,), optional
        Only these items may be returned. A candidate set no larger than the items the
        probes would scan is searched exactly (``top_k`` on the candidates); a larger
        one probes ``ceil(n_probe * n_items / n_candidates)`` clusters (at most all),
        so that about as many candidates are scanned as ``n_probe`` clusters hold items
        without a candidate set (the calibrated recall assumes that many).
    n_probe : int, optional
        Clusters probed per query (default ``index.n_probe``, the calibrated value):
        the recall / speed knob. ``index.n_clusters`` scans everything (exact).
    return_scanned : bool
        Also return the number of items scored per query (int64 (m,)).

    Returns
    -------
    items : int32 (m, k)
        Best first (ties: lower item index first); -1 where fewer than ``k`` eligible
        items exist.
    scores : float32 (m, k)
        ``user . item + item bias``, bit for bit ``top_k``'s score of that pair; -inf
        where ``items`` is -1.
    scanned : int64 (m,)
        Only with ``return_scanned``.
    """
    if not isinstance(index, IVFIndex):
        raise ValueError(f"index must be an IVFIndex (from build_index), got an object of "
                         f"type {type(index).__name__}.")
    num_threads = check_num_threads(num_threads)
    vectors = _check_matrix(user_vectors, "user_vectors", index.n_components)
    n_rows, n_items = vectors.shape[0], index.n_items
    users = np.asarray(users)
    if users.ndim != 1 or (users.size and users.dtype.kind not in "iu"):
        raise ValueError(f"users must be a 1-d integer array, got shape {users.shape} and "
                         f"dtype {users.dtype}.")
    if users.size and (users.min() < 0 or users.max() >= n_rows):
        raise ValueError(f"users must be rows of user_vectors, in [0, {n_rows}); got "
                         f"values in [{users.min()}, {users.max()}].")
    users = np.ascontiguousarray(users, dtype=INDEX)
    k = check_int_in(k, "k", 0)
    n_probe = index.n_probe if n_probe is None else check_int_in(n_probe, "n_probe", 1,
                                                               index.n_clusters)
    exclude = (None if exclude is None
               else _check_exclude(exclude, n_rows, n_items, "exclude"))
    allowed = None
    if allowed_items is not None:
        allowed = np.asarray(allowed_items)
        if allowed.shape != (n_items,) or allowed.dtype != bool:
            raise ValueError(f"allowed_items must be a boolean array of shape ({n_items},), "
                             f"got shape {allowed.shape} and dtype {allowed.dtype}.")
    m = users.shape[0]
    items = np.full((m, k), -1, dtype=INDEX)
    scores = np.full((m, k), -np.inf, dtype=np.float32)
    scanned = np.zeros(m, dtype=np.int64)
    if m and k and allowed is not None and _exact_is_cheaper(index, allowed, n_probe):
        candidates = np.flatnonzero(allowed).astype(INDEX)
        sub_exclude = None if exclude is None else as_sorted_csr(exclude[:, candidates],
                                                                 "exclude")
        found, scores = top_k(vectors, index.item_vectors()[candidates],
                              index.item_biases()[candidates], users, k, num_threads,
                              exclude=sub_exclude)
        items = np.where(found >= 0, candidates[np.maximum(found, 0)], -1).astype(INDEX)
        scanned[:] = candidates.size
    elif m and k:
        if exclude is None:
            exclude = sp.csr_matrix((n_rows, n_items), dtype=np.float32)
            exclude = as_sorted_csr(exclude, "exclude")
        biases = index.biases
        if allowed is not None:
            biases = biases.copy()
            biases[~allowed[index.order]] = -np.inf
            n_probe = _candidate_probes(index, allowed, n_probe)
        block = _block_size(m, num_threads, max(n_probe, k))
        with numba_threads(num_threads) as threads:
            ann.search_ivf(vectors, users, _centroids_t(index), index.centroids[:, -1].copy(),
                           index.items_t, index.item_rows, biases, index.order,
                           index.offsets,
                           exclude.indptr, exclude.indices, n_probe, TILE, block, threads,
                           np.zeros(1, dtype=np.int64), items, scores, scanned)
    if return_scanned:
        return items, scores, scanned
    return items, scores


def _exact_is_cheaper(index: IVFIndex, allowed: np.ndarray, n_probe: int) -> bool:
    """A candidate set no larger than what ``n_probe`` clusters hold on average is
    scored exactly: cheaper than probing, and exact."""
    return int(allowed.sum()) <= index.n_items * n_probe / index.n_clusters


def _candidate_probes(index: IVFIndex, allowed: np.ndarray, n_probe: int) -> int:
    """Clusters to probe with a candidate set: ``n_probe`` scaled by the inverse share of
    candidates, so the candidates scanned stay about what ``n_probe`` clusters scan
    without one (a random half of the catalogue as candidates would otherwise halve
    them, and the recall with them)."""
    n_allowed = max(1, int(allowed.sum()))
    return int(min(index.n_clusters, -(-n_probe * index.n_items // n_allowed)))


def _centroids_t(index: IVFIndex) -> np.ndarray:
    return _transposed(index.centroids[:, :-1], _padded_depth(index.n_components))


def _block_size(m: int, threads: int, slots_per_user: int) -> int:
    """Users per search task: up to MAX_BLOCK and TASK_SLOTS / ``slots_per_user``
    (the larger of n_probe and k), but at least four tasks per thread (a multiple of 8,
    at least 8). Results do not depend on it."""
    per_task = -(-m // (4 * threads))
    cap = min(MAX_BLOCK, TASK_SLOTS // max(1, slots_per_user))
    return int(max(8, -(-min(cap, per_task) // 8) * 8))


# ------------------------------------------------------------------ persistence
def index_to_arrays(index: IVFIndex) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The index as plain arrays and a JSON-able dict (item vectors not included).

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        ``centroids`` float32, ``order`` int32, ``offsets`` int64.
    metadata : dict
        Format, version, metric, n_probe and the build information (with the items'
        digest that ``index_from_arrays`` checks).
    """
    arrays = {"centroids": index.centroids, "order": index.order, "offsets": index.offsets}
    metadata = {"format": FORMAT, "version": FORMAT_VERSION, "metric": index.metric,
                "n_probe": int(index.n_probe), "info": dict(index.info)}
    return arrays, metadata


def index_from_arrays(arrays: dict[str, np.ndarray], metadata: dict[str, Any],
                      item_vectors: np.ndarray, item_biases: np.ndarray | None = None
                      ) -> IVFIndex:
    """Rebuild an index saved by ``index_to_arrays`` over the same items.

    Parameters
    ----------
    arrays, metadata
        As returned by ``index_to_arrays``.
    item_vectors : float array (n_items, d)
    item_biases : float array (n_items,), optional
        As given to ``build_index`` (None for ``"cosine"``).

    Raises
    ------
    ValueError
        If the arrays or metadata are malformed, or the items are not those the index
        was built on (their digest differs).
    """
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"metadata is not an IVF index's (format {FORMAT!r} expected).")
    if metadata.get("version") != FORMAT_VERSION:
        raise ValueError(f"IVF index format version {metadata.get('version')!r} is not "
                         f"supported (this is version {FORMAT_VERSION}).")
    metric = _check_choice(metadata.get("metric"), "metadata['metric']", METRICS)
    missing = {"centroids", "order", "offsets"} - set(arrays)
    if missing:
        raise ValueError(f"IVF index arrays lack {sorted(missing)}.")
    vectors = _check_matrix(item_vectors, "item_vectors")
    n_items, d = vectors.shape
    biases = (np.zeros(n_items, dtype=np.float32) if item_biases is None
              else _check_biases(item_biases, n_items, "item_biases"))
    info = dict(metadata.get("info", {}))
    if info.get("items_digest") != _digest(vectors, biases):
        raise ValueError("item_vectors / item_biases are not the items this index was built "
                         "on (their digest differs); rebuild the index.")
    centroids = np.ascontiguousarray(arrays["centroids"], dtype=np.float32)
    order = np.ascontiguousarray(arrays["order"], dtype=INDEX)
    offsets = np.ascontiguousarray(arrays["offsets"], dtype=np.int64)
    n_clusters = centroids.shape[0] if centroids.ndim == 2 else 0
    if (centroids.ndim != 2 or centroids.shape[1] != d + 1 or n_clusters == 0
            or order.shape != (n_items,)
            or not np.array_equal(np.sort(order), np.arange(n_items))
            or offsets.shape != (n_clusters + 1,) or offsets[0] != 0
            or offsets[-1] != n_items or np.any(np.diff(offsets) < 0)
            or not np.isfinite(centroids).all()):
        raise ValueError("IVF index arrays are inconsistent (centroids, order and offsets "
                         "do not describe a partition of the items).")
    n_probe = check_int_in(metadata.get("n_probe"), "metadata['n_probe']", 1, n_clusters)
    items_t = _transposed(vectors[order], _padded_depth(d))
    return IVFIndex(metric, centroids, order, offsets, n_probe, items_t,
                    np.ascontiguousarray(items_t.T), np.ascontiguousarray(biases[order]), info)
