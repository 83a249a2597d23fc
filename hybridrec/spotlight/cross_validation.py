"""Spotlight's ``spotlight.cross_validation``: shuffling and train/test splits.

The random draws are Spotlight's: ``shuffle_interactions`` shuffles an index with the
``RandomState``'s ``shuffle`` and ``user_based_train_test_split`` draws one hash seed
with ``randint`` and puts a user in test when ``murmurhash3_32(user_id, seed) % 100 / 100
< test_percentage``, so the same seed (and data in the same order) gives Spotlight's
split exactly. ``random_state`` may also be an int or a ``numpy.random.Generator``
(Spotlight takes a ``RandomState`` only).
"""

from __future__ import annotations

import numpy as np

from .._validation import is_integer, is_real
from ._hashing import murmurhash3_32
from .interactions import Interactions

__all__ = ["random_train_test_split", "shuffle_interactions", "user_based_train_test_split"]


def _random_state(random_state: object) -> np.random.RandomState | np.random.Generator:
    if random_state is None:
        return np.random.RandomState()
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if is_integer(random_state):
        return np.random.RandomState(int(random_state))
    raise ValueError("random_state must be None, an int, a numpy.random.RandomState or a "
                     f"numpy.random.Generator, got {random_state!r}.")


def _check_interactions(interactions: object) -> Interactions:
    if not isinstance(interactions, Interactions):
        raise ValueError("interactions must be a hybridrec.spotlight.interactions.Interactions, "
                         f"got {type(interactions).__name__}.")
    interactions.check()
    return interactions


def _check_percentage(test_percentage: object) -> float:
    if not is_real(test_percentage) or not 0.0 <= test_percentage <= 1.0:
        raise ValueError(f"test_percentage must be a number in [0, 1], got {test_percentage!r}.")
    return float(test_percentage)


def _subset(interactions: Interactions, index: object) -> Interactions:
    """The interactions at ``index`` (a slice, mask or index array), same counts."""
    def take(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else array[index]

    return Interactions(interactions.user_ids[index], interactions.item_ids[index],
                        ratings=take(interactions.ratings),
                        timestamps=take(interactions.timestamps),
                        weights=take(interactions.weights),
                        num_users=interactions.num_users, num_items=interactions.num_items)


def shuffle_interactions(interactions: Interactions, random_state: object = None
                         ) -> Interactions:
    """Shuffle interactions.

    Parameters
    ----------
    interactions : Interactions
    random_state : numpy.random.RandomState, int or Generator, optional
        Advanced by the shuffle (a ``RandomState`` draws Spotlight's permutation).

    Returns
    -------
    Interactions
        The same interactions in a random order (new arrays; same counts).
    """
    interactions = _check_interactions(interactions)
    rng = _random_state(random_state)
    index = np.arange(len(interactions))
    rng.shuffle(index)
    return _subset(interactions, index)


def random_train_test_split(interactions: Interactions, test_percentage: float = 0.2,
                            random_state: object = None) -> tuple[Interactions, Interactions]:
    """Randomly split interactions between training and testing.

    The interactions are shuffled; the first ``int((1 - test_percentage) * n)`` go to
    train, the rest to test.

    Parameters
    ----------
    interactions : Interactions
    test_percentage : float, default 0.2
        Fraction of interactions in the test set, in [0, 1].
    random_state : numpy.random.RandomState, int or Generator, optional

    Returns
    -------
    (train, test) : tuple of Interactions
        Both keep ``num_users`` and ``num_items`` of the input.
    """
    test_percentage = _check_percentage(test_percentage)
    shuffled = shuffle_interactions(interactions, random_state=random_state)
    cutoff = int((1.0 - test_percentage) * len(shuffled))
    return _subset(shuffled, slice(None, cutoff)), _subset(shuffled, slice(cutoff, None))


def user_based_train_test_split(interactions: Interactions, test_percentage: float = 0.2,
                                random_state: object = None
                                ) -> tuple[Interactions, Interactions]:
    """Split interactions by user: each user's whole history is in train or in test.

    A user is in test when ``murmurhash3_32(user_id, seed, positive=True) % 100 / 100 <
    test_percentage``, the seed drawn once from ``random_state`` (Spotlight's rule), so
    about ``test_percentage`` of the users are in test.

    Parameters
    ----------
    interactions : Interactions
    test_percentage : float, default 0.2
        Fraction of users in the test set, in [0, 1].
    random_state : numpy.random.RandomState, int or Generator, optional

    Returns
    -------
    (train, test) : tuple of Interactions
        Both keep ``num_users`` and ``num_items`` of the input, and the input's order.
    """
    interactions = _check_interactions(interactions)
    test_percentage = _check_percentage(test_percentage)
    rng = _random_state(random_state)
    upper = np.iinfo(np.uint32).max
    if isinstance(rng, np.random.RandomState):
        seed = rng.randint(0, upper, dtype=np.int64)
    else:
        seed = rng.integers(0, upper, dtype=np.int64)
    buckets = murmurhash3_32(interactions.user_ids, seed=int(seed), positive=True) % 100
    in_test = buckets / 100.0 < test_percentage
    return _subset(interactions, ~in_test), _subset(interactions, in_test)
