"""Hyperparameter search with successive halving and early stopping, hybridrec + NumPy only.

What it shows
    How much precision@10 a small search gains over default hyperparameters on
    MovieLens-100K. Nothing but ``hybridrec`` and NumPy (no search library): random
    configurations, successive halving with epochs as the resource, and early stopping on a
    validation split.

Protocol
    1. Data: ``u1.base`` / ``u1.test``, every rating a positive. ``u1.base`` is split per
       user (``hybridrec.data.per_user_train_test_split``, 20% of each user's items) into
       a search-train and a validation set; ``u1.test`` is not looked at until step 4.
    2. ``--configs`` random configurations of ``hybridrec.LightFM(loss="warp")``:
       ``learning_rate`` log-uniform in [0.005, 0.2], ``no_components`` in {16, 32, 64,
       128}, ``item_alpha`` and ``user_alpha`` each 0 or log-uniform in [1e-7, 1e-4].
    3. Successive halving: every live configuration trains up to the rung's epoch budget
       (``--min-epochs`` x ``--eta``^rung, at most ``--max-epochs``), continuing its
       model with ``fit_partial`` and scoring validation precision@10 after every epoch;
       a configuration whose validation score has not improved for ``--patience`` epochs
       stops early (it keeps its best score and epoch). After each rung the best
       1/``--eta`` go on.
    4. The winner is retrained on all of ``u1.base`` for its best epoch count and scored
       on ``u1.test`` (train items excluded), as are two baselines trained on ``u1.base``
       for 10 epochs: ``LightFM()`` with all defaults (logistic loss) and
       ``LightFM(loss="warp")``. Scores are means over ``--seeds`` seeds.

Run from the repository root (about 1-3 minutes)::

    python benchmarks/hyperparameter_search.py
    python benchmarks/hyperparameter_search.py --configs 9 --max-epochs 9 --seeds 1   # quick
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from _common import add_data_dir_argument, format_table, print_banner
from _workloads import load_ml100k_workload

import hybridrec
from hybridrec.data import per_user_train_test_split
from hybridrec.metrics import precision_at_k

K = 10
DEFAULT_EPOCHS = 10


@dataclass
class Trial:
    """One configuration and its training state.

    Parameters
    ----------
    params : dict
        ``hybridrec.LightFM`` constructor arguments.
    """

    params: dict[str, Any]
    model: Any = None
    epochs: int = 0
    scores: list[float] = field(default_factory=list)
    stopped: bool = False

    @property
    def best(self) -> float:
        """Best validation precision@10 so far (-1 before any epoch)."""
        return max(self.scores, default=-1.0)

    @property
    def best_epoch(self) -> int:
        """Epoch count of the best validation score."""
        return int(np.argmax(self.scores)) + 1


def sample_params(rng: np.random.Generator) -> dict[str, Any]:
    """Draw one configuration of the search space.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    dict
    """
    def alpha() -> float:
        return 0.0 if rng.random() < 0.3 else float(10 ** rng.uniform(-7, -4))

    return {"loss": "warp",
            "learning_rate": float(10 ** rng.uniform(np.log10(0.005), np.log10(0.2))),
            "no_components": int(rng.choice([16, 32, 64, 128])),
            "item_alpha": alpha(), "user_alpha": alpha()}


def validation_precision(model: Any, valid: sp.coo_matrix, train: sp.coo_matrix,
                         threads: int) -> float:
    """Mean precision@10 on ``valid`` with ``train`` excluded.

    Parameters
    ----------
    model : hybridrec.LightFM
    valid, train : scipy.sparse.coo_matrix
    threads : int

    Returns
    -------
    float
    """
    return float(precision_at_k(model, valid, train, k=K, num_threads=threads).mean())


def advance(trial: Trial, budget: int, train: sp.coo_matrix, valid: sp.coo_matrix,
            patience: int, threads: int, seed: int) -> None:
    """Train ``trial`` one epoch at a time up to ``budget`` epochs or an early stop.

    Parameters
    ----------
    trial : Trial
    budget : int
        Total epochs the trial may have reached after this call.
    train, valid : scipy.sparse.coo_matrix
    patience : int
        Stop after this many epochs without a better validation score.
    threads : int
    seed : int
    """
    if trial.model is None:
        trial.model = hybridrec.LightFM(random_state=seed, **trial.params)
    while trial.epochs < budget and not trial.stopped:
        try:
            trial.model.fit_partial(train, epochs=1, num_threads=threads)
        except ValueError:  # diverged: a too large learning rate
            trial.stopped = True
            break
        trial.epochs += 1
        trial.scores.append(validation_precision(trial.model, valid, train, threads))
        trial.stopped = trial.epochs - trial.best_epoch >= patience


def successive_halving(trials: list[Trial], train: sp.coo_matrix, valid: sp.coo_matrix,
                       args: argparse.Namespace) -> tuple[Trial, list[list[str]]]:
    """Run the rungs; return the best trial and one summary row per rung.

    Parameters
    ----------
    trials : list of Trial
    train, valid : scipy.sparse.coo_matrix
    args : argparse.Namespace
        ``min_epochs``, ``max_epochs``, ``eta``, ``patience``, ``threads``.

    Returns
    -------
    best : Trial
    rows : list of list of str
    """
    live, budget, rung, rows = list(trials), args.min_epochs, 0, []
    while True:
        start = time.perf_counter()
        for trial in live:
            advance(trial, budget, train, valid, args.patience, args.threads, seed=0)
        live.sort(key=lambda t: t.best, reverse=True)
        rows.append([str(rung), str(len(live)), str(budget),
                     str(sum(t.stopped for t in live)), f"{live[0].best:.4f}",
                     f"{time.perf_counter() - start:.1f}"])
        keep = max(1, len(live) // args.eta)
        if budget >= args.max_epochs or keep == 1:
            return live[0], rows
        live = [t for t in live[:keep] if not t.stopped] or live[:1]
        budget, rung = min(budget * args.eta, args.max_epochs), rung + 1


def test_precision(params: dict[str, Any], epochs: int, train: sp.coo_matrix,
                   test: sp.coo_matrix, seeds: int, threads: int) -> tuple[float, float]:
    """Mean and standard deviation over seeds of test precision@10.

    Parameters
    ----------
    params : dict
        Constructor arguments.
    epochs : int
    train, test : scipy.sparse.coo_matrix
    seeds : int
    threads : int

    Returns
    -------
    mean, std : float
    """
    values = []
    for seed in range(seeds):
        model = hybridrec.LightFM(random_state=seed, **params)
        model.fit(train, epochs=epochs, num_threads=threads)
        values.append(float(precision_at_k(model, test, train, k=K,
                                           num_threads=threads).mean()))
    return float(np.mean(values)), float(np.std(values))


def describe(params: dict[str, Any]) -> str:
    """Short text of a configuration.

    Parameters
    ----------
    params : dict

    Returns
    -------
    str
    """
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options.

    Parameters
    ----------
    argv : list of str, optional

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=27, help="random configurations")
    parser.add_argument("--min-epochs", type=int, default=3, help="epochs of the first rung")
    parser.add_argument("--max-epochs", type=int, default=40, help="epoch cap")
    parser.add_argument("--eta", type=int, default=3, help="keep 1/eta per rung")
    parser.add_argument("--patience", type=int, default=4, help="early-stopping patience")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the final comparison")
    parser.add_argument("--threads", type=int, default=1,
                        help="num_threads (1: reproducible; default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search")
    parser.add_argument("--markdown", action="store_true")
    add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.eta < 2 or args.configs < 1 or args.min_epochs < 1:
        parser.error("need --eta >= 2, --configs >= 1, --min-epochs >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    """Search, then compare the winner with the defaults on u1.test.

    Parameters
    ----------
    argv : list of str, optional
    """
    args = parse_args(argv)
    print_banner(args.markdown)
    workload = load_ml100k_workload(args.data_dir)
    base, test = workload.train.tocoo(), workload.test.tocoo()
    search_train, valid = per_user_train_test_split(base, test_fraction=0.2,
                                                    random_state=args.seed)
    rng = np.random.default_rng(args.seed)
    trials = [Trial(sample_params(rng)) for _ in range(args.configs)]
    start = time.perf_counter()
    best, rows = successive_halving(trials, search_train, valid, args)
    print(f"successive halving over {args.configs} configurations "
          f"({time.perf_counter() - start:.0f} s, {sum(t.epochs for t in trials)} epochs):")
    print(format_table(["rung", "configs", "epoch budget", "stopped early",
                        "best valid P@10", "seconds"], rows, args.markdown))
    print(f"\nwinner: {describe(best.params)}; best validation P@10 {best.best:.4f} "
          f"after {best.best_epoch} epochs\n")
    candidates = [("defaults: LightFM(), 10 epochs", {}, DEFAULT_EPOCHS),
                  ('defaults with loss="warp", 10 epochs', {"loss": "warp"}, DEFAULT_EPOCHS),
                  (f"search winner, {best.best_epoch} epochs", best.params, best.best_epoch)]
    results = [(name, *test_precision(params, epochs, base, test, args.seeds, args.threads))
               for name, params, epochs in candidates]
    warp_default = results[1][1]
    table = [[name, f"{mean:.4f}", f"{std:.4f}", f"{mean - warp_default:+.4f}"]
             for name, mean, std in results]
    print(f"test P@10 on u1.test (trained on u1.base), mean/std over {args.seeds} seeds:")
    print(format_table(["model", "test P@10", "std", "gain over warp defaults"], table,
                       args.markdown))


if __name__ == "__main__":
    main()
