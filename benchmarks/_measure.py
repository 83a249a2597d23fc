"""Measurements of ``run.py``: timed rounds, learning curves and peak memory.

All timings use ``time.perf_counter`` (``_common.time_once``); every number is a record
(a plain dict) so that ``_report.py`` can aggregate and ``run.py`` can save them as JSON.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import time_once
from _systems import System, common_metrics, first_users
from _workloads import Workload, read_workload

Record = dict[str, Any]


def log(message: str) -> None:
    """Progress line on stderr (the report goes to files, the progress to the terminal).

    Parameters
    ----------
    message : str
    """
    print(message, file=sys.stderr, flush=True)


def eval_users(workload: Workload, max_users: int) -> np.ndarray:
    """Users whose top-k lists are timed: all, or the first ``max_users``.

    Parameters
    ----------
    workload : Workload
    max_users : int

    Returns
    -------
    int32 array
    """
    return np.arange(min(workload.n_users, max_users), dtype=np.int32)


# ------------------------------------------------------------------- learning curves


def learning_curve(system: System, workload: Workload, epochs: int, threads: int,
                   max_users: int) -> list[Record]:
    """Train one epoch at a time; precision@10 on train and test after each epoch.

    Also the warm-up of ``system`` on ``workload``: numba compiles here, and the own
    evaluation and top-k are called once, untimed.

    Parameters
    ----------
    system : System
    workload : Workload
    epochs : int
    threads : int
    max_users : int
        Evaluate at most this many users (the first ones).

    Returns
    -------
    list of Record
        ``kind="curve"`` records with ``epoch``, ``split`` and ``precision``.
    """
    model = system.new_model(threads, seed=0)
    test = first_users(workload.test, max_users)
    train = first_users(workload.train, max_users)
    records = []
    for epoch in range(1, epochs + 1):
        seconds = time_once(lambda: system.fit(model, workload, threads, 1))
        scorer = system.scorer(model)
        for split, target, exclude in (("train", train, None), ("test", test, workload.train)):
            values = common_metrics(scorer, target, exclude, workload.item_features, threads)
            records.append({"kind": "curve", "dataset": workload.name, "system": system.label,
                            "epoch": epoch, "split": split, "precision": values["precision"],
                            "epoch_seconds": seconds})
    system.evaluate_own(model, workload, test, threads)
    system.top_k(model, workload, eval_users(workload, max_users), threads)
    return records


# ------------------------------------------------------------------------ timed rounds


def timed_fit(system: System, workload: Workload, threads: int, epochs: int,
              seed: int) -> tuple[Any, float]:
    """A fresh model trained ``epochs`` epochs in one call; seconds per epoch.

    Parameters
    ----------
    system : System
    workload : Workload
    threads : int
    epochs : int
    seed : int

    Returns
    -------
    model, seconds_per_epoch
    """
    model = system.new_model(threads, seed)
    seconds = time_once(lambda: system.fit(model, workload, threads, epochs))
    return model, seconds / epochs


def timed_evaluation(system: System, model: Any, workload: Workload, threads: int,
                     max_users: int) -> Record:
    """Own evaluation time, top-k time and the common accuracy metrics of one model.

    Parameters
    ----------
    system : System
    model : object
        Trained by ``system``.
    workload : Workload
    threads : int
    max_users : int

    Returns
    -------
    Record
        ``eval_seconds``, ``topk_seconds``, ``own_<metric>`` and the common metrics.
    """
    test = first_users(workload.test, max_users)
    users = eval_users(workload, max_users)
    own: dict[str, float] = {}
    eval_seconds = time_once(lambda: own.update(
        system.evaluate_own(model, workload, test, threads)))
    topk_seconds = time_once(lambda: system.top_k(model, workload, users, threads))
    metrics = common_metrics(system.scorer(model), test, workload.train,
                             workload.item_features, threads)
    return {"eval_seconds": eval_seconds, "topk_seconds": topk_seconds,
            "topk_users": int(users.shape[0]), **metrics,
            **{f"own_{name}": value for name, value in own.items()}}


def run_round(round_no: int, systems: list[System], workloads: list[Workload],
              epochs: dict[str, int], threads: list[int], max_users: int) -> list[Record]:
    """One round: every (dataset, system, threads) trained from scratch once.

    The model trained with the most threads is also evaluated (own evaluation time,
    top-k time, common metrics).

    Parameters
    ----------
    round_no : int
        Also the random seed of every model of the round.
    systems : list of System
    workloads : list of Workload
    epochs : dict of str to int
        Epochs per dataset name.
    threads : list of int
    max_users : int

    Returns
    -------
    list of Record
        ``kind="fit"`` records.
    """
    records = []
    for workload in workloads:
        for system in systems:
            for n_threads in threads:
                model, per_epoch = timed_fit(system, workload, n_threads,
                                             epochs[workload.name], round_no)
                record = {"kind": "fit", "dataset": workload.name, "system": system.label,
                          "threads": n_threads, "round": round_no,
                          "epochs": epochs[workload.name], "epoch_seconds": per_epoch,
                          "n_train": workload.n_train}
                if n_threads == max(threads):
                    record.update(timed_evaluation(system, model, workload, n_threads,
                                                   max_users))
                records.append(record)
                del model
    return records


# ------------------------------------------------------------------------ peak memory


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) of this process; False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(spec: dict[str, Any], system: System) -> Record:
    """Peak memory of one epoch + own evaluation + top-k, measured inside this process.

    Run in a fresh child process per (system, dataset): a warm-up on the first 50 users
    loads the compiled kernels, then the resident set size is read (data and imports
    included), the kernel's peak mark is reset (``/proc/self/clear_refs``) and the
    measured steps run. Falls back to ``resource.getrusage`` (the peak of the whole
    process, data loading and warm-up included) where the mark cannot be reset.

    Parameters
    ----------
    spec : dict
        ``workload`` (``.npz`` path), ``threads``, ``max_users``.
    system : System

    Returns
    -------
    Record
        ``baseline_mib`` (RSS before the measured steps), ``peak_mib`` (peak RSS during
        them), ``method``.
    """
    workload = read_workload(Path(spec["workload"]))
    threads, max_users = spec["threads"], spec["max_users"]
    tiny = Workload(workload.name, first_users(workload.train, 50),
                    first_users(workload.test, 50), workload.item_features, "")
    warm = system.new_model(threads, seed=0)
    system.fit(warm, tiny, threads, 1)
    system.evaluate_own(warm, tiny, tiny.test, threads)
    system.top_k(warm, tiny, eval_users(tiny, 50), threads)
    del warm
    baseline = _status_mib("VmRSS")
    reset = _reset_peak()
    model = system.new_model(threads, seed=0)
    system.fit(model, workload, threads, 1)
    system.evaluate_own(model, workload, first_users(workload.test, max_users), threads)
    system.top_k(model, workload, eval_users(workload, max_users), threads)
    peak = _status_mib("VmHWM") if reset else None
    method = "VmHWM after clear_refs"
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        method = "ru_maxrss (whole process)"
    return {"baseline_mib": baseline, "peak_mib": peak, "method": method}


def measure_memory(system: System, workload_path: Path, dataset: str, threads: int,
                   max_users: int, run_script: Path, data_dir: Path) -> Record:
    """Run :func:`memory_child` in a fresh process and collect its record.

    Parameters
    ----------
    system : System
    workload_path : pathlib.Path
        The workload saved with ``_workloads.save_workload``.
    dataset : str
    threads : int
    max_users : int
    run_script : pathlib.Path
        ``run.py`` (started with ``--child-memory``).
    data_dir : pathlib.Path

    Returns
    -------
    Record
        ``kind="memory"``; ``error`` instead of numbers if the child failed.
    """
    spec = {"workload": str(workload_path), "system": system.label, "threads": threads,
            "max_users": max_users}
    record: Record = {"kind": "memory", "dataset": dataset, "system": system.label,
                      "threads": threads}
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(run_script), "--data-dir", str(data_dir), "--child-memory",
         json.dumps(spec)], capture_output=True, text=True, env=os.environ.copy())
    record["child_seconds"] = time.perf_counter() - start
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        record["error"] = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return record
    record.update(json.loads(lines[-1]))
    return record

