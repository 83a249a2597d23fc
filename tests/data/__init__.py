"""Tests of hybridrec.data."""
