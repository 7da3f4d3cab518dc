"""Are there drums? The energy of brief, broadband sound above 5 kHz — cymbals, hats, snares — as a
share of all the energy.

Median filtering across frequency keeps what is broadband in one frame (hits); across time, what is
steady in one band (notes): the soft mask between the two (Fitzgerald's harmonic/percussive separation)
finds the hits. Above 5 kHz plucked and bowed instruments have little percussive energy and drum kits a
lot, which tells them apart far better than the whole spectrum does (bench/heard.py: 97% against 86%).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from services.heard.onsets import N_FFT, RATE, Spectrum

DRUMS_SHARE = 0.0018  # percussive energy above HIGH_HZ per unit of all energy (calibrated in bench/heard.py)
HIGH_HZ = 5000.0


def percussive_share(spec: Spectrum) -> float:
    total = float(np.sum(spec.magnitude.astype(np.float64) ** 2))
    if total <= 0:
        return 0.0
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    # a little below HIGH_HZ so the frequency median has neighbours; 43 frames a second, 43 Hz bands
    band = spec.magnitude[freqs >= HIGH_HZ - 400.0][:, ::2]
    pairs = band.shape[0] // 2
    mag = band[: pairs * 2].reshape(pairs, 2, -1).sum(axis=1).astype(np.float64)
    harmonic = ndimage.median_filter(mag, size=(1, 9), mode="nearest")
    percussive = ndimage.median_filter(mag, size=(9, 1), mode="nearest")
    mask = percussive**2 / (percussive**2 + harmonic**2 + 1e-12)
    return float(2.0 * np.sum(mask[2:] * mag[2:] ** 2) / total)
