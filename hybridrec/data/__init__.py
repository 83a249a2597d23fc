"""Data helpers: synthetic data sets (more arrives with the data layer)."""

from .datasets import synthetic

__all__ = ["synthetic"]
