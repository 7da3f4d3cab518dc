"""Integrated loudness (ITU-R BS.1770-4) and normalisation to a target with a smooth peak limiter.

Every result should sound equally loud next to the others in a channel (streaming services aim at about
-14 LUFS), without ever clipping: gain first, then a look-ahead limiter shapes the few peaks that end up above
the ceiling instead of cutting them flat.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

from services.audio.types import Audio

# K-weighting, stage 1 (head-related high shelf) and stage 2 (RLB high-pass), as analogue prototypes so the
# filters can be built at any sample rate; at 48 kHz they reproduce the coefficient tables of BS.1770-4.
_SHELF_F0 = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_HIGHPASS_F0 = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773

_BLOCK_S = 0.400  # gating block length
_STEP_S = 0.100  # 75 % overlap
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_LOUDNESS_OFFSET = -0.691
_SURROUND_WEIGHT = 1.41  # Ls, Rs in a 5.1 layout (L R C LFE Ls Rs)
_CORRECTION_ROUNDS = 3  # re-measurements after limiting in normalize_loudness
_MAX_CORRECTION_DB = 6.0  # the most gain added back to make up for limiting

FloatArray = npt.NDArray[np.float64]


Biquad = tuple[FloatArray, FloatArray]  # (b, a)


def k_weighting_filters(sample_rate: int) -> tuple[Biquad, Biquad]:
    """(b, a) of the shelf and of the high-pass for `sample_rate`, by the bilinear transform."""
    k = math.tan(math.pi * _SHELF_F0 / sample_rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**0.4996667741545416
    kq = k / _SHELF_Q
    a0 = 1.0 + kq + k * k
    shelf_b = np.array([vh + vb * kq + k * k, 2.0 * (k * k - vh), vh - vb * kq + k * k]) / a0
    shelf_a = np.array([a0, 2.0 * (k * k - 1.0), 1.0 - kq + k * k]) / a0

    k = math.tan(math.pi * _HIGHPASS_F0 / sample_rate)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([a0, 2.0 * (k * k - 1.0), 1.0 - k / _HIGHPASS_Q + k * k]) / a0
    return (shelf_b, shelf_a), (hp_b, hp_a)


def _channel_weights(channels: int) -> FloatArray:
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, _SURROUND_WEIGHT, _SURROUND_WEIGHT])
    return np.ones(channels)


def _check_finite(audio: Audio) -> None:
    if not np.isfinite(audio.samples).all():
        raise ValueError("audio contains NaN or infinite samples")


def _block_powers(audio: Audio) -> FloatArray:
    """Mean square of the K-weighted signal per channel per 400 ms block, shape (channels, blocks).

    Audio shorter than one block is measured as a single (short) block, so a 0.3 s sting still gets a
    loudness instead of silence.
    """
    sr = audio.sample_rate
    (sb, sa), (hb, ha) = k_weighting_filters(sr)
    x = audio.samples.astype(np.float64)
    y = signal.lfilter(hb, ha, signal.lfilter(sb, sa, x, axis=1), axis=1)
    sq = np.concatenate([np.zeros((audio.channels, 1)), np.cumsum(y * y, axis=1)], axis=1)
    block = round(_BLOCK_S * sr)
    frames = audio.frames
    if frames < block:
        return (sq[:, -1] / frames)[:, np.newaxis]
    count = int(math.floor((frames - block) / (_STEP_S * sr) + 1e-9)) + 1
    starts = np.round(np.arange(count) * _STEP_S * sr).astype(np.int64)
    return np.asarray((sq[:, starts + block] - sq[:, starts]) / block, dtype=np.float64)


def _loudness_of(powers: FloatArray, weights: FloatArray) -> float:
    """-0.691 + 10 log10 of the weighted channel sum of mean powers (`powers` is channels x blocks)."""
    total = float(np.dot(weights, powers.mean(axis=1)))
    return _LOUDNESS_OFFSET + 10.0 * math.log10(total) if total > 0.0 else -math.inf


def integrated_loudness(audio: Audio) -> float:
    """Gated integrated loudness in LUFS; -inf for silence or when every block is below -70 LUFS."""
    _check_finite(audio)
    if audio.frames == 0:
        return -math.inf
    powers = _block_powers(audio)
    weights = _channel_weights(audio.channels)
    summed = weights @ powers
    with np.errstate(divide="ignore"):
        block_lufs = _LOUDNESS_OFFSET + 10.0 * np.log10(summed)
    above_abs = block_lufs > _ABSOLUTE_GATE_LUFS
    if not above_abs.any():
        return -math.inf
    relative_gate = _loudness_of(powers[:, above_abs], weights) + _RELATIVE_GATE_LU
    kept = above_abs & (block_lufs > relative_gate)
    return _loudness_of(powers[:, kept], weights)


def _window_min_forward(x: FloatArray, width: int) -> FloatArray:
    """out[n] = min(x[n : n + width]), with ones beyond the end (gain 1 = untouched)."""
    padded = np.concatenate([x, np.ones(width)])
    centred = ndimage.minimum_filter1d(padded, size=width, mode="nearest")
    shift = width // 2  # a centred window at c covers [c - width//2, c - width//2 + width - 1]
    return np.asarray(centred[shift : shift + x.size])


def _window_mean_backward(x: FloatArray, width: int) -> FloatArray:
    """out[n] = mean(x[n - width + 1 : n + 1]), with ones before the start."""
    padded = np.concatenate([np.ones(width), x])
    csum = np.concatenate([[0.0], np.cumsum(padded)])
    return np.asarray((csum[width + 1 :] - csum[1 : x.size + 1]) / width)


def _smooth_gain(required: FloatArray, width: int) -> FloatArray:
    """A gain curve that never exceeds `required` and ramps over `width` frames instead of jumping.

    Each averaged window only contains forward minima whose windows include the current frame, so the average
    is at most the requirement there; the ramp starts `width` frames before a peak (the look-ahead).
    """
    if width <= 1:
        return required
    return _window_mean_backward(_window_min_forward(required, width), width)


def limit_peaks(
    audio: Audio, ceiling_db: float = -1.0, *, lookahead_s: float = 0.005, release_s: float = 0.05
) -> Audio:
    """Bring every sample under `ceiling_db` dBFS with a smooth, look-ahead gain envelope (linked channels).

    A short look-ahead stage catches the transient, a longer second stage turns the gain dips into slow
    swells so the limiting is not heard as distortion. Audio already under the ceiling is returned as is.
    """
    _check_finite(audio)
    ceiling = 10.0 ** (ceiling_db / 20.0)
    if audio.frames == 0:
        return audio
    peak = np.abs(audio.samples).max(axis=0).astype(np.float64)
    if float(peak.max()) <= ceiling:
        return audio
    required = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    sr = audio.sample_rate
    gain = _smooth_gain(required, max(1, round(lookahead_s * sr)))
    gain = _smooth_gain(gain, max(1, round(release_s * sr)))
    gain = np.minimum(gain, required)  # guards against rounding in the running sums
    out = (audio.samples.astype(np.float64) * gain).astype(np.float32)
    ceiling32 = np.float32(ceiling)
    if float(ceiling32) > ceiling:
        ceiling32 = np.nextafter(ceiling32, np.float32(0.0))
    np.clip(out, -ceiling32, ceiling32, out=out)
    return Audio(out, sr)


def normalize_loudness(audio: Audio, target_lufs: float = -14.0, peak_ceiling_db: float = -1.0) -> Audio:
    """Gain to `target_lufs`, then limit peaks to `peak_ceiling_db`; silence (below the -70 gate) stays as is.

    Limiting removes a little loudness from peaky material, so the gain is corrected after the first pass
    (a few rounds, at most +6 dB in all) to land close to the target.
    """
    return normalize_loudness_measured(audio, target_lufs, peak_ceiling_db)[0]


def normalize_loudness_measured(
    audio: Audio, target_lufs: float = -14.0, peak_ceiling_db: float = -1.0
) -> tuple[Audio, float]:
    """normalize_loudness, and the integrated loudness of what it returns (-inf for silence): the last
    correction round has measured it already, so a caller that reports loudness need not measure again."""
    if not (math.isfinite(target_lufs) and math.isfinite(peak_ceiling_db)):
        raise ValueError("target loudness and ceiling must be finite numbers")
    if peak_ceiling_db > 0.0:
        raise ValueError("the peak ceiling must be at or below 0 dBFS")
    measured = integrated_loudness(audio)  # also rejects NaN / inf
    if not math.isfinite(measured):
        return audio, measured
    gain_db = target_lufs - measured
    out = limit_peaks(_apply_gain(audio, gain_db), peak_ceiling_db)
    extra = 0.0
    for _ in range(_CORRECTION_ROUNDS):
        level = integrated_loudness(out)
        shortfall = target_lufs - level
        if shortfall <= 0.1 or extra >= _MAX_CORRECTION_DB:
            return out, level
        extra = min(extra + shortfall, _MAX_CORRECTION_DB)
        out = limit_peaks(_apply_gain(audio, gain_db + extra), peak_ceiling_db)
    return out, integrated_loudness(out)


def _apply_gain(audio: Audio, gain_db: float) -> Audio:
    factor = 10.0 ** (gain_db / 20.0)
    return Audio((audio.samples.astype(np.float64) * factor).astype(np.float32), audio.sample_rate)


def peak_db(audio: Audio) -> float:
    """Sample peak in dBFS (-inf for silence)."""
    peak = float(np.abs(audio.samples).max()) if audio.frames else 0.0
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf
