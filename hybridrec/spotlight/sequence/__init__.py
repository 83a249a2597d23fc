"""Spotlight's ``spotlight.sequence``: next-item models over sequences of interactions
(``implicit.ImplicitSequenceModel`` and the ``representations``), on hybridrec's sequence
engine (``hybridrec.sequence``)."""
