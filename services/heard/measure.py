"""Measure a rendered piece: one call, plain data back, cheap enough to run on every result.

Runs in the worker after mastering (never on the event loop); imports nothing heavier than scipy, so
the bot process never pays for it at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from services.audio.analysis import chroma_profile
from services.audio.loudness import integrated_loudness
from services.audio.types import Audio
from services.heard.drums import DRUMS_SHARE, percussive_share
from services.heard.key import KEY_FMAX, KEY_FMIN, estimate_key
from services.heard.onsets import RATE, onset_envelope, spectrum
from services.heard.tempo import estimate_tempo
from services.heard.types import Heard


def measure(
    audio: Audio,
    *,
    stated_bpm: float | None = None,
    pitch_set: Iterable[int] | None = None,
    loudness_lufs: float | None = None,
) -> Heard:
    """What `audio` sounds like. `loudness_lufs`: its integrated loudness when the caller has just measured
    it (mastering does, services/audio/loudness.normalize_loudness_measured): the costliest reading,
    not paid twice."""
    spec = spectrum(audio)
    env = onset_envelope(spec)
    tempo = estimate_tempo(env, spec.frame_rate, stated=stated_bpm)
    # chroma from the analysis-rate mono already made: a window of the same 2.7 Hz bins, half the samples
    mono = Audio.from_array(spec.mono, RATE)
    key = estimate_key(chroma_profile(mono, fmin=KEY_FMIN, fmax=KEY_FMAX, n_fft=8192, hop=2048))
    share = percussive_share(spec, audio.sample_rate)
    outside = None
    if pitch_set is not None:
        chroma = chroma_profile(mono, n_fft=8192, hop=2048)
        allowed = sorted({pc % 12 for pc in pitch_set})
        outside = float(max(0.0, 1.0 - chroma[allowed].sum())) if chroma.sum() > 0 else 0.0
    loudness: float | None = loudness_lufs
    if loudness is None:
        try:
            loudness = integrated_loudness(audio)
        except ValueError:
            loudness = None
    loudness = loudness if loudness is not None and np.isfinite(loudness) else None
    return Heard(
        duration_s=audio.duration,
        loudness_lufs=loudness,
        tempo_bpm=tempo.bpm,
        tempo_confidence=tempo.confidence,
        tempo_levels=tempo.candidates,
        key=key.name,
        key_confidence=key.confidence,
        key_close=key.close,
        drums=None if share is None else share >= DRUMS_SHARE,
        percussive_share=share,
        outside_share=outside,
    )
