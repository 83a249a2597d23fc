"""Data layer: id mapping, LightFM-compatible Dataset, DataFrame builders, splits, data sets.

``from hybridrec.data import Dataset, random_train_test_split`` replaces
``lightfm.data.Dataset`` and ``lightfm.cross_validation.random_train_test_split``;
``fetch_movielens`` / ``fetch_stackexchange`` replace ``lightfm.datasets``.
"""

from .dataset import Dataset
from .datasets import (
    SyntheticData,
    fetch_movielens,
    fetch_stackexchange,
    load_movielens,
    synthetic,
)
from .features import (
    ColumnEncoding,
    FeatureEncoder,
    FeatureMatrix,
    combine_features,
    features_from_frame,
    features_from_long_frame,
    normalize_rows,
)
from .interactions import Interactions, interactions_from_frame
from .mapping import IdMapper
from .split import (
    per_user_train_test_split,
    random_train_test_split,
    temporal_train_test_split,
)
from .weights import time_decay

__all__ = [
    "ColumnEncoding",
    "Dataset",
    "FeatureEncoder",
    "FeatureMatrix",
    "IdMapper",
    "Interactions",
    "SyntheticData",
    "combine_features",
    "features_from_frame",
    "features_from_long_frame",
    "fetch_movielens",
    "fetch_stackexchange",
    "interactions_from_frame",
    "load_movielens",
    "normalize_rows",
    "per_user_train_test_split",
    "random_train_test_split",
    "synthetic",
    "temporal_train_test_split",
    "time_decay",
]
