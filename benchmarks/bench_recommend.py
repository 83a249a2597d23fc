"""Top-k recommendations for every user: hybridrec vs a LightFM predict() loop, and scale.

What is measured
    1. MovieLens-1M-derived RecEraser split (6,040 users x 3,706 items, 64 components):
       ``Recommender.recommend(k=10)`` for every user (seen items excluded), at 1 and 2
       threads, beside the usual LightFM idiom (one ``predict`` call per user, then
       ``argpartition``) on the same trained embeddings. Correctness column: the share of
       users whose top-10 lists agree.
    2. Scale: ``hybridrec._scoring.top_k`` (the engine under ``recommend``) for
       ``--users`` x ``--items`` random representations (``--components``), 2 threads,
       with peak RSS: scores live only in per-thread tiles (``scoring.top_users``), so
       memory is O(users x (k + components)) + O(threads x tile), never users x items.
       The rate in multiply-adds per second is printed for comparison with sgemm.
    3. Approximate top-k (``hybridrec._ann``, the IVF index), beside the exact path
       (``top_k``) in interleaved rounds (medians), 2 threads, k=10:
       a. the ml-1m split's trained embeddings (WARP, 64 components, 20 epochs): every
          user's top-10 with seen items excluded (recommend), and every item's 10
          cosine neighbours (similar_items), at the calibrated default ``n_probe`` and
          across the knob;
       b. planted-structure vectors (``planted_vectors``: topics, popularity-scaled
          norms and biases, users mixing two topics) at ``--users`` x ``--items`` x
          ``--components`` for each ``--noise`` level (higher = weaker structure), and
          structureless Gaussian vectors as the worst case.
       c. ``Recommender.recommend(k=10)`` for every ml-1m user with and without
          ``approximate=True`` (the public API, DataFrames out).
       Columns: recall@10 against the exact lists, wall time (median, min), the
       process's CPU time over 2 (what the wall time would be on two idle cores: the
       machine is shared), index build time (k-means + calibration), share of items
       scored, peak RSS after the approximate phase (measured before the exact path
       first runs) and at the end.

Run from the repository root::

    python benchmarks/bench_recommend.py                        # ml-1m + 100k x 100k
    python benchmarks/bench_recommend.py --users 1000000        # the 1M x 100k target
    python benchmarks/bench_recommend.py --only approximate --users 1000000 --repeats 2
    python benchmarks/bench_recommend.py --only approximate --skip-movielens \
        --users 1000000 --exact-users 100000 --repeats 3     # exact on a 10% sample
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _common import (
    add_data_dir_argument,
    format_table,
    load_ml1m_receraser,
    optional_import,
    print_banner,
    time_interleaved,
)

from hybridrec import Recommender
from hybridrec._ann import build_index, mean_recall, search
from hybridrec._scoring import top_k


def _frame(matrix) -> pd.DataFrame:
    coo = matrix.tocoo()
    return pd.DataFrame({"user_id": coo.row, "item_id": coo.col})


def _lightfm_loop(model, n_users: int, n_items: int, seen, k: int) -> np.ndarray:
    """The LightFM idiom: score every item per user, mask seen, take the top k."""
    items = np.arange(n_items, dtype=np.int32)
    out = np.empty((n_users, k), dtype=np.int64)
    for user in range(n_users):
        scores = model.predict(user, items)
        scores[seen.indices[seen.indptr[user]:seen.indptr[user + 1]]] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        out[user] = top[np.argsort(-scores[top], kind="stable")]
    return out


def movielens(args: argparse.Namespace) -> list[list[str]]:
    train, _ = load_ml1m_receraser(args.data_dir)
    train = train.tocsr()
    frame = _frame(train)
    recommender = Recommender(no_components=64, epochs=2, num_threads=2, random_state=0)
    recommender.fit(frame)
    users = recommender.user_mapper_.keys.to_numpy()
    steps = {("hybridrec", t): (lambda t=t: recommender.set_params(num_threads=t)
                                .recommend(k=10)) for t in args.threads}
    lightfm = optional_import("lightfm")
    seen = recommender.interactions_
    n_users, n_items = seen.shape
    if lightfm is not None:
        # The same embeddings in LightFM's own class, in the Recommender's row order.
        theirs = lightfm.LightFM(no_components=64).fit(seen, epochs=0)
        snapshot = recommender.scoring_snapshot()
        theirs.user_biases, theirs.user_embeddings = (snapshot.user_biases,
                                                      snapshot.user_vectors)
        theirs.item_biases, theirs.item_embeddings = (snapshot.item_biases,
                                                      snapshot.item_vectors)
        steps[("LightFM predict loop", 1)] = lambda: _lightfm_loop(theirs, n_users, n_items,
                                                                   seen, 10)
    timings = time_interleaved(steps, args.repeats)
    agreement = "-"
    if lightfm is not None:
        ours = recommender.recommend(k=10)
        ours_items = recommender.item_mapper_.transform(ours["item"].to_numpy())
        ours_items = ours_items.reshape(len(users), 10)
        theirs_items = _lightfm_loop(theirs, n_users, n_items, seen, 10)
        same = np.mean([set(a) == set(b) for a, b in
                        zip(ours_items, theirs_items, strict=True)])
        agreement = f"{same:.4f}"
    rows = []
    for (system, threads), timing in timings.items():
        rows.append(["ml-1m all users, k=10", system, str(threads),
                     f"{timing.median:.3f}", f"{timing.min:.3f}",
                     agreement if system == "hybridrec" else "-", "-"])
    return rows


def scale(args: argparse.Namespace) -> list[list[str]]:
    rng = np.random.default_rng(0)
    users = rng.standard_normal((args.users, args.components), dtype=np.float32)
    items = rng.standard_normal((args.items, args.components), dtype=np.float32)
    biases = np.zeros(args.items, dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    top_k(users[:100], items, biases, np.arange(100), 10, 2)  # compile / warm up
    start = time.perf_counter()
    top_items, _ = top_k(users, items, biases, np.arange(args.users), 10, 2)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert top_items.shape == (args.users, 10) and top_items.min() >= 0
    rate = args.users * args.items * args.components / elapsed / 1e9
    return [[f"synthetic {args.users:,} x {args.items:,} x {args.components}, k=10",
             f"hybridrec top_k ({rate:.0f} GMAD/s)", "2", f"{elapsed:.1f}", "-", "-",
             f"{peak:.0f} MiB (+{peak - before:.0f} over the inputs)"]]


APPROXIMATE_HEADERS = ["workload", "system", "n_probe", "recall@10", "median s", "min s",
                       "speed-up", "CPU s / 2", "build s", "items scored", "peak RSS"]


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def planted_vectors(n_users: int, n_items: int, d: int, noise: float, n_topics: int = 200,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User / item vectors shaped like trained embeddings, with planted structure.

    Items belong to one of ``n_topics`` topics (Dirichlet-skewed sizes): topic centre
    plus ``noise``-scaled Gaussian noise, norm scaled by popularity ** 0.25 (lognormal
    popularity), bias 0.3 log(popularity). Users mix two topics (weights 0.5-1) plus
    noise, scaled by 3. ``noise`` 0.6 gives strong structure, 1.0 weak.
    """
    rng = np.random.default_rng(seed)
    centres = (rng.standard_normal((n_topics, d)) / np.sqrt(d)).astype(np.float32)
    weights = rng.dirichlet(np.full(n_topics, 2.0))
    topics = rng.choice(n_topics, size=n_items, p=weights)
    popularity = rng.lognormal(0.0, 1.0, n_items).astype(np.float32)
    items = centres[topics] + np.float32(noise / np.sqrt(d)) * rng.standard_normal(
        (n_items, d), dtype=np.float32)
    items *= popularity[:, None] ** np.float32(0.25)
    biases = (0.3 * np.log(popularity)).astype(np.float32)
    users = np.empty((n_users, d), dtype=np.float32)
    for start in range(0, n_users, 100_000):   # chunks: bounded temporary memory
        n = min(100_000, n_users - start)
        first = rng.choice(n_topics, size=n, p=weights)
        second = rng.choice(n_topics, size=n, p=weights)
        mix = rng.uniform(0.5, 1.0, n).astype(np.float32)[:, None]
        users[start:start + n] = 3.0 * (mix * centres[first] + (1 - mix) * centres[second]
                                        + np.float32(noise / np.sqrt(d))
                                        * rng.standard_normal((n, d), dtype=np.float32))
    return users, items, biases


def _knob(n_probe: int, n_clusters: int) -> list[int]:
    """n_probe values of the recall / speed table around the calibrated one."""
    values = {max(1, n_probe // 4), max(1, n_probe // 2), n_probe,
              min(n_clusters, 2 * n_probe)}
    return sorted(values)


def _compare(label: str, index, queries: np.ndarray, vectors: np.ndarray,
             biases: np.ndarray, exclude, args: argparse.Namespace, build_s: float,
             knob: bool) -> list[list[str]]:
    """Interleaved exact / approximate rounds; table rows.

    The approximate search runs for every query. The exact path runs for every query, or
    with ``--exact-users N`` (fewer than the queries) for N evenly spaced ones only: its
    time is then scaled by queries / N (top_k's time is linear in the users it scores)
    and recall is measured on those N users. On a loaded machine that keeps the exact
    reference affordable at 1M users.
    """
    n = queries.shape[0]
    rows_ids = np.arange(n, dtype=np.int32)
    sample = rows_ids
    if args.exact_users and args.exact_users < n:
        sample = np.linspace(0, n - 1, args.exact_users).round().astype(np.int32)
    scale = n / sample.size
    k = 10
    small = rows_ids[:min(1000, rows_ids.size)]
    search(index, queries, small, k, 2, exclude=exclude)   # compile / warm up
    top_k(queries, vectors, biases, small, k, 2, exclude=exclude)
    probes = _knob(index.n_probe, index.n_clusters) if knob else [index.n_probe]
    times: dict[object, list[float]] = {"exact": []}
    cpu: dict[object, list[float]] = {"exact": []}
    results: dict[object, tuple] = {}
    rss_approximate = None
    for round_no in range(args.repeats):
        for n_probe in probes:
            start, start_cpu = time.perf_counter(), time.process_time()
            found, _, scanned = search(index, queries, rows_ids, k, 2, exclude=exclude,
                                       n_probe=n_probe, return_scanned=True)
            times.setdefault(n_probe, []).append(time.perf_counter() - start)
            cpu.setdefault(n_probe, []).append(time.process_time() - start_cpu)
            results[n_probe] = (found, scanned)
            del found
        if rss_approximate is None:
            rss_approximate = _rss()
        start, start_cpu = time.perf_counter(), time.process_time()
        exact, _ = top_k(queries, vectors, biases, sample, k, 2, exclude=exclude)
        times["exact"].append(scale * (time.perf_counter() - start))
        cpu["exact"].append(scale * (time.process_time() - start_cpu))
        print(f"  {label}: round {round_no + 1}/{args.repeats} done", flush=True)
    exact_median = float(np.median(times["exact"]))
    exact_name = ("exact top_k" if sample.size == n else
                  f"exact top_k ({sample.size:,}-user sample, time x {scale:.0f})")
    table = [[label, exact_name, "-", "1.0000", f"{exact_median:.2f}",
              f"{min(times['exact']):.2f}", "1.0x", f"{np.median(cpu['exact']) / 2:.2f}",
              "-", "100%", f"{_rss():.0f} MiB"]]
    for n_probe in probes:
        found, scanned = results[n_probe]
        median = float(np.median(times[n_probe]))
        default = " (default)" if n_probe == index.n_probe else ""
        table.append([label, f"IVF {index.n_clusters} clusters{default}", str(n_probe),
                      f"{mean_recall(found[sample], exact):.4f}", f"{median:.2f}",
                      f"{min(times[n_probe]):.2f}", f"{exact_median / median:.1f}x",
                      f"{np.median(cpu[n_probe]) / 2:.2f}", f"{build_s:.1f}",
                      f"{100 * scanned.mean() / vectors.shape[0]:.2f}%",
                      f"{rss_approximate:.0f} MiB"])
    return table


def _recommender_rows(recommender: Recommender, args: argparse.Namespace
                      ) -> list[list[str]]:
    """The public API: ``recommend()`` for every user, exact and ``approximate=True``
    (DataFrames out), interleaved; the index is built before the timing."""
    info = recommender.approximate_index()
    steps = {"exact": lambda: recommender.recommend(k=10),
             "approximate": lambda: recommender.recommend(k=10, approximate=True)}
    timings = time_interleaved(steps, args.repeats, progress=False)
    exact = recommender.recommend(k=10)
    approximate = recommender.recommend(k=10, approximate=True)
    hits = approximate.merge(exact, on=["user", "item"])
    recall = len(hits) / len(exact)
    label = "ml-1m Recommender.recommend(k=10), every user (DataFrame)"
    exact_s = timings["exact"].median
    return [[label, "approximate=False", "-", "1.0000", f"{exact_s:.2f}",
             f"{timings['exact'].min:.2f}", "1.0x", "-", "-", "100%", f"{_rss():.0f} MiB"],
            [label, "approximate=True", str(info["n_probe"]), f"{recall:.4f}",
             f"{timings['approximate'].median:.2f}", f"{timings['approximate'].min:.2f}",
             f"{exact_s / timings['approximate'].median:.1f}x", "-",
             f"{info['build_seconds']:.1f}", "-", f"{_rss():.0f} MiB"]]


def approximate_movielens(args: argparse.Namespace) -> list[list[str]]:
    """ml-1m trained embeddings: recommend (seen excluded) and similar items (cosine),
    through the engine and through ``Recommender.recommend``."""
    train, _ = load_ml1m_receraser(args.data_dir)
    train = train.tocsr()
    recommender = Recommender(no_components=64, loss="warp", learning_rate=0.05, epochs=20,
                              num_threads=2, random_state=0)
    recommender.fit(_frame(train))
    snapshot = recommender.scoring_snapshot()
    user_vectors, seen = snapshot.user_vectors, snapshot.seen
    item_biases, item_vectors = snapshot.item_biases, snapshot.item_vectors
    start = time.perf_counter()
    index = build_index(item_vectors, item_biases, sample_queries=user_vectors,
                        sample_exclude=seen, num_threads=2)
    build_s = time.perf_counter() - start
    rows = _compare("ml-1m recommend, 6,040 users, seen excluded", index, user_vectors,
                    item_vectors, item_biases, seen, args, build_s, knob=True)
    norms = np.linalg.norm(item_vectors.astype(np.float64), axis=1, keepdims=True)
    unit = np.ascontiguousarray(item_vectors / np.where(norms > 0, norms, 1.0),
                                dtype=np.float32)
    start = time.perf_counter()
    cosine = build_index(unit, metric="cosine", num_threads=2)
    build_s = time.perf_counter() - start
    self_exclusion = sp.identity(unit.shape[0], dtype=np.float32, format="csr")
    rows += _compare("ml-1m similar items, 3,706 items (cosine)", cosine, unit, unit,
                     np.zeros(unit.shape[0], np.float32), self_exclusion, args, build_s,
                     knob=True)
    rows += _recommender_rows(recommender, args)
    return rows


def approximate_scale(args: argparse.Namespace) -> list[list[str]]:
    """Planted-structure (and structureless) vectors at --users x --items."""
    rows = []
    cases = [(f"planted noise={noise}", noise) for noise in args.noise]
    if args.gaussian:
        cases.append(("Gaussian (no structure)", None))
    for name, noise in cases:
        if noise is None:
            rng = np.random.default_rng(0)
            users = rng.standard_normal((args.users, args.components), dtype=np.float32)
            items = rng.standard_normal((args.items, args.components), dtype=np.float32)
            biases = np.zeros(args.items, dtype=np.float32)
        else:
            users, items, biases = planted_vectors(args.users, args.items, args.components,
                                                   noise)
        start = time.perf_counter()
        index = build_index(items, biases, sample_queries=users, num_threads=2)
        build_s = time.perf_counter() - start
        print(f"  {name}: built in {build_s:.1f} s, n_probe={index.n_probe}, "
              f"calibration recall {index.info['calibration_recall']:.4f}", flush=True)
        label = f"{name}, {args.users:,} x {args.items:,} x {args.components}"
        case = _compare(label, index, users, items, biases, None, args, build_s,
                        knob=args.knob)
        # Each case as it finishes (a long run keeps what it measured if stopped).
        print(format_table(APPROXIMATE_HEADERS, case, args.markdown), flush=True)
        rows += case
        del users, items, biases, index
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--skip-movielens", action="store_true")
    parser.add_argument("--only", choices=["exact", "approximate"], default=None,
                        help="run only the exact (sections 1-2) or approximate (3) part")
    parser.add_argument("--noise", type=float, nargs="*", default=[0.6, 1.0],
                        help="planted-structure noise levels of section 3")
    parser.add_argument("--gaussian", action="store_true",
                        help="section 3: also structureless Gaussian vectors")
    parser.add_argument("--knob", action="store_true",
                        help="section 3b: also time n_probe / 4, / 2 and x 2")
    parser.add_argument("--exact-users", type=int, default=None,
                        help="section 3: time the exact path on this many evenly spaced "
                             "users only (scaled up; recall on them)")
    parser.add_argument("--markdown", action="store_true")
    add_data_dir_argument(parser)
    args = parser.parse_args()
    print_banner(args.markdown)
    if args.only != "approximate":
        rows = [] if args.skip_movielens else movielens(args)
        rows += scale(args)
        headers = ["workload", "system", "threads", "median s", "min s",
                   "top-10 agreement", "peak RSS"]
        print(format_table(headers, rows, args.markdown))
    if args.only != "exact":
        rows = [] if args.skip_movielens else approximate_movielens(args)
        rows += approximate_scale(args)
        print(format_table(APPROXIMATE_HEADERS, rows, args.markdown), flush=True)


if __name__ == "__main__":
    main()
