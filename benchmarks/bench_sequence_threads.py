"""One thread against two for the sequence models: training loss per epoch, fit time and
the synchronous epochs' late starts, on Spotlight's MovieLens protocol.

With several threads the CNN, LSTM and mixture share every minibatch between the threads
(``hybridrec.kernels.sequence_sync``), so their loss curves should be the one-thread
curves up to float summation order; pooling trains Hogwild. The fits of both thread
counts alternate in one process (the order flips every round), and the report gives
median fit times and the one-thread / two-thread ratio.

    python benchmarks/bench_sequence_threads.py --dataset ml-100k --rounds 5
    python benchmarks/bench_sequence_threads.py --representations lstm,mixture --load 2

``--load N`` runs N CPU-bound processes beside the fits (a loaded machine), for as long
as the script runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import statistics
import time

import numpy as np
from _common import add_data_dir_argument, format_table, print_banner
from bench_sequence import MOVIELENS_COMMON, hybridrec_system, movielens_arrays, movielens_data

REPRESENTATIONS = ("pooling", "cnn", "lstm", "mixture")


def _spin() -> None:
    while True:
        pass


def fit(system, representation: str, train, seed: int, threads: int) -> dict:
    """One fit; its per-epoch losses (``fit(verbose=True)``), seconds and late starts."""
    arguments = dict(MOVIELENS_COMMON, representation=representation)
    model = system.model(arguments, train.num_items, np.random.RandomState(seed), threads)
    printed = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        model.fit(train, verbose=True)
    seconds = time.perf_counter() - start
    losses = [float(line.split()[-1]) for line in printed.getvalue().splitlines()
              if "loss" in line]
    network = model._network            # benchmark-only: the engine's diagnostics
    return {"losses": losses, "seconds": seconds, "late_starts": network.late_starts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--dataset", default="ml-100k",
                        choices=["ml-100k", "ml-latest-small"])
    parser.add_argument("--representations", default=",".join(REPRESENTATIONS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--split-seed", type=int, default=42)
    parser.add_argument("--load", type=int, default=0,
                        help="CPU-bound processes to run beside the fits")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print_banner(args.markdown)
    representations = [r for r in args.representations.split(",") if r]
    system = hybridrec_system()
    train, _, _ = movielens_data(system, movielens_arrays(args.data_dir, args.dataset),
                                 args.split_seed)
    for representation in representations:     # compile (or load numba's cache) first
        fit(system, representation, train, 0, 1)
        fit(system, representation, train, 0, 2)
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for hog in hogs:
        hog.start()
    results: dict = {}
    try:
        for round_ in range(args.rounds):
            for representation in representations:
                order = (1, 2) if round_ % 2 == 0 else (2, 1)
                for threads in order:
                    result = fit(system, representation, train, 1000 + round_, threads)
                    results.setdefault((representation, threads), []).append(result)
    finally:
        for hog in hogs:
            hog.terminate()
    rows = []
    for representation in representations:
        one, two = results[(representation, 1)], results[(representation, 2)]
        epoch_loss = {t: np.mean([r["losses"] for r in results[(representation, t)]], axis=0)
                      for t in (1, 2)}
        fit_1 = statistics.median(r["seconds"] for r in one)
        fit_2 = statistics.median(r["seconds"] for r in two)
        n_epochs = len(epoch_loss[1])
        marks = sorted({0, 1, 2, n_epochs - 1})
        rows.append([
            representation,
            " / ".join(f"{epoch_loss[1][e]:.3f}" for e in marks),
            " / ".join(f"{epoch_loss[2][e]:.3f}" for e in marks),
            f"{np.max(np.abs(epoch_loss[2] - epoch_loss[1])):.4f}",
            f"{fit_1:.3f}", f"{fit_2:.3f}", f"{fit_1 / fit_2:.2f}",
            " ".join(str(r["late_starts"]) for r in two),
        ])
    print(f"\n{args.dataset}, split {args.split_seed}, {args.rounds} rounds (model seeds "
          f"1000..), {args.load} CPU-bound processes beside; mean loss at epochs "
          "1 / 2 / 3 / last")
    print(format_table(["representation", "loss 1 thread", "loss 2 threads",
                        "max |difference|", "fit 1t s", "fit 2t s", "1t / 2t",
                        "late starts (last epoch)"], rows, args.markdown))


if __name__ == "__main__":
    main()
