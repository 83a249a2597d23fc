"""Every code block of README.md runs as written.

Python blocks run in order, in one namespace (as a reader pasting them into one session
would), in a temporary working directory where ``ml-100k`` and ``ml-latest-small``
are the MovieLens copies of ``../shared/data`` (the README tells readers to put the
downloads there); blocks on synthetic data need nothing. Bash blocks run line by line in
the same directory with ``python`` being this interpreter. A block preceded by the line
``<!-- readme-test: skip -->`` is not run (installing the package, running the test
suite itself: CI does both before this test runs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_data_path

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP = "<!-- readme-test: skip -->"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(text: str) -> list[tuple[str, str, int]]:
    """``(language, code, line)`` of every fenced block not marked to skip."""
    blocks = []
    for match in _BLOCK.finditer(text):
        before = text[:match.start()].rstrip().splitlines()
        if before and before[-1].strip() == SKIP:
            continue
        blocks.append((match.group(1), match.group(2), text[:match.start()].count("\n") + 1))
    return blocks


def _commands(code: str) -> list[str]:
    """Shell commands of a bash block (continuation lines joined, comments dropped)."""
    joined = code.replace("\\\n", " ")
    return [line.split(" #")[0].strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    for name, probe in (("ml-100k", "u.data"), ("ml-latest-small", "ratings.csv")):
        (folder / name).symlink_to(shared_data_path(name, probe).parent)
    return folder


def test_readme_has_runnable_blocks():
    blocks = code_blocks(README.read_text())
    assert sum(language == "python" for language, _, _ in blocks) >= 6
    assert sum(language == "bash" for language, _, _ in blocks) >= 1
    assert all(language in ("python", "bash", "text") for language, _, _ in blocks)


def test_every_readme_block_runs(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    namespace: dict = {"__name__": "__readme__"}
    for language, code, line in code_blocks(README.read_text()):
        if language == "python":
            try:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)
            except Exception as error:  # noqa: BLE001 - report which block failed
                raise AssertionError(f"README.md python block at line {line} failed: "
                                     f"{type(error).__name__}: {error}") from error
        elif language == "bash":
            for command in _commands(code):
                result = subprocess.run(command, shell=True, cwd=workdir, env=env,
                                        capture_output=True, text=True, timeout=900)
                assert result.returncode == 0, (
                    f"README.md bash block at line {line}: `{command}` exited "
                    f"{result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
