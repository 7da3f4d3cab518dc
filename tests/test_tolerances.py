"""The scale-aware comparison the cross-code-path tests use: it must pass rounding and fail real errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tolerances import FLOAT32_PATHS_RTOL, assert_close_scaled, scaled_error


def test_rounding_at_a_large_scale_passes_where_a_fixed_atol_failed() -> None:
    """The fresh-clone failure: a difference of 2.0 on values up to 1.4e7 is 1.4e-7 of the scale."""
    reference = np.array([1.4e7, 3.0e5, 12.0, 0.5])
    other = reference + np.array([1.0, -2.0, 2.0, 0.0])  # near-zero bins carry the big values' rounding
    assert scaled_error(other, reference) == pytest.approx(2.0 / 1.4e7)
    assert_close_scaled(other, reference, rtol=FLOAT32_PATHS_RTOL)


def test_the_same_difference_at_a_small_scale_fails() -> None:
    reference = np.array([1.4e3, 3.0e2, 12.0, 0.5])
    with pytest.raises(AssertionError, match="largest value"):
        assert_close_scaled(reference + 2.0, reference, rtol=FLOAT32_PATHS_RTOL)


def test_shape_nan_and_all_zero_references_are_refused() -> None:
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_close_scaled(np.ones(3), np.ones(4))
    with pytest.raises(AssertionError, match="NaN"):
        assert_close_scaled(np.array([np.nan, 1.0]), np.ones(2))
    with pytest.raises(AssertionError, match="all zeros"):
        assert_close_scaled(np.zeros(2), np.zeros(2))
