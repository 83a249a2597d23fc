"""scikit-learn's parameter protocol, derived from a class's ``__init__`` signature.

Shared by ``LightFM`` and ``Recommender`` so that ``clone``, ``get_params`` and
``set_params`` behave alike without scikit-learn as a dependency (its guide says duck
typing suffices).
"""

from __future__ import annotations

import inspect
from typing import Any


class InvalidParameterError(ValueError, AssertionError):
    """An invalid hyper-parameter value, raised by the constructor and again by ``fit``.

    A ``ValueError`` with a message naming the parameter, the rule and the value; also an
    ``AssertionError``, because LightFM checks its constructor arguments with ``assert``,
    so code written for LightFM that catches ``AssertionError`` keeps working
    (scikit-learn's ``InvalidParameterError`` subclasses ``ValueError`` and ``TypeError``
    for the same reason).
    """


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's parameters.

    Subclasses store every constructor argument unmodified under its own name.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        return [name for name in inspect.signature(cls.__init__).parameters
                if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """Hyper-parameters exactly as given to the constructor (scikit-learn protocol).

        Parameters
        ----------
        deep : bool, default True
            Ignored (there are no nested estimators); kept for scikit-learn.

        Returns
        -------
        dict
            Parameter name to value.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set hyper-parameters (scikit-learn protocol); they are validated at ``fit``.

        Parameters
        ----------
        **params
            Constructor parameters.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a name that is not a constructor parameter (LightFM's message).
        """
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key} for estimator {self}. Check the list of "
                    "available parameters with `estimator.get_params().keys()`."
                )
            setattr(self, key, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn (>= 1.6) estimator tags, without scikit-learn as a dependency.

        scikit-learn >= 1.6 asks every estimator for its tags (``RandomizedSearchCV``,
        ``cross_val_score`` with a scorer, ...) and no longer falls back to defaults, so
        duck typing alone is not enough there. Only scikit-learn calls this, so it
        imports scikit-learn only then. The tags are ``BaseEstimator``'s defaults (no
        estimator type, no target needed), with sparse matrix input allowed.

        Returns
        -------
        sklearn.utils.Tags
        """
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=None, regressor_tags=None, classifier_tags=None,
                    input_tags=InputTags(sparse=True))

    def __repr__(self) -> str:
        """Constructor call showing the parameters that differ from the defaults."""
        defaults = {name: p.default
                    for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if not (type(value) is type(defaults[name]) and value == defaults[name])]
        return f"{type(self).__name__}({', '.join(changed)})"
