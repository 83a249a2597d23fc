"""``results.md`` and the PNG plots of ``run.py``, generated from the run's records.

Every number in the report comes from the records of one run (``run.py`` saves them as
JSON, and ``run.py --report-from FILE`` regenerates the report from such a file); none is
typed by hand. Plots need matplotlib (the ``bench`` extra); without it the report says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from _common import fmt_ratio, fmt_seconds, format_table

PLOTS = {
    "learning_curves.png": "Learning curves: precision@10 per epoch on train (dashed) and "
                           "test (solid), most threads",
    "time_vs_threads.png": "Seconds per epoch against threads (median over rounds)",
    "time_vs_size.png": "Seconds per epoch against training interactions, synthetic data",
}


def reference(system: str) -> str:
    """The LightFM system a system's ratios are against (same loss; BPR for implicit).

    Parameters
    ----------
    system : str

    Returns
    -------
    str
    """
    return f"lightfm {system.split()[1]}"


def _frame(results: dict[str, Any], kind: str) -> pd.DataFrame:
    return pd.DataFrame([r for r in results["records"] if r["kind"] == kind])


def _median(frame: pd.DataFrame, keys: list[str], column: str) -> dict[tuple, float]:
    if frame.empty or column not in frame:
        return {}
    series = frame.dropna(subset=[column]).groupby(keys)[column].median()
    return {k if isinstance(k, tuple) else (k,): float(v) for k, v in series.items()}


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- tables


def training_table(results: dict[str, Any], datasets: list[str]) -> str:
    """Seconds per epoch per (dataset, system, threads), ratios against LightFM.

    Parameters
    ----------
    results : dict
    datasets : list of str

    Returns
    -------
    str
        Markdown table.
    """
    fits = _frame(results, "fit")
    threads = results["settings"]["threads"]
    seconds = _median(fits, ["dataset", "system", "threads"], "epoch_seconds")
    headers = ["dataset", "system"]
    headers += [f"s/epoch {t}t" for t in threads] + [f"vs LightFM {t}t" for t in threads]
    headers += [f"speed-up {threads[0]}t->{threads[-1]}t", f"M updates/s {threads[-1]}t"]
    rows = []
    for dataset in datasets:
        n_train = results["datasets"][dataset]["n_train"]
        for system in results["settings"]["systems"]:
            ours = [seconds.get((dataset, system, t)) for t in threads]
            if all(v is None for v in ours):
                continue
            theirs = [seconds.get((dataset, reference(system), t)) for t in threads]
            last = ours[-1]
            rows.append([dataset, system, *[fmt_seconds(v) for v in ours],
                         *[fmt_ratio(a, b) for a, b in zip(ours, theirs, strict=True)],
                         fmt_ratio(ours[0], last),
                         "-" if not last else f"{n_train / last / 1e6:.2f}"])
    return format_table(headers, rows, markdown=True)


def _memory(results: dict[str, Any]) -> dict[tuple, float]:
    memory = _frame(results, "memory")
    if memory.empty or "peak_mib" not in memory:
        return {}
    memory = memory.dropna(subset=["peak_mib"])
    memory["above"] = memory["peak_mib"] - memory["baseline_mib"]
    return _median(memory, ["dataset", "system"], "above")


def quality_table(results: dict[str, Any], datasets: list[str]) -> str:
    """Accuracy (common evaluator), evaluation, top-k and memory per (dataset, system).

    Parameters
    ----------
    results : dict
    datasets : list of str

    Returns
    -------
    str
        Markdown table.
    """
    fits = _frame(results, "fit")
    keys = ["dataset", "system"]
    stats = {column: _median(fits, keys, column) for column in
             ("precision", "recall", "ndcg", "auc", "own_precision", "eval_seconds",
              "topk_seconds", "topk_users")}
    memory = _memory(results)
    headers = ["dataset", "system", "P@10", "R@10", "NDCG@10", "AUC", "own P@10",
               "eval s", "eval vs LFM", "top-10 s", "top-10 vs LFM", "users",
               "peak MiB", "peak vs LFM"]
    rows = []
    for dataset in datasets:
        for system in results["settings"]["systems"]:
            key, ref = (dataset, system), (dataset, reference(system))
            if key not in stats["precision"]:
                continue
            users = stats["topk_users"].get(key)
            rows.append([
                dataset, system,
                *[_cell(stats[m].get(key)) for m in ("precision", "recall", "ndcg", "auc",
                                                     "own_precision")],
                fmt_seconds(stats["eval_seconds"].get(key)),
                fmt_ratio(stats["eval_seconds"].get(key), stats["eval_seconds"].get(ref)),
                fmt_seconds(stats["topk_seconds"].get(key)),
                fmt_ratio(stats["topk_seconds"].get(key), stats["topk_seconds"].get(ref)),
                "-" if users is None else f"{int(users):,}",
                _cell(memory.get(key), 0), fmt_ratio(memory.get(key), memory.get(ref)),
            ])
    return format_table(headers, rows, markdown=True)


def datasets_table(results: dict[str, Any]) -> str:
    """One row per dataset: sizes, epochs, description.

    Parameters
    ----------
    results : dict

    Returns
    -------
    str
        Markdown table.
    """
    rows = [[name, f"{info['n_train']:,}", f"{info['n_test']:,}", str(info["epochs"]),
             info["description"]] for name, info in results["datasets"].items()]
    return format_table(["dataset", "train", "test", "epochs per fit", "description"], rows,
                        markdown=True)


def example_table(results: dict[str, Any]) -> str | None:
    """LightFM's StackExchange example (``bench_stackexchange.table_rows``), if it ran.

    Parameters
    ----------
    results : dict

    Returns
    -------
    str or None
    """
    from bench_stackexchange import HEADERS, table_rows

    records = [r for r in results["records"] if r["kind"] == "stackexchange"]
    return format_table(HEADERS, table_rows(records), markdown=True) if records else None


# --------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _grid(plt: Any, n: int) -> tuple[Any, list[Any]]:
    columns = min(n, 3)
    rows = -(-n // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows),
                                squeeze=False)
    flat = list(axes.ravel())
    for axis in flat[n:]:
        axis.set_visible(False)
    return figure, flat[:n]


def _colors(systems: list[str]) -> dict[str, str]:
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    return {s: palette[i % len(palette)] for i, s in enumerate(systems)}


def plot_learning_curves(plt: Any, results: dict[str, Any], path: Path) -> bool:
    """Precision@10 per epoch, train dashed and test solid, one panel per dataset."""
    curves = _frame(results, "curve")
    if curves.empty:
        return False
    datasets = list(dict.fromkeys(curves["dataset"]))
    colors = _colors(results["settings"]["systems"])
    figure, axes = _grid(plt, len(datasets))
    for axis, dataset in zip(axes, datasets, strict=True):
        for (system, split), part in curves[curves["dataset"] == dataset].groupby(
                ["system", "split"]):
            axis.plot(part["epoch"], part["precision"], color=colors[system],
                      linestyle="--" if split == "train" else "-", marker=".",
                      label=system if split == "test" else None)
        axis.set(title=dataset, xlabel="epoch", ylabel="precision@10")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_time_vs_threads(plt: Any, results: dict[str, Any], path: Path) -> bool:
    """Median seconds per epoch against threads, one panel per dataset."""
    fits = _frame(results, "fit")
    if fits.empty:
        return False
    medians = fits.groupby(["dataset", "system", "threads"])["epoch_seconds"].median()
    medians = medians.reset_index()
    datasets = list(dict.fromkeys(fits["dataset"]))
    colors = _colors(results["settings"]["systems"])
    figure, axes = _grid(plt, len(datasets))
    for axis, dataset in zip(axes, datasets, strict=True):
        for system, part in medians[medians["dataset"] == dataset].groupby("system"):
            axis.plot(part["threads"], part["epoch_seconds"], marker="o", color=colors[system],
                      label=system)
        axis.set(title=dataset, xlabel="threads", ylabel="seconds per epoch",
                 xticks=results["settings"]["threads"])
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_time_vs_size(plt: Any, results: dict[str, Any], path: Path) -> bool:
    """Median seconds per epoch against training interactions on synthetic data (log-log)."""
    fits = _frame(results, "fit")
    if fits.empty:
        return False
    fits = fits[fits["dataset"].str.startswith("synthetic-")]
    if fits.empty:
        return False
    medians = fits.groupby(["system", "threads", "n_train"])["epoch_seconds"].median()
    medians = medians.reset_index()
    colors = _colors(results["settings"]["systems"])
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for (system, threads), part in medians.groupby(["system", "threads"]):
        axis.plot(part["n_train"], part["epoch_seconds"], marker="o", color=colors[system],
                  linestyle="-" if threads == max(results["settings"]["threads"]) else ":",
                  label=f"{system}, {threads} thread{'s' if threads > 1 else ''}")
    axis.set(xscale="log", yscale="log", xlabel="training interactions",
             ylabel="seconds per epoch", title="synthetic data")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_plots(results: dict[str, Any], folder: Path) -> list[str]:
    """Write the PNG plots into ``folder``; return the names written.

    Parameters
    ----------
    results : dict
    folder : pathlib.Path

    Returns
    -------
    list of str
        Empty if matplotlib is not installed.
    """
    plt = _pyplot()
    if plt is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    makers = {"learning_curves.png": plot_learning_curves,
              "time_vs_threads.png": plot_time_vs_threads,
              "time_vs_size.png": plot_time_vs_size}
    return [name for name, make in makers.items() if make(plt, results, folder / name)]


# --------------------------------------------------------------------------- report


def _intro(results: dict[str, Any]) -> list[str]:
    settings = results["settings"]
    return [
        "# Benchmark results",
        "",
        f"Generated by `{settings['command']}` in {results['seconds'] / 60:.1f} minutes. "
        "Every number below comes from that run; to update them, run it again "
        "(`benchmarks/README.md` says how) - never edit them by hand.",
        "",
        "```", *results["banner"], "```",
        "",
        f"Systems: {', '.join(settings['systems'])}; 64 components; medians over "
        f"{settings['repeats']} rounds (seeds 0..{settings['repeats'] - 1}); threads "
        f"{settings['threads']}. Ratios: this system / LightFM with the same loss "
        "(implicit: / LightFM BPR); below 1 means faster or smaller. "
        "`benchmarks/run.py`'s docstring describes the protocol.",
        "",
    ]


def _sections(results: dict[str, Any], plots: list[str]) -> list[str]:
    real = [d for d in results["datasets"] if not d.startswith("synthetic-")]
    synthetic = [d for d in results["datasets"] if d.startswith("synthetic-")]
    lines = ["## Datasets", "", datasets_table(results), "",
             "## Training time per epoch", "",
             "One `fit(epochs=E)` call on a fresh model, divided by E.", "",
             training_table(results, real), "",
             "## Accuracy, evaluation, top-10, memory", "",
             "P@10, R@10, NDCG@10, AUC: `hybridrec.metrics.evaluate` on every system's "
             "representations (one definition for all), train items excluded, model trained "
             f"with {max(results['settings']['threads'])} threads. own P@10: the package's "
             "own metric (implicit: `ranking_metrics_at_k`, whose precision divides by "
             "min(10, the user's test items)). eval s: the package's own "
             "evaluation (see `_systems.py`). top-10 s: the 10 best unseen items for "
             "`users` users. peak MiB: peak RSS above the data, one epoch + evaluation + "
             "top-10 in a fresh process.", "",
             quality_table(results, real), ""]
    if synthetic:
        lines += ["## Synthetic data", "", training_table(results, synthetic), "",
                  quality_table(results, synthetic), ""]
    example = example_table(results)
    if example:
        lines += ["## LightFM's StackExchange hybrid example", "",
                  "warp, 30 components, item_alpha=1e-6, 3 epochs; test AUC by each "
                  "package's own `auc_score` (train excluded); medians over seeds.", "",
                  example, ""]
    lines += ["## Plots", ""]
    lines += [f"![{PLOTS[name]}](plots/{name})" for name in plots] or [
        "(matplotlib is not installed: `pip install -e \".[bench]\"`)"]
    if results["notes"]:
        lines += ["", "## Notes", "", *[f"- {note}" for note in results["notes"]]]
    return lines


def write_report(results: dict[str, Any], folder: Path) -> str:
    """Write ``results.md`` and ``plots/*.png`` into ``folder``; return the markdown.

    Parameters
    ----------
    results : dict
        As returned by ``run.run_suite``.
    folder : pathlib.Path

    Returns
    -------
    str
    """
    folder.mkdir(parents=True, exist_ok=True)
    plots = write_plots(results, folder / "plots")
    text = "\n".join(_intro(results) + _sections(results, plots)) + "\n"
    (folder / "results.md").write_text(text)
    return text
