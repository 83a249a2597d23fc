"""Fit time of the Spotlight front door vs Spotlight itself, on MovieLens 100K.

Both systems fit Spotlight's test configurations (10 epochs, batch 1024; MovieLens 100K
80/20 random split with RandomState(42)) in one process, interleaved in rounds; the
table gives median seconds per 10-epoch fit and the ratio. Spotlight runs when
``spotlight`` and ``torch`` are importable (e.g. ``--spotlight-path`` pointing at a
Spotlight checkout in an environment with PyTorch); otherwise only hybridrec is timed.
PyTorch and hybridrec both use one thread.

    python benchmarks/bench_spotlight.py --repeats 5 [--spotlight-path ../peers/spotlight]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _common import (
    add_data_dir_argument,
    fmt_ratio,
    fmt_seconds,
    format_table,
    print_banner,
    time_interleaved,
)

from hybridrec.spotlight.cross_validation import random_train_test_split
from hybridrec.spotlight.datasets.movielens import get_movielens_dataset
from hybridrec.spotlight.factorization.explicit import ExplicitFactorizationModel
from hybridrec.spotlight.factorization.implicit import ImplicitFactorizationModel

#: (name, implicit?, constructor arguments): Spotlight's test settings.
CONFIGS = [
    ("implicit bpr", True, dict(loss="bpr", learning_rate=1e-2, l2=1e-6)),
    ("implicit adaptive_hinge", True, dict(loss="adaptive_hinge", learning_rate=1e-2,
                                           l2=1e-6)),
    ("explicit regression", False, dict(loss="regression", learning_rate=1e-3, l2=1e-5)),
]


def _spotlight(path: Path | None):
    """Spotlight's modules and its Interactions class, or None when not importable."""
    if path is not None:
        sys.path.insert(0, str(path))
    try:
        import torch
        from spotlight.factorization.explicit import ExplicitFactorizationModel as Explicit
        from spotlight.factorization.implicit import ImplicitFactorizationModel as Implicit
        from spotlight.interactions import Interactions
    except ImportError as error:
        print(f"note: Spotlight is not importable ({error}); its rows are skipped",
              file=sys.stderr)
        return None
    torch.set_num_threads(1)
    return Implicit, Explicit, Interactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spotlight-path", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print_banner(args.markdown)

    data = get_movielens_dataset("100K", path=args.data_dir / "ml-100k")
    train, _ = random_train_test_split(data, random_state=np.random.RandomState(42))
    peer = _spotlight(args.spotlight_path)
    peer_train = None
    if peer is not None:
        peer_train = peer[2](train.user_ids, train.item_ids, ratings=train.ratings,
                             timestamps=train.timestamps, num_users=train.num_users,
                             num_items=train.num_items)

    steps = {}
    for name, implicit, arguments in CONFIGS:
        ours = ImplicitFactorizationModel if implicit else ExplicitFactorizationModel

        def fit_ours(cls=ours, arguments=arguments):
            cls(n_iter=10, batch_size=1024, random_state=np.random.RandomState(0),
                **arguments).fit(train)

        steps[(name, "hybridrec")] = fit_ours
        if peer is not None:
            theirs = peer[0] if implicit else peer[1]

            def fit_theirs(cls=theirs, arguments=arguments):
                cls(n_iter=10, batch_size=1024, random_state=np.random.RandomState(0),
                    **arguments).fit(peer_train)

            steps[(name, "spotlight")] = fit_theirs
    timings = time_interleaved(steps, args.repeats)
    rows = []
    for name, _, _ in CONFIGS:
        ours = timings[(name, "hybridrec")].median
        theirs = timings.get((name, "spotlight"))
        theirs = None if theirs is None else theirs.median
        rows.append([name, fmt_seconds(ours), fmt_seconds(theirs), fmt_ratio(ours, theirs)])
    print(format_table(["config (10 epochs)", "hybridrec s", "Spotlight s",
                        "hybridrec / Spotlight"], rows, args.markdown))


if __name__ == "__main__":
    main()
