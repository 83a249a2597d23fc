"""Evaluation speed: hybridrec.metrics vs lightfm.evaluation on the same embeddings.

What is compared
    One model (``lightfm.LightFM`` when importable, else ``hybridrec.LightFM``; warp,
    64 components, 5 epochs) is trained on the MovieLens-1M-derived RecEraser split, and
    its embeddings are copied into the other package's model, so both evaluate exactly the
    same scores. Then precision_at_k, recall_at_k (k=10), auc_score and reciprocal_rank on
    the 200k test positives with the train items excluded are timed for both packages
    with the same ``num_threads``, plus hybridrec's ``evaluate()`` computing all four (and
    NDCG, MAP, hit rate at k=10) in one pass. The largest absolute difference between the
    packages' per-user values is printed as the correctness column.

Protocol
    One untimed call of everything (numba compilation), then ``--repeats`` rounds that
    call every (system, metric, threads) once each; medians and mins over the rounds.

Run from the repository root::

    python benchmarks/bench_metrics.py [--threads 1 2] [--repeats 5] [--markdown]
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from _common import (
    add_data_dir_argument,
    fmt_ratio,
    fmt_seconds,
    format_table,
    load_ml1m_receraser,
    optional_import,
    print_banner,
    time_interleaved,
)

import hybridrec
from hybridrec import metrics as hr_metrics

METRICS = ("precision_at_k", "recall_at_k", "auc_score", "reciprocal_rank")


def _copy_parameters(source, target) -> None:
    """Copy embeddings and biases between a lightfm and a hybridrec model."""
    for side in ("user", "item"):
        for name in ("embeddings", "biases"):
            setattr(target, f"{side}_{name}",
                    np.ascontiguousarray(getattr(source, f"{side}_{name}"), dtype=np.float32))


def _call(module, name: str, model, test, train, threads: int):
    kwargs = dict(train_interactions=train, num_threads=threads)
    if name in ("precision_at_k", "recall_at_k"):
        kwargs["k"] = 10
    return getattr(module, name)(model, test, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    add_data_dir_argument(parser)
    args = parser.parse_args()
    print_banner(args.markdown)
    lightfm = optional_import("lightfm")
    evaluation = optional_import("lightfm.evaluation") if lightfm else None
    train, test = load_ml1m_receraser(args.data_dir)
    train, test = train.tocsr(), test.tocsr()
    ours = hybridrec.LightFM(loss="warp", no_components=64, random_state=0)
    if lightfm is not None:
        theirs = lightfm.LightFM(loss="warp", no_components=64, random_state=0)
        theirs.fit(train, epochs=5, num_threads=max(args.threads))
        ours.fit(train, epochs=0)
        _copy_parameters(theirs, ours)
    else:
        ours.fit(train, epochs=5, num_threads=max(args.threads))

    steps = {}
    for threads in args.threads:
        for name in METRICS:
            steps[("hybridrec", name, threads)] = partial(
                _call, hr_metrics, name, ours, test, train, threads)
            if evaluation is not None:
                steps[("LightFM", name, threads)] = partial(
                    _call, evaluation, name, theirs, test, train, threads)
        steps[("hybridrec", "evaluate", threads)] = partial(
            hr_metrics.evaluate, ours, test, train, k=(10,),
            metrics=("precision", "recall", "ndcg", "map", "hit_rate", "auc",
                     "reciprocal_rank"), num_threads=threads)
    timings = time_interleaved(steps, args.repeats)

    rows = []
    for threads in args.threads:
        lightfm_total = 0.0
        for name in METRICS + ("evaluate",):
            ours_time = timings[("hybridrec", name, threads)]
            theirs_time = timings.get(("LightFM", name, threads))
            difference = "-"
            if theirs_time is not None:
                lightfm_total += theirs_time.median
                a = _call(hr_metrics, name, ours, test, train, threads)
                b = _call(evaluation, name, theirs, test, train, threads)
                difference = f"{np.max(np.abs(a - b)):.1e}"
            reference = lightfm_total if name == "evaluate" and evaluation else (
                theirs_time.median if theirs_time else None)
            label = "evaluate (all 4 + ndcg, map, hit rate)" if name == "evaluate" else name
            rows.append([label, str(threads), fmt_seconds(ours_time.median),
                         fmt_seconds(ours_time.min),
                         fmt_seconds(reference) if reference else "-",
                         fmt_ratio(reference, ours_time.median), difference])
    headers = ["metric", "threads", "hybridrec med s", "hybridrec min s",
               "LightFM med s (sum of 4 for evaluate)", "speed-up", "max abs diff"]
    print(format_table(headers, rows, args.markdown))


if __name__ == "__main__":
    main()
