"""Tell kernel compilation apart from the work itself.

Numba compiles a kernel for each new combination of argument types on its first call
(about half a minute for the demo's kernels on a 2-core machine) and caches the machine
code on disk, so only the first process on a machine pays it; later processes load the
kernels from the cache, which takes well under a second. A timing that includes the
compilation says nothing about how fast the package is, so the commands that report
times keep the two apart with

- ``watch_kernels(...)``: records, for the enclosed block, how many kernel
  specialisations numba compiled and how long that took (from numba's documented
  ``numba:compile`` events, which fire only for a real compilation, never for a load
  from the cache), and how many of the package's kernel specialisations were first
  used there (compiled or loaded from the cache) — so a caller can report the block's
  time without compilation, or check that a warm-up left nothing for the timed part;
- ``warm_up(run, stream)``: runs a command's own work on tiny data first, so every
  kernel the real run needs is ready before anything is timed, and prints one line
  saying whether the kernels were compiled (and in how long) or loaded from the cache.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from numba.core import event
from numba.core.dispatcher import Dispatcher

#: Printed when the first kernel compilation starts.
COMPILING_NOTICE = "compiling kernels once (cached on disk for later runs) ..."


@dataclass
class KernelLog:
    """What happened to kernels inside a ``watch_kernels`` block.

    Attributes
    ----------
    compiled : int
        Kernel specialisations numba compiled (any package's; a kernel's jitted helpers
        are compiled along with it and counted too).
    compile_seconds : float
        Wall time spent compiling (outermost compilations only, so nested ones are not
        counted twice).
    first_used : int
        Specialisations of hybridrec's kernels that became ready in the block: compiled,
        or loaded from the on-disk cache. Zero after a complete warm-up.
    elapsed : float
        Wall time of the whole block, compilation included.
    """

    compiled: int = 0
    compile_seconds: float = 0.0
    first_used: int = 0
    elapsed: float = 0.0


class _CompileListener(event.Listener):
    """Counts ``numba:compile`` events and times the outermost ones."""

    def __init__(self, log: KernelLog, on_first_compile: Callable[[], None] | None):
        self._log = log
        self._on_first_compile = on_first_compile
        self._depth = 0
        self._started = 0.0

    def on_start(self, event: event.Event) -> None:
        if self._log.compiled == 0 and self._on_first_compile is not None:
            self._on_first_compile()
        self._log.compiled += 1
        # Compilation runs under numba's global compiler lock, so nested events come from
        # one thread, one level at a time.
        if self._depth == 0:
            self._started = time.perf_counter()
        self._depth += 1

    def on_end(self, event: event.Event) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._log.compile_seconds += time.perf_counter() - self._started


def specialisations(count: int) -> str:
    """``"1 kernel specialisation"``, ``"2 kernel specialisations"``."""
    return f"{count} kernel specialisation{'' if count == 1 else 's'}"


def _package_specialisations() -> int:
    """How many specialisations the imported hybridrec modules' kernels have loaded."""
    dispatchers = {}
    for name, module in list(sys.modules.items()):
        if name == "hybridrec" or name.startswith("hybridrec."):
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    dispatchers[id(value)] = value
    return sum(len(dispatcher.overloads) for dispatcher in dispatchers.values())


@contextlib.contextmanager
def watch_kernels(on_first_compile: Callable[[], None] | None = None) -> Iterator[KernelLog]:
    """Record the kernel compilations and first uses that happen inside the block.

    Parameters
    ----------
    on_first_compile : callable, optional
        Called with no arguments just before the block's first compilation starts (to
        tell the user why the next step takes a while).

    Yields
    ------
    KernelLog
        Compilations are counted while the block runs; ``first_used`` and ``elapsed``
        are set when it ends.
    """
    log = KernelLog()
    listener = _CompileListener(log, on_first_compile)
    before = _package_specialisations()
    start = time.perf_counter()
    try:
        with event.install_listener("numba:compile", listener):
            yield log
    finally:
        log.elapsed = time.perf_counter() - start
        log.first_used = _package_specialisations() - before


def write_line(stream: TextIO, text: str) -> None:
    """Write one line without breaking a tqdm progress bar drawn on the same stream."""
    tqdm = sys.modules.get("tqdm")
    if tqdm is not None:
        tqdm.tqdm.write(text, file=stream)
    else:
        stream.write(text + "\n")
    stream.flush()


def announce_compilation(stream: TextIO) -> Callable[[], None]:
    """An ``on_first_compile`` callback that writes ``COMPILING_NOTICE`` on ``stream``."""
    return lambda: write_line(stream, COMPILING_NOTICE)


def compile_phrase(log: KernelLog) -> str:
    """``"N kernel specialisations compiled in X s"`` for a log with compilations."""
    return f"{specialisations(log.compiled)} compiled in {log.compile_seconds:.1f} s"


def time_without_compilation(log: KernelLog) -> str:
    """The block's time without compilation, and the compilation on its own if any.

    ``"2.31 s"``, or ``"2.31 s (+ 10.4 s compiling 40 kernel specialisations, once per
    machine: later runs load them from the cache)"``.
    """
    text = f"{log.elapsed - log.compile_seconds:.2f} s"
    if log.compiled:
        text += (f" (+ {log.compile_seconds:.1f} s compiling {specialisations(log.compiled)}, "
                 "once per machine: later runs load them from the cache)")
    return text


def warm_up(run: Callable[[], object], stream: TextIO | None = None) -> KernelLog:
    """Run ``run`` (the command's own work on tiny data) and report on its kernels.

    Afterwards every kernel specialisation ``run`` used is compiled and loaded in this
    process, so the same work on real data can be timed without compilation. Writes one
    line on ``stream``: ``COMPILING_NOTICE`` (as soon as the first compilation starts)
    completed by the number of specialisations and the time, or, when nothing had to be
    compiled, the time it took to load the kernels from the on-disk cache.

    Parameters
    ----------
    run : callable
        Called once with no arguments; its result is discarded.
    stream : text stream, optional
        Where to write the line; ``sys.stdout`` (as it is at the call) by default.

    Returns
    -------
    KernelLog
        What happened to the kernels during ``run``.
    """
    stream = sys.stdout if stream is None else stream

    def notice() -> None:
        stream.write(COMPILING_NOTICE + " ")
        stream.flush()

    with watch_kernels(on_first_compile=notice) as log:
        run()
    if log.compiled:
        write_line(stream, f"done: {specialisations(log.compiled)} in {log.elapsed:.1f} s")
    elif log.first_used:
        write_line(stream, f"kernels loaded from the on-disk cache in {log.elapsed:.2f} s "
                           "(nothing to compile)")
    else:
        write_line(stream, f"kernels already loaded in this process ({log.elapsed:.2f} s)")
    return log
