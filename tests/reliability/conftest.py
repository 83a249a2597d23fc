"""Fixtures and the report hook of the reliability suite.

Every test here tags itself with ``request.node.user_properties`` (``kind`` and, for the
bad-input matrix, ``entry``). With ``HYBRIDREC_RELIABILITY_REPORT=docs/RELIABILITY.md``
set, the session rewrites the generated section of that file (between the
``<!-- generated -->`` markers) with the counts of this run.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hybridrec import LightFM, Recommender
from hybridrec.data import synthetic
from hybridrec.model import _PARAMETER_ARRAYS

_RESULTS: list[tuple[str, str, dict]] = []
START, END = "<!-- generated:start -->", "<!-- generated:end -->"


# ------------------------------------------------------------------------ checksums
def _feed(digest, value) -> None:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype == object:
            digest.update(repr(array.tolist()).encode())
        else:
            digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    elif sp.issparse(value):
        csr = sp.csr_matrix(value)
        for part in (csr.data, csr.indices, csr.indptr, np.asarray(csr.shape)):
            _feed(digest, np.asarray(part))
    elif isinstance(value, pd.DataFrame):
        digest.update(value.to_json().encode())
    elif isinstance(value, pd.Index):
        digest.update(repr(value.tolist()).encode() + str(value.dtype).encode())
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())


def model_checksum(model: LightFM) -> str:
    """SHA-256 of the twelve state arrays, the parameters and the generator state."""
    digest = hashlib.sha256()
    for side in ("item", "user"):
        for suffix in _PARAMETER_ARRAYS:
            _feed(digest, getattr(model, f"{side}_{suffix}"))
    _feed(digest, model.get_params())
    generator = model.random_state_
    _feed(digest, None if generator is None else json.dumps(generator.bit_generator.state))
    return digest.hexdigest()


def recommender_checksum(rec: Recommender) -> str:
    """SHA-256 of everything a fitted Recommender holds."""
    digest = hashlib.sha256()
    digest.update(model_checksum(rec.model_).encode())
    for side in ("user", "item"):
        _feed(digest, getattr(rec, f"{side}_mapper_").keys)
        state = rec._state.side(side)
        _feed(digest, {"side": state.side_features, "names": state.names,
                       "active": state.active, "matrix": state.matrix,
                       "encoder": None if state.encoder is None else state.encoder.to_dict(),
                       "bin_edges": state.bin_edges})
        features = getattr(rec, f"{side}_features_")
        _feed(digest, None if features is None else (features.matrix, features.names))
    _feed(digest, rec.interactions_)
    _feed(digest, rec.history_)
    _feed(digest, (rec.get_params(), rec.user_col_, rec.item_col_, rec.weight_col_,
                   rec.best_epoch_))
    return digest.hexdigest()


def dataset_checksum(dataset) -> str:
    digest = hashlib.sha256()
    _feed(digest, list(dataset.mapping()))
    return digest.hexdigest()


# ------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def small_train() -> sp.coo_matrix:
    return sp.random(20, 30, density=0.2, random_state=0, format="coo", dtype=np.float32)


@pytest.fixture(scope="session")
def fitted_model(small_train) -> LightFM:
    return LightFM(loss="warp", no_components=4, random_state=1).fit(small_train, epochs=2)


@pytest.fixture(scope="session")
def frames():
    data = synthetic(n_users=60, n_items=40, n_interactions=600, random_state=0)
    return data.interactions, data.items[["item_id", "genre", "price"]]


@pytest.fixture(scope="session")
def fitted_recommender(frames) -> Recommender:
    interactions, items = frames
    return Recommender(no_components=4, epochs=2, random_state=0).fit(
        interactions, item_features=items)


@pytest.fixture
def tag(request):
    """``tag(kind, **extra)`` records what this test exercises, for the report."""
    def record(kind: str, **extra) -> None:
        request.node.user_properties.append(("kind", kind))
        for key, value in extra.items():
            request.node.user_properties.append((key, value))
    return record


# --------------------------------------------------------------------------- report
def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfail" if hasattr(report, "wasxfail") else report.outcome
        _RESULTS.append((report.nodeid, outcome, dict(report.user_properties)))


def _render() -> str:
    by_kind: dict = collections.defaultdict(collections.Counter)
    by_entry: dict = collections.defaultdict(collections.Counter)
    examples = 0
    for _, outcome, props in _RESULTS:
        kind = props.get("kind", "other")
        by_kind[kind][outcome] += 1
        if kind == "bad input":
            by_entry[props.get("entry", "?")][outcome] += 1
        examples += int(props.get("examples", 0))
    total = collections.Counter()
    for counter in by_kind.values():
        total.update(counter)
    lines = [
        START,
        "",
        f"Generated by the last `HYBRIDREC_RELIABILITY_REPORT=docs/RELIABILITY.md python -m "
        f"pytest tests/reliability` run (Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}).",
        "",
        "| what | cases | passed | failed | known bug (strict xfail) | skipped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in sorted(by_kind):
        c = by_kind[kind]
        lines.append(f"| {kind} | {sum(c.values())} | {c['passed']} | {c['failed']} | "
                     f"{c['xfail']} | {c['skipped']} |")
    lines.append(f"| **total** | {sum(total.values())} | {total['passed']} | "
                 f"{total['failed']} | {total['xfail']} | {total['skipped']} |")
    lines += ["", f"Hypothesis examples drawn by the property tests (upper bound, "
                  f"`max_examples` summed): {examples}.", "",
              "Bad inputs per entry point (each: the documented exception with a message "
              "naming the argument, and the fitted model's checksum unchanged):", "",
              "| entry point | bad inputs | refused correctly |", "|---|---:|---:|"]
    for entry in sorted(by_entry):
        c = by_entry[entry]
        lines.append(f"| `{entry}` | {sum(c.values())} | {c['passed']} |")
    lines += ["", END]
    return "\n".join(lines)


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("HYBRIDREC_RELIABILITY_REPORT")
    if not target or not _RESULTS:
        return
    path = Path(target)
    text = path.read_text() if path.exists() else f"# Reliability\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + _render() + tail)
