"""The systems ``run.py`` compares, behind one small interface.

Every system trains on the same binary CSR matrices (``_workloads.Workload``) and is
measured the same way:

``fit``
    ``model.fit(train, item_features=..., epochs=E, num_threads=t)`` for hybridrec and
    LightFM; for implicit's CPU BPR ``model.iterations = E; model.fit(train)`` (implicit
    ignores item features).
``evaluate_own``
    Each package's own evaluation path over all test users with the train items excluded:
    hybridrec ``hybridrec.metrics.evaluate`` (precision, recall, NDCG @10 and AUC in one
    ranking pass); LightFM ``lightfm.evaluation`` precision_at_k, recall_at_k (k=10) and
    auc_score (it has no NDCG); implicit ``implicit.evaluation.ranking_metrics_at_k``
    (K=10: precision, MAP, NDCG, AUC@10).
``top_k``
    The 10 best unseen items for every user: hybridrec ``hybridrec._scoring.top_k`` (the
    blocked numba kernel behind ``Recommender.recommend``); LightFM has no batch
    recommend, so its fastest public route is used: ``get_user_representations`` /
    ``get_item_representations`` and a blocked NumPy matmul + ``argpartition``; implicit
    ``model.recommend(all users, train rows, N=10, filter_already_liked_items=True)``.
``scorer``
    An object with LightFM's ``get_user_representations`` / ``get_item_representations``,
    so that one evaluator (``hybridrec.metrics.evaluate``) scores every system with the
    same definitions: these are the accuracy numbers of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp
from _workloads import Workload

import hybridrec
from hybridrec._scoring import top_k as hybridrec_top_k
from hybridrec.metrics import evaluate

NO_COMPONENTS = 64
K = 10
COMMON_METRICS = ("precision", "recall", "ndcg", "auc")
NUMPY_BLOCK_SCORES = 1 << 24  # scores per block: 64 MiB of float32


def first_users(matrix: sp.csr_matrix, n_users: int) -> sp.csr_matrix:
    """``matrix`` with the rows from ``n_users`` on emptied (same shape).

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
    n_users : int

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    if n_users >= matrix.shape[0]:
        return matrix
    end = matrix.indptr[n_users]
    indptr = matrix.indptr.copy()
    indptr[n_users:] = end
    return sp.csr_matrix((matrix.data[:end], matrix.indices[:end], indptr),
                         shape=matrix.shape)


def common_metrics(scorer: Any, test: sp.csr_matrix, train: sp.csr_matrix | None,
                   item_features: sp.csr_matrix | None, threads: int) -> dict[str, float]:
    """Precision, recall, NDCG @10 and AUC by ``hybridrec.metrics.evaluate``.

    Parameters
    ----------
    scorer : object
        Has ``get_user_representations`` and ``get_item_representations``.
    test : scipy.sparse.csr_matrix
    train : scipy.sparse.csr_matrix or None
        Excluded from the rankings; None to rank everything (train-set precision).
    item_features : scipy.sparse.csr_matrix or None
    threads : int

    Returns
    -------
    dict of str to float
        ``{"precision": ..., "recall": ..., "ndcg": ..., "auc": ...}``.
    """
    frame = evaluate(scorer, test, train, k=(K,), metrics=COMMON_METRICS,
                     item_features=item_features, num_threads=threads)
    return dict(zip(frame["metric"], frame["mean"].astype(float), strict=True))


def numpy_top_k(user_vectors: np.ndarray, item_vectors: np.ndarray, item_biases: np.ndarray,
                users: np.ndarray, exclude: sp.csr_matrix, k: int = K) -> np.ndarray:
    """Top-``k`` unseen items per user with blocked NumPy matmul and ``argpartition``.

    Parameters
    ----------
    user_vectors : float32 (n_users, d)
    item_vectors : float32 (n_items, d)
    item_biases : float32 (n_items,)
    users : int array (m,)
    exclude : scipy.sparse.csr_matrix (n_users, n_items)
        Items never recommended to a user (the train items).
    k : int, default 10

    Returns
    -------
    int array (m, k)
        Best first.
    """
    out = np.empty((users.shape[0], k), dtype=np.int64)
    n_items = item_vectors.shape[0]
    step = max(1, NUMPY_BLOCK_SCORES // n_items)
    for start in range(0, users.shape[0], step):
        block = users[start:start + step]
        scores = user_vectors[block] @ item_vectors.T
        scores += item_biases
        seen = exclude[block]
        scores[np.repeat(np.arange(block.shape[0]), np.diff(seen.indptr)), seen.indices] = -np.inf
        best = np.argpartition(scores, n_items - k, axis=1)[:, n_items - k:]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
        out[start:start + block.shape[0]] = np.take_along_axis(best, order, axis=1)
    return out


@dataclass
class FactorScorer:
    """LightFM-style representations of a plain factor model (implicit's BPR).

    Parameters
    ----------
    user_factors : float32 (n_users, d)
    item_factors : float32 (n_items, d)
        implicit's BPR keeps the item bias in the last column (the users' last column
        is 1), so the dot product is the full score.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray

    def get_user_representations(self, features: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Zero biases and the user factors (LightFM's signature)."""
        return np.zeros(self.user_factors.shape[0], np.float32), self.user_factors

    def get_item_representations(self, features: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Zero biases and the item factors (LightFM's signature)."""
        return np.zeros(self.item_factors.shape[0], np.float32), self.item_factors


@dataclass(frozen=True)
class System:
    """Base of the three systems; subclasses implement the measured operations.

    Parameters
    ----------
    package : str
        ``"hybridrec"``, ``"lightfm"`` or ``"implicit"``.
    loss : str
        Training loss (``"warp"``, ``"bpr"``, ...).
    """

    package: str
    loss: str

    @property
    def label(self) -> str:
        """``"<package> <loss>"``, the row label of the report."""
        return f"{self.package} {self.loss}"

    def new_model(self, threads: int, seed: int) -> Any:
        """A fresh, untrained model."""
        raise NotImplementedError

    def fit(self, model: Any, workload: Workload, threads: int, epochs: int) -> None:
        """Train ``epochs`` more epochs (continuing a trained model)."""
        raise NotImplementedError

    def evaluate_own(self, model: Any, workload: Workload, test: sp.csr_matrix,
                     threads: int) -> dict[str, float]:
        """The package's own evaluation of precision@10 and friends on ``test``."""
        raise NotImplementedError

    def top_k(self, model: Any, workload: Workload, users: np.ndarray,
              threads: int) -> np.ndarray:
        """Top-10 unseen items for ``users``."""
        raise NotImplementedError

    def scorer(self, model: Any) -> Any:
        """An object with LightFM's representation methods, for ``common_metrics``."""
        return model


@dataclass(frozen=True)
class LightFMLike(System):
    """hybridrec.LightFM or lightfm.LightFM (same API).

    Parameters
    ----------
    module : module
        ``hybridrec`` or ``lightfm``.
    evaluation : module
        ``hybridrec.metrics`` or ``lightfm.evaluation``.
    params : dict
        Extra constructor arguments.
    """

    module: ModuleType | None = None
    evaluation: ModuleType | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def new_model(self, threads: int, seed: int) -> Any:  # noqa: D102
        kwargs = {"no_components": NO_COMPONENTS, **self.params}
        return self.module.LightFM(loss=self.loss, random_state=seed, **kwargs)

    def fit(self, model: Any, workload: Workload, threads: int,  # noqa: D102
            epochs: int) -> None:
        model.fit_partial(workload.train, item_features=workload.item_features,
                          epochs=epochs, num_threads=threads)

    def evaluate_own(self, model: Any, workload: Workload, test: sp.csr_matrix,  # noqa: D102
                     threads: int) -> dict[str, float]:
        features = workload.item_features
        if self.package == "hybridrec":
            return common_metrics(model, test, workload.train, features, threads)
        ev = self.evaluation
        common = {"train_interactions": workload.train, "item_features": features,
                  "num_threads": threads}
        return {"precision": float(ev.precision_at_k(model, test, k=K, **common).mean()),
                "recall": float(ev.recall_at_k(model, test, k=K, **common).mean()),
                "auc": float(ev.auc_score(model, test, **common).mean())}

    def top_k(self, model: Any, workload: Workload, users: np.ndarray,  # noqa: D102
              threads: int) -> np.ndarray:
        _, user_vectors = model.get_user_representations()
        item_biases, item_vectors = model.get_item_representations(workload.item_features)
        if self.package == "hybridrec":
            return hybridrec_top_k(user_vectors, item_vectors, item_biases, users, K, threads,
                                   exclude=workload.train)[0]
        return numpy_top_k(user_vectors, item_vectors, item_biases, users, workload.train)


@dataclass(frozen=True)
class ImplicitBPR(System):
    """implicit's CPU BPR (``implicit.cpu.bpr.BayesianPersonalizedRanking``).

    Parameters
    ----------
    module : module
        ``implicit.cpu.bpr``.
    evaluation : module
        ``implicit.evaluation``.
    """

    module: ModuleType | None = None
    evaluation: ModuleType | None = None

    def new_model(self, threads: int, seed: int) -> Any:  # noqa: D102
        return self.module.BayesianPersonalizedRanking(
            factors=NO_COMPONENTS, iterations=1, num_threads=threads,
            random_state=np.random.default_rng(seed))

    def fit(self, model: Any, workload: Workload, threads: int,  # noqa: D102
            epochs: int) -> None:
        model.iterations = epochs
        model.fit(workload.train, show_progress=False)

    def evaluate_own(self, model: Any, workload: Workload, test: sp.csr_matrix,  # noqa: D102
                     threads: int) -> dict[str, float]:
        values = self.evaluation.ranking_metrics_at_k(model, workload.train, test, K=K,
                                                      show_progress=False,
                                                      num_threads=threads)
        return {"precision": float(values["precision"]), "ndcg": float(values["ndcg"])}

    def top_k(self, model: Any, workload: Workload, users: np.ndarray,  # noqa: D102
              threads: int) -> np.ndarray:
        return model.recommend(users, workload.train[users], N=K,
                               filter_already_liked_items=True)[0]

    def scorer(self, model: Any) -> Any:  # noqa: D102
        return FactorScorer(np.asarray(model.user_factors), np.asarray(model.item_factors))


def make_systems(names: list[str], lightfm: tuple[ModuleType, ModuleType] | None,
                 implicit: tuple[ModuleType, ModuleType] | None) -> list[System]:
    """Build the requested systems; peers that are not importable are left out.

    Parameters
    ----------
    names : list of str
        Labels such as ``"hybridrec warp"``, ``"lightfm bpr"``, ``"implicit bpr"``.
    lightfm : tuple or None
        ``(lightfm, lightfm.evaluation)`` or None.
    implicit : tuple or None
        ``(implicit.cpu.bpr, implicit.evaluation)`` or None.

    Returns
    -------
    list of System
    """
    systems: list[System] = []
    for name in names:
        package, loss = name.split()
        if package == "hybridrec":
            systems.append(LightFMLike(package, loss, hybridrec, hybridrec.metrics))
        elif package == "lightfm" and lightfm is not None:
            systems.append(LightFMLike(package, loss, *lightfm))
        elif package == "implicit" and implicit is not None and loss == "bpr":
            systems.append(ImplicitBPR(package, loss, *implicit))
    return systems
