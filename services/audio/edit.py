"""Length and transition edits: fades, trim, loop, exact-length fitting, crossfaded joins, resampling.

Users ask for "30 seconds"; backends return roughly that. These helpers turn "roughly" into exactly, without
clicks: every cut is covered by a fade and every join by a crossfade.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import signal

from services.audio.types import Audio

Curve = Literal["cosine", "equal_power"]
"""cosine: raised cosine, gains of the two sides sum to 1 (right for correlated material and plain fades).
equal_power: quarter sine/cosine, powers sum to 1 (right for joining unrelated material: no dip mid-way)."""

DECLICK_S = 0.010  # a fade this short is inaudible as a fade but removes the click of a hard cut
_SHORT_GAP_S = 1.0  # fit_length pads (instead of looping) when missing at most this much ...
_SHORT_GAP_FRACTION = 0.05  # ... or this fraction of the target


def _frames(seconds: float, sample_rate: int, what: str) -> int:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} must be a finite, non-negative number of seconds, got {seconds!r}")
    return round(seconds * sample_rate)


def fade_curve(length: int, curve: Curve = "cosine") -> npt.NDArray[np.float64]:
    """Rising gain from 0 to 1 over `length` frames (the falling one is its reverse)."""
    if length <= 0:
        return np.zeros(0)
    t = (np.arange(length) + 0.5) / length
    if curve == "cosine":
        return np.asarray(0.5 - 0.5 * np.cos(np.pi * t))
    if curve == "equal_power":
        return np.asarray(np.sin(0.5 * np.pi * t))
    raise ValueError(f"unknown fade curve {curve!r}")


def fade(audio: Audio, fade_in_s: float, fade_out_s: float, curve: Curve = "cosine") -> Audio:
    """Fade in over the first `fade_in_s` and out over the last `fade_out_s` seconds.

    When both fades together are longer than the audio, they are shortened in proportion so they meet.
    """
    n = audio.frames
    fin = _frames(fade_in_s, audio.sample_rate, "fade-in")
    fout = _frames(fade_out_s, audio.sample_rate, "fade-out")
    if fin + fout > n:
        scale = n / (fin + fout)
        fin, fout = int(fin * scale), int(fout * scale)
    if fin == 0 and fout == 0:
        return audio
    gain = np.ones(n)
    if fin:
        gain[:fin] = fade_curve(fin, curve)
    if fout:
        gain[n - fout :] *= fade_curve(fout, curve)[::-1]
    return Audio((audio.samples * gain).astype(np.float32), audio.sample_rate)


def trim(audio: Audio, seconds: float, *, start_s: float = 0.0) -> Audio:
    """The `seconds` after `start_s` (hard cut; fade afterwards if the cut lands mid-note). Never pads."""
    start = min(_frames(start_s, audio.sample_rate, "start"), audio.frames)
    stop = min(start + _frames(seconds, audio.sample_rate, "length"), audio.frames)
    return Audio(np.ascontiguousarray(audio.samples[:, start:stop]), audio.sample_rate)


def pad(audio: Audio, seconds: float) -> Audio:
    """Silence appended so the audio lasts at least `seconds`."""
    missing = _frames(seconds, audio.sample_rate, "length") - audio.frames
    if missing <= 0:
        return audio
    tail = np.zeros((audio.channels, missing), dtype=np.float32)
    return Audio(np.concatenate([audio.samples, tail], axis=1), audio.sample_rate)


Samples = npt.NDArray[np.float32]


def _join(a: Samples, b: Samples, overlap: int, curve: Curve) -> Samples:
    """a then b, the last `overlap` frames of a crossfaded with the first `overlap` of b."""
    if overlap <= 0:
        return np.concatenate([a, b], axis=1)
    rise = fade_curve(overlap, curve)
    mixed = a[:, a.shape[1] - overlap :] * rise[::-1] + b[:, :overlap] * rise
    return np.concatenate([a[:, : a.shape[1] - overlap], mixed.astype(np.float32), b[:, overlap:]], axis=1)


def loop_to(audio: Audio, seconds: float, crossfade_s: float = 0.5, curve: Curve = "equal_power") -> Audio:
    """Exactly `seconds` long: material repeated end-to-start with a crossfade at each seam, then cut.

    Longer material is simply cut (hard; fade it afterwards). The crossfade is shortened to a quarter of the
    material so a seam never eats the loop.
    """
    target = _frames(seconds, audio.sample_rate, "length")
    if audio.frames == 0:
        if target:
            raise ValueError("cannot loop empty audio")
        return audio
    if audio.frames >= target:
        return trim(audio, seconds)
    n = audio.frames
    overlap = min(_frames(crossfade_s, audio.sample_rate, "crossfade"), n // 4)
    step = n - overlap
    copies = math.ceil((target - n) / step) + 1
    out = np.zeros((audio.channels, n + (copies - 1) * step), dtype=np.float32)
    rise = fade_curve(overlap, curve).astype(np.float32)
    for i in range(copies):  # each copy written once: linear in the output length
        seg = audio.samples.copy()
        if i > 0 and overlap:
            seg[:, :overlap] *= rise
        if i < copies - 1 and overlap:
            seg[:, n - overlap :] *= rise[::-1]
        out[:, i * step : i * step + n] += seg
    return Audio(np.ascontiguousarray(out[:, :target]), audio.sample_rate)


def fit_length(
    audio: Audio,
    seconds: float,
    *,
    fade_out_s: float = 2.0,
    crossfade_s: float = 0.5,
) -> Audio:
    """Exactly `round(seconds * sample_rate)` frames, ending cleanly.

    - Too long: cut and faded out over `fade_out_s` (shortened to a tenth of the result for short pieces).
    - A little short (at most 1 s or 5 % missing): padded with silence after a de-click fade; the piece
      already ends on its own, and a loop seam in its last second would sound like a glitch.
    - Much too short: looped with crossfades (repetition is what music does) and faded out like a long piece.
    """
    target = _frames(seconds, audio.sample_rate, "length")
    sr = audio.sample_rate
    if target == 0:
        return Audio(np.zeros((audio.channels, 0), dtype=np.float32), sr)
    ending = min(_frames(fade_out_s, sr, "fade-out") / sr, 0.1 * target / sr)
    if audio.frames == target:
        return audio
    if audio.frames > target:
        return fade(trim(audio, target / sr), 0.0, ending)
    missing = target - audio.frames
    if audio.frames == 0:
        return pad(audio, target / sr)
    if missing <= max(_SHORT_GAP_S * sr, _SHORT_GAP_FRACTION * target):
        return pad(fade(audio, 0.0, DECLICK_S), target / sr)
    return fade(loop_to(audio, target / sr, crossfade_s), 0.0, ending)


def concat_crossfade(parts: Sequence[Audio], crossfade_s: float, curve: Curve = "equal_power") -> Audio:
    """Parts joined in order, each seam crossfaded; mono parts are widened when others are stereo.

    Each seam's crossfade is at most half of the shorter neighbour, so no part disappears into its seams.
    """
    if not parts:
        raise ValueError("nothing to join")
    rates = {p.sample_rate for p in parts}
    if len(rates) != 1:
        raise ValueError(f"parts have different sample rates {sorted(rates)}; resample them first")
    sr = rates.pop()
    wanted = _frames(crossfade_s, sr, "crossfade")
    channels = max(p.channels for p in parts)
    arrays = [_with_channels(p, channels) for p in parts]
    out = arrays[0]
    previous = arrays[0].shape[1]
    for arr in arrays[1:]:
        overlap = min(wanted, previous // 2, arr.shape[1] // 2)
        out = _join(out, arr, overlap, curve)
        previous = arr.shape[1]
    return Audio(np.ascontiguousarray(out), sr)


def _with_channels(audio: Audio, channels: int) -> Samples:
    if audio.channels == channels:
        return audio.samples
    if audio.channels == 1:
        return np.repeat(audio.samples, channels, axis=0)
    if channels == 2:
        return audio.to_stereo().samples
    raise ValueError(f"cannot join {audio.channels}-channel audio with {channels}-channel audio")


def resample(audio: Audio, sample_rate: int) -> Audio:
    """Polyphase resampling (anti-aliased) to `sample_rate`; exact ratio, so 44.1 k <-> 48 k is cheap."""
    if sample_rate <= 0:
        raise ValueError("sample rate must be positive")
    if sample_rate == audio.sample_rate or audio.frames == 0:
        return Audio(audio.samples, sample_rate) if audio.frames == 0 else audio
    g = math.gcd(sample_rate, audio.sample_rate)
    out = signal.resample_poly(audio.samples, sample_rate // g, audio.sample_rate // g, axis=1)
    return Audio(np.ascontiguousarray(out, dtype=np.float32), sample_rate)
