"""Warnings for Spotlight arguments that only mean something to PyTorch."""

from __future__ import annotations

import warnings

#: Why ``sparse=True`` changes nothing here.
SPARSE_REASON = ("hybridrec's updates are always sparse: each example steps only the rows "
                 "of its user and items (PyTorch's sparse gradients are what it does anyway).")


def warn_no_effect(argument: str, reason: str, stacklevel: int = 3) -> None:
    """Warn that a PyTorch-only ``argument`` is accepted but changes nothing, and why."""
    warnings.warn(f"{argument} has no effect in hybridrec: {reason}", UserWarning,
                  stacklevel=stacklevel)
