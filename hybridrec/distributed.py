"""Batch recommendations and evaluation on Dask, for catalogues that outgrow one machine.

Needs the optional extra: ``pip install "hybridrec[dask]"`` (``dask[dataframe]`` and
``distributed``). ``import hybridrec`` never imports dask; only this module does.

Training stays on one machine (Hogwild SGD on one large box; see the README's "Scaling
out" section for the memory arithmetic). What outgrows one machine first is scoring every
user against a large catalogue, and evaluating on large test sets. Here:

- :func:`scatter_recommender` sends a fitted ``Recommender``'s scoring state (id mappers,
  user and item representations, training interactions: a :class:`ScoringSnapshot`, no
  optimiser state) to every worker **once**; the returned :class:`DaskRecommender` handle
  can serve many calls.
- :func:`recommend_dask` maps a dask collection of user keys to a dask DataFrame
  ``[user, item, score, rank]``, one output partition per input partition; each partition
  runs the single-machine top-k kernel.
- :func:`evaluate_dask` groups a dask test DataFrame by user (a shuffle), evaluates each
  partition's users with the single-machine kernels and combines exact per-partition
  sums (not an average of averages) into ``evaluate()``'s table.
- :func:`map_ids_dask` maps the key columns of a dask interactions frame to model rows on
  the workers, with the single-machine unknown-key policies.

Results equal the single-process ``Recommender.recommend`` / ``Recommender.evaluate``
exactly: scores do not depend on how users are batched, and the metric sums are exact.

Example
-------
>>> from distributed import Client, LocalCluster                      # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2))                         # doctest: +SKIP
>>> handle = scatter_recommender(recommender, client)                  # doctest: +SKIP
>>> recs = recommend_dask(handle, k=10)         # lazy dask DataFrame  # doctest: +SKIP
>>> recs.to_parquet("recs/")                                           # doctest: +SKIP
>>> evaluate_dask(handle, dd.read_parquet("test/"), k=(10,))           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

try:
    import dask
    import dask.dataframe as dd
    import distributed
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'hybridrec.distributed needs Dask: pip install "hybridrec[dask]" '
        "(dask[dataframe] and distributed)."
    ) from error

from ._threads import check_num_threads
from ._validation import check_bool, check_frame, check_int
from .data import IdMapper
from .metrics._aggregate import combine_parts, summarise
from .metrics.ranking import check_evaluate_arguments
from .queries import (
    ScoringSnapshot,
    allowed_items,
    evaluate_frame,
    recommend,
    snapshot_test,
)
from .recommender import EVALUATE_METRICS, Recommender

__all__ = ["DaskRecommender", "scatter_recommender", "recommend_dask", "evaluate_dask",
           "map_ids_dask"]

#: Default number of users per partition when ``recommend_dask`` makes the partitions.
PARTITION_USERS = 100_000


@dataclass
class DaskRecommender:
    """A fitted Recommender's scoring state, held by every worker of a Dask client.

    Made by :func:`scatter_recommender`. It is a snapshot: later changes to the
    Recommender (``fit_partial``, ``fold_in``, ...) need a new handle.

    Attributes
    ----------
    client : distributed.Client
    future : distributed.Future
        The :class:`ScoringSnapshot` on the workers (replicated to all of them, so losing
        a worker loses no copy that the others do not hold).
    user_col, item_col : column names of the training interactions
    n_users : int
    item_mapper : IdMapper
        Item keys (kept locally to resolve ``items`` / ``filter_items``).
    user_keys_dtype, item_keys_dtype : dtypes single-machine recommendation frames have
        for these keys (e.g. ``str`` for strings)
    """

    client: distributed.Client
    future: distributed.Future
    user_col: Hashable
    item_col: Hashable
    n_users: int
    item_mapper: IdMapper
    user_keys_dtype: Any
    item_keys_dtype: Any

    @property
    def state(self) -> Any:
        """The snapshot as a graph dependency (resolved to the object on each worker)."""
        return dask.delayed(self.future)


def _client(client: distributed.Client | None) -> distributed.Client:
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got "
                            f"{type(client).__name__}.")
        return client
    try:
        return distributed.default_client()
    except ValueError as error:
        raise RuntimeError("No Dask client: pass client=distributed.Client(...) or create "
                           "one first (see hybridrec.distributed's docstring).") from error


def scatter_recommender(recommender: Recommender,
                        client: distributed.Client | None = None) -> DaskRecommender:
    """Send a fitted Recommender's scoring state to every worker, once.

    Parameters
    ----------
    recommender : Recommender
        Fitted.
    client : distributed.Client, optional
        Default: the current client (``distributed.default_client()``).

    Returns
    -------
    DaskRecommender
        Pass it instead of the Recommender to ``recommend_dask`` / ``evaluate_dask`` /
        ``map_ids_dask`` to reuse the copy on the workers.
    """
    if not isinstance(recommender, Recommender):
        raise TypeError(f"recommender must be a hybridrec.Recommender, got "
                        f"{type(recommender).__name__}.")
    client = _client(client)
    snapshot = recommender.scoring_snapshot().for_scoring()
    # broadcast=True: every worker gets its own replica now, so tasks never fetch it
    # from each other and a dead worker's copy is not the only one.
    future = client.scatter(snapshot, broadcast=True, hash=False)
    return DaskRecommender(
        client, future, snapshot.user_col, snapshot.item_col, snapshot.n_users,
        snapshot.item_mapper,
        # The dtypes recommendation frames infer for these keys (e.g. str for strings).
        pd.Series(snapshot.user_mapper.keys[:1].to_numpy()).dtype,
        pd.Series(snapshot.item_mapper.keys[:1].to_numpy()).dtype)


def _handle(model: Recommender | DaskRecommender,
            client: distributed.Client | None) -> DaskRecommender:
    if isinstance(model, DaskRecommender):
        if client is not None and client is not model.client:
            raise ValueError("client differs from the one the DaskRecommender was "
                             "scattered with.")
        return model
    return scatter_recommender(model, client)


def _user_keys(state: ScoringSnapshot, start: int, stop: int) -> pd.Series:
    return pd.Series(state.user_mapper.keys[start:stop].to_numpy(), name="user")


def _user_series(handle: DaskRecommender, users: Any, user_col: Hashable | None,
                 partition_users: int) -> dd.Series:
    """The users to recommend for as a dask Series (all known users when None)."""
    if users is None:
        # Every partition reads its range of keys from the snapshot the workers already
        # hold: the keys are neither gathered here nor embedded in the graph.
        starts = range(0, max(handle.n_users, 1), partition_users)
        parts = [dask.delayed(_user_keys)(handle.state, start, start + partition_users)
                 for start in starts]
        meta = pd.Series([], dtype=handle.user_keys_dtype, name="user")
        return dd.from_delayed(parts, meta=meta, verify_meta=False)
    if isinstance(users, dd.DataFrame):
        column = handle.user_col if user_col is None else user_col
        if column not in users.columns:
            raise ValueError(f"users has no column {column!r} (pass user_col=...); its "
                             f"columns are {list(users.columns)!r}.")
        return users[column]
    if isinstance(users, dd.Series):
        return users
    raise TypeError("users must be a dask Series or DataFrame of user keys, or None for "
                    f"every known user, got {type(users).__name__} (for keys in memory "
                    "use Recommender.recommend or dd.from_pandas).")


def _recommend_partition(keys: pd.Series, state: ScoringSnapshot, k: int,
                         exclude_seen: bool, allowed: np.ndarray | None, num_threads: int,
                         meta: pd.DataFrame) -> pd.DataFrame:
    frame = recommend(state, keys.to_numpy(), k, exclude_seen, allowed, num_threads,
                      hint="fold them in (Recommender.fold_in) before recommending on Dask.")
    return frame.astype(meta.dtypes.to_dict(), copy=False)


def recommend_dask(model: Recommender | DaskRecommender, users: Any = None, k: int = 10,
                   exclude_seen: bool = True, items: Any = None, filter_items: Any = None,
                   *, user_col: Hashable | None = None,
                   partition_users: int = PARTITION_USERS, num_threads: int = 1,
                   client: distributed.Client | None = None) -> dd.DataFrame:
    """Top-``k`` items for every user of a dask collection, as a lazy dask DataFrame.

    Parameters
    ----------
    model : Recommender or DaskRecommender
        A fitted Recommender (scattered to the workers by this call) or the handle of an
        earlier ``scatter_recommender`` (no new transfer).
    users : dask Series or DataFrame of user keys, optional
        For a DataFrame, the column ``user_col`` (default: the training user column).
        Default: every known user, in ``partition_users`` per partition.
    k, exclude_seen, items, filter_items
        As in ``Recommender.recommend``: training items are left out on the workers,
        which hold the training interactions.
    user_col : column name, optional
    partition_users : int, default 100,000
        Partition size when ``users`` is None.
    num_threads : int, default 1
        Numba threads per task; a worker already runs ``nthreads`` tasks at once.
    client : distributed.Client, optional

    Returns
    -------
    dask.dataframe.DataFrame
        Columns ``user, item, score, rank``; one partition per input partition, users in
        the input order, equal to ``Recommender.recommend`` on the same users. Computing
        it raises ``KeyError`` for user keys the model does not know (fold them in first;
        cold start from features is single-machine only).
    """
    handle = _handle(model, client)
    k = check_int(k, "k")
    partition_users = check_int(partition_users, "partition_users")
    num_threads = check_num_threads(num_threads)
    exclude_seen = check_bool(exclude_seen, "exclude_seen")
    allowed = allowed_items(handle.item_mapper, items, filter_items)
    series = _user_series(handle, users, user_col, partition_users)
    # User keys keep the caller's dtype; all-user runs get Recommender.recommend's.
    user_dtype = handle.user_keys_dtype if users is None else series.dtype
    meta = pd.DataFrame({
        "user": pd.Series([], dtype=user_dtype),
        "item": pd.Series([], dtype=handle.item_keys_dtype),
        "score": pd.Series([], dtype=np.float32),
        "rank": pd.Series([], dtype=np.int64),
    })
    return series.map_partitions(_recommend_partition, handle.state, k, bool(exclude_seen),
                                 allowed, num_threads, meta, meta=meta,
                                 enforce_metadata=False, align_dataframes=False)


# ----------------------------------------------------------------------- id mapping
def _map_partition(frame: pd.DataFrame, state: ScoringSnapshot, user_col: Hashable,
                   item_col: Hashable, unknown: str) -> pd.DataFrame:
    users = state.user_mapper.transform(frame[user_col], unknown="ignore",
                                        name=f"interactions[{user_col!r}]")
    items = state.item_mapper.transform(frame[item_col], unknown="ignore",
                                        name=f"interactions[{item_col!r}]")
    if unknown == "raise":
        for name, column, codes in (("user", user_col, users), ("item", item_col, items)):
            if np.any(codes < 0):
                bad = pd.unique(frame[column].to_numpy()[codes < 0])
                raise KeyError(f"interactions[{column!r}]: {bad.size} unknown {name} "
                               f"key(s) {list(bad[:5])!r}; pass unknown='ignore' (-1) or "
                               "'drop'.")
    out = frame.assign(user_index=users.astype(np.int64), item_index=items.astype(np.int64))
    if unknown == "drop":
        out = out[(users >= 0) & (items >= 0)]
    return out


def map_ids_dask(model: Recommender | DaskRecommender, interactions: dd.DataFrame,
                 unknown: str = "raise", *, user_col: Hashable | None = None,
                 item_col: Hashable | None = None,
                 client: distributed.Client | None = None) -> dd.DataFrame:
    """Model rows of the keys of a dask interactions frame, mapped on the workers.

    Parameters
    ----------
    model : Recommender or DaskRecommender
    interactions : dask.dataframe.DataFrame
        E.g. ``dd.read_parquet("interactions/")``.
    unknown : {"raise", "ignore", "drop"}, default "raise"
        The single-machine policies: ``"raise"`` a KeyError naming unknown keys (when
        computed), ``"ignore"`` maps them to -1 (``IdMapper.transform``), ``"drop"``
        leaves their rows out (``Recommender.evaluate``).
    user_col, item_col : column names, optional
        Default: the training column names.
    client : distributed.Client, optional

    Returns
    -------
    dask.dataframe.DataFrame
        The input's columns plus ``user_index`` and ``item_index`` (int64), partitioned
        like the input.
    """
    if unknown not in ("raise", "ignore", "drop"):
        raise ValueError(f"unknown must be 'raise', 'ignore' or 'drop', got {unknown!r}.")
    handle = _handle(model, client)
    user_col = handle.user_col if user_col is None else user_col
    item_col = handle.item_col if item_col is None else item_col
    _check_dask_frame(interactions, "interactions", [user_col, item_col])
    meta = interactions._meta.assign(user_index=np.zeros(0, np.int64),
                                     item_index=np.zeros(0, np.int64))
    return interactions.map_partitions(_map_partition, handle.state, user_col, item_col,
                                       unknown, meta=meta, align_dataframes=False)


def _check_dask_frame(frame: Any, name: str, columns: Sequence[Hashable]) -> None:
    check_frame(frame, name, list(columns), dd.DataFrame, "dask DataFrame")


# ------------------------------------------------------------------------ evaluation
def _evaluate_partition(frame: pd.DataFrame, state: ScoringSnapshot, ks: tuple[int, ...],
                        metrics: tuple[str, ...], exclude_seen: bool,
                        popularity: np.ndarray | None, num_threads: int) -> Any:
    if popularity is None:
        popularity = state.popularity
    return evaluate_frame(state, frame, ks, metrics, exclude_seen, popularity, num_threads)


def _item_counts_partition(frame: pd.DataFrame, state: ScoringSnapshot) -> np.ndarray:
    """Distinct (user, item) test pairs per item: the popularity source without train."""
    test, _ = snapshot_test(state, frame)
    return np.bincount(test.indices, minlength=state.n_items)


def _popularity(counts: list[np.ndarray], n_users: int) -> np.ndarray:
    return np.sum(counts, axis=0) / max(n_users, 1)


def evaluate_dask(model: Recommender | DaskRecommender, test: dd.DataFrame,
                  k: int | Sequence[int] = (10,), metrics: Sequence[str] = EVALUATE_METRICS,
                  exclude_seen: bool = True, *, num_threads: int = 1,
                  client: distributed.Client | None = None) -> pd.DataFrame:
    """``Recommender.evaluate`` of a dask test frame, computed on the workers.

    The test rows are shuffled so that each user's rows share a partition; every
    partition ranks its users' items with the single-machine kernels and returns exact
    sums (and the covered items); the client adds them up exactly. The table equals
    ``Recommender.evaluate(test.compute(), ...)``.

    Parameters
    ----------
    model : Recommender or DaskRecommender
    test : dask.dataframe.DataFrame
        Interactions with the training column names. Rows whose user or item is unknown
        are dropped; their number is in the result's ``attrs["dropped_rows"]``.
    k, metrics, exclude_seen
        As in ``Recommender.evaluate``.
    num_threads : int, default 1
        Numba threads per task.
    client : distributed.Client, optional

    Returns
    -------
    pandas.DataFrame
        ``metric, k, mean, stderr, n_users`` (computed, not lazy: it is small).
    """
    handle = _handle(model, client)
    ks, metrics = check_evaluate_arguments(k, metrics)
    num_threads = check_num_threads(num_threads)
    exclude_seen = check_bool(exclude_seen, "exclude_seen")
    _check_dask_frame(test, "test", [handle.user_col, handle.item_col])
    test = test[[handle.user_col, handle.item_col]]
    # All of a user's rows in one partition: per-user metrics need the whole test list.
    partitions = test.shuffle(on=handle.user_col).to_delayed()
    popularity = None
    if "popularity" in metrics and not exclude_seen:
        # Without training interactions, popularity comes from the whole test set, which
        # no single partition sees: the partitions' counts are summed first, in the same
        # graph (the shuffle runs once), and shared with every partition.
        counts = [dask.delayed(_item_counts_partition)(part, handle.state)
                  for part in partitions]
        popularity = dask.delayed(_popularity)(counts, handle.n_users)
    parts = [dask.delayed(_evaluate_partition)(part, handle.state, ks, metrics,
                                               bool(exclude_seen), popularity, num_threads)
             for part in partitions]
    results = handle.client.compute(parts, sync=True)
    combined = combine_parts([part for part, _ in results])
    frame = summarise(combined)
    frame.attrs["dropped_rows"] = int(sum(dropped for _, dropped in results))
    return frame

