"""Sample weights from timestamps: exponential time decay with a half-life."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_frame, is_real

__all__ = ["time_decay"]

_REPEATED = ("sum", "latest", "keep")


def _ages(times: pd.Series, now: Any, half_life: Any) -> np.ndarray:
    """Age of each timestamp in half-lives (>= 0 for times before ``now``)."""
    if pd.api.types.is_datetime64_any_dtype(times):
        try:
            half = pd.Timedelta(half_life)
        except (TypeError, ValueError):
            raise ValueError(f"half_life must be a duration (e.g. '30D' or a Timedelta) for "
                             f"datetime timestamps, got {half_life!r}.") from None
        if half <= pd.Timedelta(0):
            raise ValueError(f"half_life must be positive, got {half_life!r}.")
        reference = times.max() if now is None else pd.Timestamp(now)
        return ((reference - times) / half).to_numpy(dtype=np.float64)
    if not pd.api.types.is_numeric_dtype(times) or pd.api.types.is_bool_dtype(times):
        raise ValueError(f"the time column must hold numbers or datetimes, got dtype "
                         f"{times.dtype}.")
    if not is_real(half_life) or not np.isfinite(half_life) or half_life <= 0:
        raise ValueError(f"half_life must be a positive number (in the timestamps' unit) "
                         f"for numeric timestamps, got {half_life!r}.")
    values = times.to_numpy(dtype=np.float64)
    reference = values.max() if now is None else float(now)
    return (reference - values) / float(half_life)


def time_decay(frame: pd.DataFrame, time_col: Hashable, half_life: Any, *,
               user_col: Hashable = "user_id", item_col: Hashable = "item_id",
               repeated: str = "sum", now: Any = None, weight_col: Hashable | None = None,
               out_col: Hashable = "weight") -> pd.DataFrame:
    """Interactions weighted by recency: ``weight = 0.5 ** (age / half_life)``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Interactions with a time column.
    time_col : hashable
        Numbers (e.g. Unix seconds) or datetimes; NaN / NaT is an error.
    half_life : number or duration
        After this long a weight halves: in the timestamps' unit for numbers, a
        ``Timedelta`` or a string such as ``"30D"`` for datetimes.
    user_col, item_col : hashable
        Key columns (for ``repeated``).
    repeated : {"sum", "latest", "keep"}, default "sum"
        Pairs seen several times: one row per pair with the sum of the decayed weights
        (a pair chosen often and lately counts most), one row with the latest one's
        weight (only the last choice counts), or every row kept with its own weight.
        One row per pair keeps the latest timestamp.
    now : scalar, optional
        The reference time (default: the latest timestamp); later rows get weights > 1.
    weight_col : hashable, optional
        Existing weights to multiply (e.g. ratings); default 1.
    out_col : hashable, default "weight"
        Name of the weight column of the result.

    Returns
    -------
    pandas.DataFrame
        ``frame``'s rows (combined per ``repeated``) with ``out_col``; use it as
        ``Recommender.fit(result, weight_col="weight")``.

    Raises
    ------
    ValueError
        Missing columns, missing timestamps, a bad half-life, an unknown ``repeated``.
    """
    if repeated not in _REPEATED:
        raise ValueError(f"repeated must be one of {_REPEATED}, got {repeated!r}.")
    columns = [time_col] + ([user_col, item_col] if repeated != "keep" else []) + (
        [weight_col] if weight_col is not None else [])
    check_frame(frame, "frame", columns)
    if frame[time_col].isna().any():
        raise ValueError(f"frame[{time_col!r}] has {int(frame[time_col].isna().sum())} missing "
                         "timestamp(s); drop or fill them first.")
    weights = np.power(0.5, _ages(frame[time_col], now, half_life))
    if weight_col is not None:
        base = frame[weight_col].to_numpy(dtype=np.float64)
        if not np.isfinite(base).all():
            raise ValueError(f"frame[{weight_col!r}] holds NaN or infinite weights.")
        weights = weights * base
    out = frame.assign(**{out_col: weights.astype(np.float32)})
    if repeated == "keep":
        return out
    out = out.sort_values(time_col, kind="stable")
    grouped = out.groupby([user_col, item_col], sort=False)
    latest = grouped.tail(1).set_index([user_col, item_col])
    if repeated == "sum":
        latest[out_col] = grouped[out_col].sum().astype(np.float32)
    return latest.reset_index()[list(frame.columns.drop([out_col], errors="ignore"))
                                + [out_col]]
