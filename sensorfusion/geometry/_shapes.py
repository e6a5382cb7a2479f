"""Shape checks for batched geometry inputs: one helper, one error carrying expected vs actual."""

from __future__ import annotations

import numpy as np

from .._errors import SchemaError

__all__ = ["ShapeError", "as_points"]


class ShapeError(SchemaError):
    """An array does not have the shape a geometry function needs.

    ``expected_shape`` is written as in the docstrings (``"(*, N, 3)"``); ``actual_shape`` is the
    tuple that was given.
    """

    def __init__(self, name: str, expected_shape: str, actual_shape: tuple[int, ...]) -> None:
        self.name = name
        self.expected_shape = expected_shape
        self.actual_shape = actual_shape
        super().__init__(f"{name}: expected shape {expected_shape}, got {actual_shape}")


def as_points(name: str, array: object, last: int, *, min_ndim: int = 2) -> np.ndarray:
    """``array`` as C-contiguous float64 of shape ``(*, N, last)``, or :class:`ShapeError`."""
    arr = np.ascontiguousarray(np.asarray(array, dtype=np.float64))
    expected = f"(*, N, {last})" if min_ndim >= 2 else f"(*, {last})"
    if arr.ndim < min_ndim or arr.shape[-1] != last:
        raise ShapeError(name, expected, tuple(arr.shape))
    return arr
