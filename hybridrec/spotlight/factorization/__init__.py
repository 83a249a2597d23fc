"""Spotlight's ``spotlight.factorization``: implicit and explicit factorization models and
their bilinear representation, on hybridrec's LightFM engine."""
