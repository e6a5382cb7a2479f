"""The quiet NaN reductions: numpy's values, NaN for an empty slice, and never a warning (stages
are threads, and warnings.catch_warnings() is not thread-safe)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sensorfusion.fusion import quiet_nanmean, quiet_nanmedian


@pytest.mark.parametrize(("quiet", "ref"), [(quiet_nanmedian, np.nanmedian), (quiet_nanmean, np.nanmean)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_same_values_as_numpy_and_nan_for_empty_slices(quiet, ref, axis) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 6, 3))
    x[rng.random(x.shape) < 0.4] = np.nan
    x[1] = np.nan  # a whole person missing
    x[:, 2, :] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = quiet(x, axis=axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ref(x, axis=axis)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)])


def test_zero_length_axis_and_inf() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quiet_nanmedian(np.zeros((4, 0)), axis=1).shape == (4,)
        assert np.isnan(quiet_nanmedian(np.zeros((4, 0)), axis=1)).all()
        assert quiet_nanmean(np.zeros((0, 3)), axis=0).shape == (3,)
        assert quiet_nanmedian(np.array([np.inf, np.nan, 1.0, 2.0])) == 2.0  # inf is a value, as in numpy
