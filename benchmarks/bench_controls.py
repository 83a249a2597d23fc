"""Popularity and diversity controls of ``Recommender.recommend``: the trade-off.

One WARP model (64 components, 15 epochs) on the MovieLens-1M-derived RecEraser split;
then for every control setting, top-10 lists for every test user (training items left
out) and, against the test split:

- precision@10;
- coverage@10: distinct items recommended / items in the catalogue;
- popularity@10: mean over the lists of the items' popularity (share of training users
  who interacted with the item);
- intra-list similarity: mean pairwise cosine of the listed items' representations.

Controls: ``item_biases=False``; ``popularity_penalty`` in a sweep; ``diversity`` (MMR)
in a sweep. Writes a Markdown table and ``plots/controls.png`` (precision vs coverage,
popularity and intra-list similarity; needs matplotlib).

Run from the repository root::

    python benchmarks/bench_controls.py [--threads 2] [--epochs 15]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import add_data_dir_argument, format_table, load_ml1m_receraser, print_banner

from hybridrec import Recommender

PENALTIES = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
DIVERSITIES = (0.1, 0.2, 0.3, 0.5, 0.7)


def _frame(matrix) -> pd.DataFrame:
    coo = matrix.tocoo()
    return pd.DataFrame({"user_id": coo.row, "item_id": coo.col})


def _measure(rec: Recommender, test: pd.DataFrame, unit: np.ndarray,
             popularity: np.ndarray, **controls) -> dict[str, float]:
    users = test["user_id"].unique()
    lists = rec.recommend(users, k=10, **controls)
    hits = lists.merge(test.rename(columns={"user_id": "user", "item_id": "item"}),
                       on=["user", "item"])
    items = rec.item_mapper_.transform(lists["item"]).reshape(len(users), 10)
    rows = unit[items]
    similarity = np.einsum("uid,ujd->uij", rows, rows)
    upper = np.triu_indices(10, 1)
    return {"precision@10": len(hits) / (10 * len(users)),
            "coverage@10": len(np.unique(items)) / unit.shape[0],
            "popularity@10": float(popularity[items].mean()),
            "intra-list similarity": float(similarity[:, upper[0], upper[1]].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--plot", type=Path,
                        default=Path(__file__).parent / "plots" / "controls.png")
    args = parser.parse_args()
    print_banner(markdown=True)
    train, test = load_ml1m_receraser(args.data_dir)
    rec = Recommender(loss="warp", no_components=64, epochs=args.epochs,
                      num_threads=args.threads, random_state=0).fit(_frame(train))
    snapshot = rec.scoring_snapshot()
    vectors = snapshot.item_vectors
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    popularity = snapshot.popularity
    test_frame = _frame(test)
    settings = [("model score (no control)", {})]
    settings.append(("item_biases=False", {"item_biases": False}))
    settings += [(f"popularity_penalty={p}", {"popularity_penalty": p}) for p in PENALTIES]
    settings += [(f"diversity={d}", {"diversity": d}) for d in DIVERSITIES]
    results = []
    for label, controls in settings:
        results.append((label, controls, _measure(rec, test_frame, unit, popularity,
                                                  **controls)))
        print(label, results[-1][2], flush=True)
    headers = ["setting", "precision@10", "coverage@10", "popularity@10",
               "intra-list similarity"]
    rows = [[label] + [f"{values[h]:.4f}" for h in headers[1:]]
            for label, _, values in results]
    print(format_table(headers, rows, markdown=True))
    _plot(results, args.plot)


def _plot(results: list, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    groups = {"popularity_penalty": [], "diversity": []}
    for label, controls, values in results:
        for name in groups:
            if name in controls or not controls:
                groups[name].append(values)
    for axis, x in zip(axes, ("coverage@10", "popularity@10", "intra-list similarity"),
                       strict=True):
        for name, values in groups.items():
            axis.plot([v[x] for v in values], [v["precision@10"] for v in values], "o-",
                      label=f"{name} sweep")
        no_bias = next(v for label, c, v in results if c.get("item_biases") is False)
        axis.plot(no_bias[x], no_bias["precision@10"], "s", label="item_biases=False")
        base = results[0][2]
        axis.plot(base[x], base["precision@10"], "k*", markersize=12, label="model score")
        axis.set_xlabel(x)
        axis.set_ylabel("precision@10")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle("recommend() controls on MovieLens-1M (RecEraser split), WARP 64")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
