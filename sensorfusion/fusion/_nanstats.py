"""NaN-aware reductions that never warn.

``np.nanmedian`` / ``np.nanmean`` warn on a slice with no value ("All-NaN slice", "Mean of
empty slice"), and the usual cure, ``warnings.catch_warnings()``, swaps the interpreter's global
warning filters: it is not thread-safe, and a run's stages are threads, so one stage's cure can
turn another stage's warning into an error (or hide it). These compute the same values and
return NaN for an empty slice without warning at all.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["quiet_nanmean", "quiet_nanmedian"]


def _reduce(fn: object, x: ArrayLike, axis: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.shape[axis] == 0:
        return np.full(np.delete(a.shape, axis % a.ndim), np.nan)
    empty = np.isnan(a).all(axis=axis, keepdims=True)
    out = fn(np.where(empty, 0.0, a), axis=axis, keepdims=True)  # type: ignore[operator]
    return np.asarray(np.squeeze(np.where(empty, np.nan, out), axis=axis))


def quiet_nanmedian(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """``np.nanmedian(x, axis)`` as float64, NaN where a slice has no value, never a warning."""
    return _reduce(np.nanmedian, x, axis)


def quiet_nanmean(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """``np.nanmean(x, axis)`` as float64, NaN where a slice has no value, never a warning."""
    return _reduce(np.nanmean, x, axis)
