"""Are there drums? The energy of brief, noisy sound above 9 kHz — cymbals, hats, snares — as a share of
all the energy.

Median filtering across frequency keeps what is broadband in one frame (hits); across time, what is
steady in one band (notes): the soft mask between the two (Fitzgerald's harmonic/percussive separation)
finds the hits. Bright pitched attacks are hits too — a clavinet, a slap bass, a guitar's skank — but
their spectrum is a comb of partials, while a drum's is noise: only frames whose hit spectrum above
5 kHz is flat (FLATNESS) count. bench/heard.py: 100% present/absent on its 136 items, the quietest drums
1.5 decades above the brightest drum-free piece (DRUMS_SHARE sits in the middle of that gap).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from services.heard.onsets import N_FFT, RATE, Spectrum

DRUMS_SHARE = 4.3e-5  # noisy hit energy above HIGH_HZ per unit of all energy (calibrated in bench/heard.py)
HIGH_HZ = 9000.0  # cymbals and hats ring up here; plucked and struck pitched notes have little left
FLAT_FROM_HZ = 5000.0  # the band whose flatness tells noise from partials
FLATNESS = 0.75  # geometric over arithmetic mean of a frame's hit spectrum: noise near 0.9, partials low
MIN_SOURCE_RATE = 2 * 10_000  # below this the band above HIGH_HZ was never recorded: not measured


def percussive_share(spec: Spectrum, source_rate: int) -> float | None:
    """The share, or None when the audio was made at a rate with nothing above HIGH_HZ to hear."""
    if source_rate < MIN_SOURCE_RATE:
        return None
    total = float(np.sum(spec.magnitude.astype(np.float64) ** 2))
    if total <= 0:
        return 0.0
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    # a little below FLAT_FROM_HZ so the frequency median has neighbours; every other frame (23 ms, still
    # shorter than a hit) and pairs of bins (43 Hz): a quarter of the work
    low = freqs >= FLAT_FROM_HZ - 400.0
    band = spec.magnitude[low][:, ::2]
    pairs = band.shape[0] // 2
    mag = band[: pairs * 2].reshape(pairs, 2, -1).sum(axis=1).astype(np.float32)
    centres = freqs[low][: pairs * 2].reshape(pairs, 2).mean(axis=1)
    harmonic = ndimage.median_filter(mag, size=(1, 5), mode="nearest")
    percussive = ndimage.median_filter(mag, size=(9, 1), mode="nearest")
    mask = percussive**2 / (percussive**2 + harmonic**2 + 1e-12)
    hits = (mask * mag**2).astype(np.float64)
    flat_band = np.sqrt(hits[centres >= FLAT_FROM_HZ]) + 1e-9
    flatness = np.exp(np.mean(np.log(flat_band), axis=0)) / np.mean(flat_band, axis=0)
    high = hits[centres >= HIGH_HZ].sum(axis=0)
    # ×4 to the whole spectrogram's scale: every other frame, and bins summed in pairs
    return float(4.0 * float(high[flatness >= FLATNESS].sum()) / total)
