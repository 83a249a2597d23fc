"""hybridrec: hybrid (LightFM-family) recommender models on numba kernels."""

__version__ = "0.1.0"

from ._early_stopping import EarlyStopping  # noqa: E402
from ._params import InvalidParameterError  # noqa: E402
from .baselines import PopularityModel, RandomModel  # noqa: E402
from .model import LightFM  # noqa: E402
from .recommender import Recommender  # noqa: E402

__all__ = ["EarlyStopping", "InvalidParameterError", "LightFM", "PopularityModel",
           "RandomModel", "Recommender", "__version__"]
