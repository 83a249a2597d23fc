"""hybridrec: hybrid (LightFM-family) recommender models on numba kernels."""

from .model import LightFM

__version__ = "0.1.0"

__all__ = ["LightFM", "__version__"]
