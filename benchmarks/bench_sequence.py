"""Sequence models side by side with Spotlight: MRR and fit time per representation.

For every protocol and representation (pooling, cnn, lstm, mixture) Spotlight's
``ImplicitSequenceModel`` and hybridrec's front door (``hybridrec.spotlight``) are fitted
with the same arguments on the same data, each built by its own package's code (synthetic
generator, user-based split, ``to_sequence``) from the same interactions and seeds; each
scores its test sequences with its own ``sequence_mrr_score``:

* ``synthetic``: Spotlight's sequence tests (tests/sequence/test_sequence_implicit.py):
  ``generate_sequential`` (100 users, 100 items, order 2, concentration 1e-3),
  user-based 80/20 split, sequences of 10, and each representation's test settings
  (``cnn-dilated`` is the two-layer dilated CNN test, on 20,000 interactions);
* ``ml-100k`` and ``ml-latest-small``: Spotlight's example protocol
  (examples/movielens_sequence): interactions ordered by timestamp, user-based split
  80 / 10 / 10 (train / test / validation), sequences of 200 with at least 20 items and
  step 200; the settings are in ``MOVIELENS`` / ``MOVIELENS_COMMON``, the same for
  both systems.

Round ``r`` uses seed ``first_seed + r`` (``--first-seed``, default 42) for the data and
the models of both systems, the two systems alternate their order each round, and the
tables give median MRR and median fit seconds (wall clock, plus process CPU seconds) over
the rounds. MRR on MovieLens is heavy-tailed: a test set has 55-100 sequences, so one
target ranked first moves a round's MRR by 0.01-0.02. The table therefore also gives the
mean of the per-round differences (hybridrec - Spotlight, same split and seed) with its
standard error; ``--merge`` adds the rounds of earlier ``--json`` files to the report. Both run with
``--threads`` threads (``torch.set_num_threads``; ``num_threads`` for hybridrec), and
hybridrec's kernels are compiled before the first timed fit. The 1-minute load average
is printed at each round: the machine may be shared.

With ``--sasrec``, RecTools' SASRec (``rectools[torch]``, CPU) and hybridrec's own
``hybridrec.sequence.SequenceModel`` are compared on the leave-last-out protocol (the
last item of every user held out, ranked against every item the user has not seen).

Spotlight is not on PyPI: pass ``--spotlight-path`` pointing at a checkout of
maciejkula/spotlight (PyTorch installed from PyPI, CPU). Without it, or when it cannot be
imported, Spotlight's rows are reported as absent. Spotlight 0.1.6 runs unchanged on
PyTorch 2.13 for these models; its ``F.tanh`` deprecation warnings are silenced.

    python benchmarks/bench_sequence.py --spotlight-path ../peers/spotlight --threads 2 \\
        --repeats 3 [--datasets synthetic,ml-100k,ml-latest-small] [--sasrec] [--markdown]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from _common import add_data_dir_argument, format_table, print_banner

#: Spotlight's test settings per representation (all: loss bpr, batch 128, dimension 32).
SYNTHETIC = {
    "pooling": dict(representation="pooling", learning_rate=1e-1, l2=1e-9, n_iter=5),
    "cnn": dict(representation=("cnn", dict(kernel_width=5, num_layers=1)),
                learning_rate=1e-2, l2=0.0, n_iter=25),
    "cnn-dilated": dict(representation=("cnn", dict(kernel_width=3, dilation=(1, 2),
                                                    num_layers=2)),
                        learning_rate=1e-2, l2=0.0, n_iter=50, num_interactions=20000),
    "lstm": dict(representation="lstm", learning_rate=1e-2, l2=1e-7, n_iter=25),
    "mixture": dict(representation="mixture", learning_rate=1e-2, l2=1e-7, n_iter=50),
}
SYNTHETIC_COMMON = dict(loss="bpr", batch_size=128, embedding_dim=32)
#: Spotlight's test thresholds (MRR at concentration 1e-3, seed 42).
SYNTHETIC_THRESHOLDS = {"pooling": 0.18, "cnn": 0.65, "cnn-dilated": 0.65, "lstm": 0.61,
                        "mixture": 0.3}

#: MovieLens settings: one configuration for every representation and both systems (not
#: tuned per system; the CNN has Spotlight's best searched structure, 3 dilated ReLU
#: layers with residual connections).
MOVIELENS = {
    "pooling": dict(representation="pooling"),
    "cnn": dict(representation=("cnn", dict(kernel_width=3, dilation=(1, 2, 4),
                                            num_layers=3, nonlinearity="relu"))),
    "lstm": dict(representation="lstm"),
    "mixture": dict(representation="mixture"),
}
MOVIELENS_COMMON = dict(loss="adaptive_hinge", embedding_dim=32, learning_rate=1e-2, l2=0.0,
                        batch_size=32, n_iter=10)
SEQUENCE_ARGS = dict(max_sequence_length=200, min_sequence_length=20, step_size=200)


@dataclass
class Result:
    """One fit of one system."""

    mrr: float
    fit_seconds: float
    fit_cpu: float
    eval_seconds: float
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- systems

class System:
    """A Spotlight-API package: its modules, by name."""

    def __init__(self, name: str, modules: dict) -> None:
        self.name = name
        self.m = modules

    def representation(self, spec, num_items: int, embedding_dim: int):
        if isinstance(spec, str):
            return spec
        kind, arguments = spec
        assert kind == "cnn"
        return self.m["CNNNet"](num_items, embedding_dim=embedding_dim, **arguments)

    def model(self, arguments: dict, num_items: int, random_state, threads: int):
        arguments = dict(arguments)
        arguments.pop("num_interactions", None)
        representation = self.representation(arguments.pop("representation"), num_items,
                                             arguments["embedding_dim"])
        if not isinstance(representation, str):
            arguments.pop("embedding_dim")
        if self.name == "hybridrec":
            arguments["num_threads"] = threads
        return self.m["ImplicitSequenceModel"](representation=representation,
                                               random_state=random_state, **arguments)


def hybridrec_system() -> System:
    from hybridrec.spotlight import cross_validation, evaluation, interactions
    from hybridrec.spotlight.datasets import synthetic
    from hybridrec.spotlight.sequence import implicit, representations
    return System("hybridrec", {
        "Interactions": interactions.Interactions,
        "split": cross_validation.user_based_train_test_split,
        "generate_sequential": synthetic.generate_sequential,
        "sequence_mrr_score": evaluation.sequence_mrr_score,
        "ImplicitSequenceModel": implicit.ImplicitSequenceModel,
        "CNNNet": representations.CNNNet,
    })


def spotlight_system(path: Path | None, threads: int) -> System | None:
    if path is None:
        print("note: no --spotlight-path: Spotlight's rows are absent", file=sys.stderr)
        return None
    sys.path.insert(0, str(Path(path).resolve()))
    try:
        import torch
        from spotlight import cross_validation, evaluation, interactions
        from spotlight.datasets import synthetic
        from spotlight.sequence import implicit, representations
    except ImportError as error:
        print(f"note: Spotlight is not importable from {path} ({error}); its rows are "
              "absent", file=sys.stderr)
        return None
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", message=".*nn.functional.tanh is deprecated.*")
    return System("spotlight", {
        "Interactions": interactions.Interactions,
        "split": cross_validation.user_based_train_test_split,
        "generate_sequential": synthetic.generate_sequential,
        "sequence_mrr_score": evaluation.sequence_mrr_score,
        "ImplicitSequenceModel": implicit.ImplicitSequenceModel,
        "CNNNet": representations.CNNNet,
        "torch": torch,
    })


# -------------------------------------------------------------------------------- data

def movielens_arrays(data_dir: Path, name: str) -> dict[str, np.ndarray]:
    """User ids, item ids (>= 1; latest-small's movie ids renumbered 1..n in id order),
    ratings and timestamps, in file order."""
    if name == "ml-100k":
        frame = pd.read_csv(data_dir / "ml-100k" / "u.data", sep="\t", header=None,
                            names=["user", "item", "rating", "timestamp"])
    else:
        frame = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv")
        frame.columns = ["user", "item", "rating", "timestamp"]
        frame["item"] = pd.factorize(frame["item"], sort=True)[0] + 1
    return {"user_ids": frame["user"].to_numpy(np.int32),
            "item_ids": frame["item"].to_numpy(np.int32),
            "ratings": frame["rating"].to_numpy(np.float32),
            "timestamps": frame["timestamp"].to_numpy(np.int64)}


def synthetic_data(system: System, seed: int, num_interactions: int):
    rs = np.random.RandomState(seed)
    data = system.m["generate_sequential"](num_users=100, num_items=100,
                                           num_interactions=num_interactions,
                                           concentration_parameter=1e-3, order=2,
                                           random_state=rs)
    train, test = system.m["split"](data, random_state=rs)
    return (train.to_sequence(max_sequence_length=10, step_size=None),
            test.to_sequence(max_sequence_length=10, step_size=None), rs)


def movielens_data(system: System, arrays: dict, seed: int):
    data = system.m["Interactions"](arrays["user_ids"], arrays["item_ids"],
                                    ratings=arrays["ratings"],
                                    timestamps=arrays["timestamps"])
    rs = np.random.RandomState(seed)
    train, rest = system.m["split"](data, random_state=rs)
    test, validation = system.m["split"](rest, test_percentage=0.5, random_state=rs)
    return (train.to_sequence(**SEQUENCE_ARGS), test.to_sequence(**SEQUENCE_ARGS),
            np.random.RandomState(seed + 1000))


# ---------------------------------------------------------------------------- running

def fit_and_score(system: System, arguments: dict, train, test, random_state,
                  threads: int) -> Result:
    model = system.model(arguments, train.num_items, random_state, threads)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(train)
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    mrr = float(np.mean(system.m["sequence_mrr_score"](model, test)))
    return Result(mrr, fit_seconds, fit_cpu, time.perf_counter() - start)


def warm_up(system: System, threads: int) -> None:
    """Compile (or load from numba's cache) every kernel before the timed fits."""
    train, test, rs = synthetic_data(system, 0, 2000)
    for name in ("pooling", "cnn-dilated", "lstm", "mixture"):
        arguments = dict(SYNTHETIC_COMMON, **SYNTHETIC[name])
        arguments["n_iter"] = 1
        fit_and_score(system, arguments, train, test, rs, threads)
        fit_and_score(system, dict(arguments, loss="adaptive_hinge"), train, test, rs,
                      threads)


def run_spotlight_protocols(args, systems: list[System]) -> dict:
    results: dict = {}
    arrays = {name: movielens_arrays(args.data_dir, name) for name in args.datasets
              if name != "synthetic"}
    for round_no in range(args.repeats):
        seed = args.first_seed + round_no
        load = os.getloadavg()[0]
        print(f"round {round_no + 1}/{args.repeats} (seed {seed}), load {load:.1f}",
              file=sys.stderr, flush=True)
        order = systems if round_no % 2 == 0 else systems[::-1]
        for dataset in args.datasets:
            configs = SYNTHETIC if dataset == "synthetic" else MOVIELENS
            for name in args.representations + (["cnn-dilated"] if dataset == "synthetic"
                                                and "cnn" in args.representations else []):
                if name not in configs:
                    continue
                for system in order:
                    if dataset == "synthetic":
                        arguments = dict(SYNTHETIC_COMMON, **configs[name])
                        train, test, rs = synthetic_data(
                            system, seed, configs[name].get("num_interactions", 10000))
                    else:
                        arguments = dict(MOVIELENS_COMMON, **configs[name])
                        train, test, rs = movielens_data(system, arrays[dataset], seed)
                    result = fit_and_score(system, arguments, train, test, rs, args.threads)
                    result.extra["load"] = os.getloadavg()[0]
                    results.setdefault((dataset, name, system.name), []).append(result)
                    print(f"  {dataset:16s} {name:12s} {system.name:10s} MRR {result.mrr:.4f}"
                          f"  fit {result.fit_seconds:7.2f} s (cpu {result.fit_cpu:7.2f})"
                          f"  eval {result.eval_seconds:6.2f} s  load "
                          f"{result.extra['load']:.1f}", file=sys.stderr, flush=True)
    return results


# ------------------------------------------------------------------------------ SASRec

def leave_last_out_frames(data_dir: Path, name: str):
    arrays = movielens_arrays(data_dir, name)
    frame = pd.DataFrame({"user": arrays["user_ids"], "item": arrays["item_ids"],
                          "timestamp": arrays["timestamps"]})
    frame = frame.sort_values(["user", "timestamp"], kind="stable")
    last = frame.groupby("user").tail(1)
    train = frame.drop(last.index)
    return frame, train, last


def sasrec_mrr(train: pd.DataFrame, last: pd.DataFrame, threads: int, epochs: int,
               seed: int) -> Result:
    import torch
    from rectools import Columns
    from rectools.dataset import Dataset
    from rectools.models import SASRecModel
    torch.set_num_threads(threads)
    interactions = pd.DataFrame({
        Columns.User: train["user"].to_numpy(), Columns.Item: train["item"].to_numpy(),
        Columns.Weight: 1.0,
        Columns.Datetime: pd.to_datetime(train["timestamp"].to_numpy(), unit="s")})
    dataset = Dataset.construct(interactions)
    model = SASRecModel(epochs=epochs, deterministic=True, verbose=0)
    torch.manual_seed(seed)
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(dataset)
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    users = last["user"].to_numpy()
    n_items = dataset.item_id_map.size
    recommendations = model.recommend(users, dataset, k=n_items, filter_viewed=True)
    recommendations = recommendations.merge(last[["user", "item"]].rename(
        columns={"user": Columns.User, "item": Columns.Item}), on=[Columns.User, Columns.Item])
    reciprocal = np.zeros(len(users))
    position = dict(zip(recommendations[Columns.User], recommendations[Columns.Rank],
                        strict=True))
    for k, user in enumerate(users):
        if user in position:
            reciprocal[k] = 1.0 / position[user]
    return Result(float(reciprocal.mean()), fit_seconds, fit_cpu, time.perf_counter() - start)


def hybridrec_leave_last_out(frame: pd.DataFrame, threads: int, seed: int, **kwargs) -> Result:
    from hybridrec.sequence import (
        SequenceModel,
        leave_last_out,
        sequence_metrics,
        sequences_from_frame,
    )
    train, test = leave_last_out(sequences_from_frame(frame, "user", "item", "timestamp"))
    model = SequenceModel(random_state=seed, num_threads=threads, **kwargs)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(train)
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    metrics = sequence_metrics(model, train, test, num_threads=threads)
    return Result(metrics["mrr"], fit_seconds, fit_cpu, time.perf_counter() - start)


#: hybridrec models of the leave-last-out comparison.
LEAVE_LAST_OUT = {
    "SequenceModel (pooling, defaults)": {},
    "SequenceModel (lstm)": dict(representation="lstm", optimizer="adam",
                                 learning_rate=5e-3, reduction="mean", loss="adaptive_hinge",
                                 n_negatives=5, batch_size=32, epochs=20),
}


def run_leave_last_out(args) -> dict:
    results: dict = {}
    for round_no in range(args.repeats):
        seed = args.first_seed + round_no
        for dataset in [d for d in args.datasets if d != "synthetic"]:
            frame, train, last = leave_last_out_frames(args.data_dir, dataset)
            runs = [(name, functools.partial(hybridrec_leave_last_out, frame, args.threads,
                                             seed, **kw))
                    for name, kw in LEAVE_LAST_OUT.items()]
            runs.append(("RecTools SASRec", functools.partial(
                sasrec_mrr, train, last, args.threads, args.sasrec_epochs, seed)))
            for name, run in (runs if round_no % 2 == 0 else runs[::-1]):
                try:
                    result = run()
                except ImportError as error:
                    print(f"note: {name} skipped ({error})", file=sys.stderr)
                    continue
                results.setdefault((dataset, name), []).append(result)
                print(f"  leave-last-out {dataset:16s} {name:36s} MRR {result.mrr:.4f}  fit "
                      f"{result.fit_seconds:7.2f} s (cpu {result.fit_cpu:7.2f})",
                      file=sys.stderr, flush=True)
    return results


# ----------------------------------------------------------------------------- report

def _median(results: list[Result], attribute: str) -> float:
    return statistics.median(getattr(r, attribute) for r in results)


def _paired_difference(ours: list[Result], theirs: list[Result]) -> str:
    """Mean of the per-round MRR differences (same split and seed) +- its standard
    error."""
    differences = [a.mrr - b.mrr for a, b in zip(ours, theirs, strict=False)]
    if len(differences) < 2:
        return f"{differences[0]:+.4f}" if differences else ""
    error = statistics.stdev(differences) / len(differences) ** 0.5
    return f"{statistics.fmean(differences):+.4f} +- {error:.4f}"


def merge_results(results: dict, paths: list[Path]) -> None:
    """Add the Spotlight-protocol rounds stored by earlier ``--json`` runs."""
    for path in paths:
        stored = json.loads(Path(path).read_text())["spotlight_protocols"]
        for key, runs in stored.items():
            results.setdefault(tuple(key.split("/")), []).extend(Result(**r) for r in runs)


def report(results: dict, leave_last_out: dict, args) -> None:
    rows = []
    keys = sorted({(d, n) for d, n, _ in results},
                  key=lambda k: (args.datasets.index(k[0]), k[1]))
    for dataset, name in keys:
        ours = results.get((dataset, name, "hybridrec"))
        theirs = results.get((dataset, name, "spotlight"))
        row = [dataset, name]
        for runs in (ours, theirs):
            if runs is None:
                row += ["absent", "", ""]
            else:
                row += [f"{_median(runs, 'mrr'):.4f}",
                        f"{_median(runs, 'fit_seconds'):.2f}",
                        f"{_median(runs, 'fit_cpu'):.2f}"]
        if ours and theirs:
            row.append(f"{_median(ours, 'fit_seconds') / _median(theirs, 'fit_seconds'):.3f}")
            row.append(_paired_difference(ours, theirs))
            row.append(" ".join(f"{a.mrr:.3f}/{b.mrr:.3f}" for a, b in
                                zip(ours, theirs, strict=False)))
        else:
            row += ["", "", ""]
        rows.append(row)
    print(format_table(["data", "representation", "hybridrec MRR", "fit s", "cpu s",
                        "Spotlight MRR", "fit s", "cpu s", "time ratio",
                        "MRR difference (mean +- se)",
                        "per round MRR (hybridrec/Spotlight)"], rows, args.markdown))
    if leave_last_out:
        print()
        rows = [[dataset, name, f"{_median(runs, 'mrr'):.4f}",
                 f"{_median(runs, 'fit_seconds'):.2f}", f"{_median(runs, 'fit_cpu'):.2f}",
                 " ".join(f"{r.mrr:.4f}" for r in runs)]
                for (dataset, name), runs in leave_last_out.items()]
        print(format_table(["leave-last-out", "model", "MRR", "fit s", "cpu s",
                            "per round MRR"], rows, args.markdown))
    loads = [r.extra["load"] for runs in results.values() for r in runs]
    if loads:
        print(f"\n1-minute load average during the runs: min {min(loads):.1f}, median "
              f"{statistics.median(loads):.1f}, max {max(loads):.1f} "
              f"({os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--spotlight-path", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=42,
                        help="seed of the first round (round r uses first_seed + r)")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="--json files of earlier runs whose rounds join the report")
    parser.add_argument("--datasets", default="synthetic,ml-100k,ml-latest-small")
    parser.add_argument("--representations", default="pooling,cnn,lstm,mixture")
    parser.add_argument("--sasrec", action="store_true",
                        help="also run the leave-last-out comparison with RecTools' SASRec")
    parser.add_argument("--sasrec-only", action="store_true")
    parser.add_argument("--sasrec-epochs", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    args.datasets = args.datasets.split(",")
    args.representations = args.representations.split(",")
    print_banner(args.markdown)
    load_before = os.getloadavg()
    results: dict = {}
    if not args.sasrec_only:
        systems = [hybridrec_system()]
        peer = spotlight_system(args.spotlight_path, args.threads)
        if peer is not None:
            systems.append(peer)
            print(f"Spotlight from {args.spotlight_path}, torch {peer.m['torch'].__version__}"
                  f" ({args.threads} threads)")
        warm_up(systems[0], args.threads)
        results = run_spotlight_protocols(args, systems)
    leave_last_out = run_leave_last_out(args) if (args.sasrec or args.sasrec_only) else {}
    if args.json is not None:
        args.json.write_text(json.dumps({
            "spotlight_protocols": {"/".join(k): [r.__dict__ for r in v]
                                    for k, v in results.items()},
            "leave_last_out": {"/".join(k): [r.__dict__ for r in v]
                               for k, v in leave_last_out.items()},
        }, indent=1))
    merge_results(results, args.merge)
    print(f"load average before: {load_before[0]:.1f}, after: {os.getloadavg()[0]:.1f}")
    report(results, leave_last_out, args)


if __name__ == "__main__":
    main()
