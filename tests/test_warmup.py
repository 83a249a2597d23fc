"""Compile-time reporting (hybridrec._warmup), the default thread count, and the CLI's
fit line that keeps compilation apart from the fit's time."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import textwrap
import time

import numba
import pytest

import hybridrec.cli
from hybridrec import _threads
from hybridrec.__main__ import main
from hybridrec._warmup import (
    COMPILING_NOTICE,
    KernelLog,
    time_without_compilation,
    warm_up,
    watch_kernels,
)
from hybridrec.data import synthetic


def _fresh_kernel():
    """A jitted function nobody has compiled yet (each call makes a new dispatcher)."""
    @numba.njit
    def add_one(x):
        return x + 1
    return add_one


def test_watch_kernels_counts_and_times_compilations_once():
    kernel = _fresh_kernel()
    first_compiles = []
    with watch_kernels(on_first_compile=lambda: first_compiles.append(1)) as log:
        assert kernel(1) == 2
        assert kernel(1.5) == 2.5          # a second specialisation
    assert log.compiled == 2
    assert first_compiles == [1]           # announced once, before the first
    assert 0 < log.compile_seconds <= log.elapsed
    with watch_kernels() as again:
        kernel(3)
        kernel(3.5)
    assert again.compiled == 0 and again.compile_seconds == 0.0
    assert again.first_used == 0


def test_watch_kernels_times_nested_compilations_once():
    inner = _fresh_kernel()

    @numba.njit
    def outer(x):
        return inner(x) * 2

    with watch_kernels() as log:
        outer(1)
    assert log.compiled == 2               # outer and the helper it calls
    assert log.compile_seconds <= log.elapsed


def _import_module(name: str, path, monkeypatch):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_warm_up_says_compiled_then_loaded_from_cache_then_already_loaded(tmp_path,
                                                                         monkeypatch):
    # A cached kernel in a module the watcher counts as the package's (its name starts
    # with "hybridrec."): compiled by the first process, loaded by a later one (here: a
    # second import of the file, which makes a new dispatcher with no specialisations).
    source = tmp_path / "cached_kernel.py"
    source.write_text(textwrap.dedent("""
        import numba

        @numba.njit(cache=True)
        def triple(x):
            return 3 * x
    """))
    name = "hybridrec._test_cached_kernel"
    module = _import_module(name, source, monkeypatch)
    out = io.StringIO()
    log = warm_up(lambda: module.triple(2), stream=out)
    assert log.compiled == 1 and log.first_used == 1
    assert re.fullmatch(re.escape(COMPILING_NOTICE)
                        + r" done: 1 kernel specialisation in \d+\.\d s\n", out.getvalue())

    reloaded = _import_module(name, source, monkeypatch)
    out = io.StringIO()
    log = warm_up(lambda: reloaded.triple(2), stream=out)
    assert log.compiled == 0 and log.first_used == 1
    assert re.fullmatch(r"kernels loaded from the on-disk cache in \d+\.\d\d s "
                        r"\(nothing to compile\)\n", out.getvalue())

    out = io.StringIO()
    log = warm_up(lambda: reloaded.triple(2), stream=out)
    assert log.compiled == 0 and log.first_used == 0
    assert re.fullmatch(r"kernels already loaded in this process \(\d+\.\d\d s\)\n",
                        out.getvalue())


def test_time_without_compilation_reports_compilation_on_its_own():
    assert time_without_compilation(KernelLog(elapsed=2.5)) == "2.50 s"
    text = time_without_compilation(KernelLog(compiled=3, compile_seconds=10.0,
                                              elapsed=12.5))
    assert text.startswith("2.50 s (+ 10.0 s compiling 3 kernel specialisations, once per "
                           "machine")


def test_default_num_threads_is_the_available_cores_bounded_by_numba(monkeypatch):
    if not hasattr(_threads.os, "sched_getaffinity"):
        pytest.skip("no sched_getaffinity on this platform")
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 4)
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: {0, 1})
    assert _threads.default_num_threads() == 2          # the cores this process may use
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: set(range(16)))
    assert _threads.default_num_threads() == 4          # numba refuses more
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: set())
    assert _threads.default_num_threads() == 1


def test_cli_fit_announces_compilation_and_reports_the_fit_without_it(tmp_path, capsys,
                                                                     monkeypatch):
    data = synthetic(n_users=60, n_items=40, n_interactions=900, random_state=0)
    data.interactions.to_csv(tmp_path / "train.csv", index=False)
    # Make the fit compile something (whatever the state of the cache) and take a known
    # extra time outside the compilation, to see each reported where it belongs.
    original_fit = hybridrec.cli.Recommender.fit
    compiled_inside = _fresh_kernel()

    def fit_that_compiles(self, *args, **kwargs):
        compiled_inside(1)
        time.sleep(0.3)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(hybridrec.cli.Recommender, "fit", fit_that_compiles)
    start = time.perf_counter()
    assert main(["fit", str(tmp_path / "train.csv"), "--epochs", "2", "--out",
                 str(tmp_path / "model.hrec")]) == 0
    wall = time.perf_counter() - start
    err = capsys.readouterr().err
    assert COMPILING_NOTICE in err
    match = re.search(rf"trained on {len(data.interactions)} interactions: 60 users, \d+ items "
                      r"in ([0-9.]+) s "
                      r"\(\+ ([0-9.]+) s compiling (\d+) kernel specialisations?, once per "
                      r"machine: later runs load them from the cache\); saved to ", err)
    assert match is not None, err
    assert err.index(COMPILING_NOTICE) < match.start()
    fit_seconds, compile_seconds = float(match.group(1)), float(match.group(2))
    assert fit_seconds >= 0.3 and int(match.group(3)) >= 1
    # Reported apart, not twice: the two add up to at most the command's wall time.
    assert fit_seconds + compile_seconds <= wall + 0.06


def test_demo_rejects_a_bad_thread_count_before_any_work(capsys):
    assert main(["demo", "--threads", "0"]) == 2
    captured = capsys.readouterr()
    assert "error: Number of threads must be 1 or larger." in captured.err
    assert "kernels" not in captured.out
