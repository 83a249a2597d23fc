"""Spotlight's public API on hybridrec: change ``spotlight.`` to ``hybridrec.spotlight.``.

The modules mirror Spotlight 0.1.6 one to one: ``interactions``, ``cross_validation``,
``evaluation``, ``factorization`` (``implicit``, ``explicit``, ``representations``),
``sequence``, ``layers``, ``losses``, ``sampling``, ``torch_utils`` and ``datasets``
(``movielens``, ``goodbooks``, ``amazon``, ``synthetic``). No PyTorch is needed: models
train on hybridrec's numba kernels. The README's "Migrating from Spotlight" table lists
the differences.
"""

#: The Spotlight release whose API this package mirrors.
SPOTLIGHT_VERSION = "0.1.6"
