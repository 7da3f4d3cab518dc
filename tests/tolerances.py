"""Comparing numbers computed two ways, with a tolerance that scales with the numbers compared.

Why: float32 kernels (FFTs, matrix products, convolutions, sums) round differently from CPU to CPU and
from library to library, and their error grows with the largest values they combine, not with each
element. A fixed `atol` is right at one scale only (1.0 is tight for values near 1e7 and meaningless for
values near 1e-3), and numpy's elementwise `rtol` fails on the near-zero bins every spectrum has. So a
comparison between two code paths allows `rtol` of the reference's largest magnitude, everywhere.

Same-code-path determinism (one function run twice) needs none of this: compare it exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Two float32 code paths that compute the same thing (numpy vs torch FFTs, batched vs single matrix
# products): a few dozen float32 ulps (1.2e-7 each) of the largest value; seen here: 1.5e-7.
FLOAT32_PATHS_RTOL = 1e-5
# The same, after a process that feeds its own output back in (Griffin-Lim phase rebuilding, diffusion
# denoising steps): each round amplifies the rounding. Seen here: 1.7e-5 (numpy vs torch Griffin-Lim,
# 8 rounds), 2.7e-6 (batched vs single diffusion, 4 steps). Real bugs show as 1e-2 or more.
ITERATED_PATHS_RTOL = 1e-4


def scaled_error(actual: npt.ArrayLike, expected: npt.ArrayLike) -> float:
    """max |actual - expected| as a fraction of max |expected| (shapes must match, values be finite)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"shapes differ: {a.shape} vs {e.shape}"
    assert np.isfinite(a).all() and np.isfinite(e).all(), "NaN or infinity in a compared array"
    scale = float(np.abs(e).max()) if e.size else 0.0
    assert scale > 0.0, "the reference is all zeros: compare it exactly instead"
    return float(np.abs(a - e).max()) / scale


def assert_close_scaled(
    actual: npt.ArrayLike, expected: npt.ArrayLike, *, rtol: float = FLOAT32_PATHS_RTOL, what: str = ""
) -> None:
    """Every |actual - expected| <= rtol * max|expected|."""
    error = scaled_error(actual, expected)
    label = f"{what}: " if what else ""
    assert error <= rtol, (
        f"{label}max |difference| is {error:.3g} of the reference's largest value (allowed {rtol:g})"
    )
