"""hybridrec: hybrid (LightFM-family) recommender models on numba kernels."""

from .baselines import PopularityModel, RandomModel
from .model import LightFM

__version__ = "0.1.0"

__all__ = ["LightFM", "PopularityModel", "RandomModel", "__version__"]
