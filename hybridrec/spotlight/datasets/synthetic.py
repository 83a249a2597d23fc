"""Spotlight's ``spotlight.datasets.synthetic``: data sets with known sequential structure.

``generate_sequential`` makes the same random draws in the same order as Spotlight
0.1.6, so one ``RandomState`` seed gives Spotlight's data set bit for bit (the tests
pin values produced by Spotlight's own function); the Markov chain is sampled by a numba
kernel with the same arithmetic instead of a Python loop.
"""

from __future__ import annotations

import numpy as np

from ..._validation import check_int, is_integer, is_real
from ...kernels import markov
from ..interactions import Interactions

__all__ = ["generate_sequential"]


def _build_transition_matrix(num_items: int, concentration_parameter: float,
                             random_state: np.random.RandomState,
                             atol: float = 0.001) -> np.ndarray:
    """A Dirichlet-drawn transition matrix, alternately column- and row-normalised
    (at most 100 rounds) until it is doubly stochastic within ``atol``."""
    def doubly_stochastic(matrix: np.ndarray) -> bool:
        return bool(np.all(np.abs(1.0 - matrix.sum(axis=0)) < atol)
                    and np.all(np.abs(1.0 - matrix.sum(axis=1)) < atol))

    matrix = random_state.dirichlet(np.repeat(concentration_parameter, num_items), num_items)
    for _ in range(100):
        if doubly_stochastic(matrix):
            break
        matrix /= matrix.sum(axis=0)
        matrix /= matrix.sum(1)[:, np.newaxis]
    return matrix


def _generate_sequences(num_steps: int, transition_matrix: np.ndarray, order: int,
                        random_state: np.random.RandomState) -> np.ndarray:
    """``num_steps`` states of the order-``order`` chain (int32 in ``0 .. n - 1``)."""
    cumulative = np.ascontiguousarray(np.cumsum(transition_matrix, axis=1))
    uniforms = random_state.rand(num_steps)
    state = random_state.randint(transition_matrix.shape[0], size=order, dtype=np.int64)
    out = np.empty(num_steps, dtype=np.int32)
    markov.sample_chain(cumulative, state, np.ascontiguousarray(uniforms), out)
    return out




def generate_sequential(num_users: int = 100, num_items: int = 1000,
                        num_interactions: int = 10000, concentration_parameter: float = 0.1,
                        order: int = 3, random_state: object = None) -> Interactions:
    """Generate interactions where sequential information matters.

    The items come from an ``order``-th order Markov chain over the items
    ``1 .. num_items - 1`` (0 stays free as the sequence padding value) with a uniform
    stationary distribution: transition probabilities are given by a doubly stochastic
    matrix drawn from a Dirichlet distribution with constant ``concentration_parameter``
    (closer to zero: more predictable sequences), and for higher orders the next item
    is drawn from the mean of the last ``order`` states' transition distributions. One
    chain of ``num_interactions`` steps is cut among users drawn uniformly and sorted,
    so each user holds a contiguous stretch; timestamps are ``0 .. n - 1`` and ratings 1.

    Parameters
    ----------
    num_users : int, default 100
    num_items : int, default 1000
        Including the unused id 0 (the chain has ``num_items - 1`` states).
    num_interactions : int, default 10000
    concentration_parameter : float, default 0.1
        Dirichlet concentration, > 0.
    order : int, default 3
        Order of the Markov chain.
    random_state : numpy.random.RandomState or int, optional
        Advanced by the draws (an int seeds a new ``RandomState``).

    Returns
    -------
    Interactions
        ``num_users`` x ``num_items`` with int32 ``user_ids`` / ``item_ids``, float32
        ``ratings`` (ones) and int32 ``timestamps``.
    """
    num_users = check_int(num_users, "num_users", 1)
    num_items = check_int(num_items, "num_items", 2)
    num_interactions = check_int(num_interactions, "num_interactions", 0)
    order = check_int(order, "order", 1)
    if not is_real(concentration_parameter) or not (
            np.isfinite(concentration_parameter) and concentration_parameter > 0):
        raise ValueError("concentration_parameter must be a finite number > 0, got "
                         f"{concentration_parameter!r}.")
    if random_state is None:
        random_state = np.random.RandomState()
    elif is_integer(random_state):
        random_state = np.random.RandomState(int(random_state))
    elif not isinstance(random_state, np.random.RandomState):
        raise ValueError("random_state must be None, an int or a numpy.random.RandomState "
                         f"(Spotlight's draws need one), got {random_state!r}.")

    transition_matrix = _build_transition_matrix(num_items - 1, concentration_parameter,
                                                 random_state)
    user_ids = np.sort(random_state.randint(0, num_users, num_interactions, dtype=np.int32))
    item_ids = _generate_sequences(num_interactions, transition_matrix, order,
                                   random_state) + 1
    timestamps = np.arange(len(user_ids), dtype=np.int32)
    ratings = np.ones(len(user_ids), dtype=np.float32)
    return Interactions(user_ids, item_ids, ratings=ratings, timestamps=timestamps,
                        num_users=num_users, num_items=num_items)
