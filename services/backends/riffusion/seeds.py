"""Seed spectrograms for image-to-image: beats at any tempo, a few textures, and the user's own audio.

Why: riffusion steers its output toward the rhythm of the seed image, and the public release ships only a
handful of seed beats at fixed tempos. Ours are drawn by our own code: the styles engine's drum grooves
rendered with the General MIDI SoundFont at exactly the requested tempo, synthetic textures for beatless
pieces, and any audio a user attaches. Every seed is one 5.11 s window (512 image columns) encoded with
the same codec the model's images are decoded with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from services.audio.decoding import decode_audio, format_from_name
from services.audio.edit import loop_to, resample, trim
from services.audio.types import Audio
from services.backends.riffusion.codec import SpectrogramCodec
from services.backends.riffusion.params import SpectrogramParams
from services.backends.styles.drums import drum_style_for, groove
from services.backends.styles.profiles import profile_for
from services.errors import InvalidInput
from services.prompting.drum_styles import DRUM_STYLES
from services.render.soundfont import render_score
from services.score.model import Note, Score, Track

WINDOW_WIDTH = 512  # image columns per window: the model's 512-pixel width
SEED_SAMPLE_RATE = 44_100  # the rate the model's spectrograms assume
DEFAULT_ENERGY = 0.7  # groove density for seed beats: backbeat and hats, no sparse intro pattern
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # largest attachment accepted for audio-to-audio
MAX_AUDIO_SECONDS = 600.0  # decoding stops here, which bounds the memory an upload can cost

_cache_lock = threading.Lock()
_beat_cache: dict[tuple[float, str, tuple[int, int], float, str, SpectrogramParams], Image.Image] = {}


def window_seconds(params: SpectrogramParams | None = None) -> float:
    """Length of one 512-column window (5.11 s for the model's params)."""
    p = params or SpectrogramParams()
    return p.frames_for_width(WINDOW_WIDTH) / p.sample_rate


def window_audio(audio: Audio, params: SpectrogramParams, *, start_s: float = 0.0) -> Audio:
    """Exactly one window of `audio` at the params' rate from `start_s`, looped when it is shorter."""
    if audio.sample_rate != params.sample_rate:
        audio = resample(audio, params.sample_rate)
    if audio.frames == 0:
        raise ValueError("the audio is empty")
    start = min(max(0.0, start_s), max(0.0, audio.duration - 0.01))
    if start > 0:
        tail = audio.samples[:, round(start * audio.sample_rate) :]
        audio = Audio(np.ascontiguousarray(tail), audio.sample_rate)
    frames = params.frames_for_width(WINDOW_WIDTH)
    seconds = frames / params.sample_rate
    fitted = trim(audio, seconds) if audio.frames >= frames else loop_to(audio, seconds, crossfade_s=0.05)
    samples = fitted.samples[:, :frames]
    if samples.shape[1] < frames:  # rounding: pad the last few samples
        samples = np.pad(samples, ((0, 0), (0, frames - samples.shape[1])))
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), params.sample_rate)


# ---- beats ----------------------------------------------------------------------------------------


def drum_style_for_genres(genres: tuple[str, ...], time_signature: tuple[int, int] = (4, 4)) -> str:
    """The styles engine's drum style for a genre list (a named DRUM_STYLES entry passes through)."""
    named = next((g for g in genres if g in DRUM_STYLES), None)
    return drum_style_for(named, profile_for(genres), time_signature)


def beat_score(
    bpm: float,
    style: str,
    *,
    time_signature: tuple[int, int] = (4, 4),
    energy: float = DEFAULT_ENERGY,
    seconds: float = 6.0,
) -> Score:
    """A drums-only score of the styles engine's `style` groove at `bpm`, long enough for `seconds`."""
    if not 20.0 <= bpm <= 300.0:
        raise ValueError(f"tempo must be within 20–300 bpm, got {bpm}")
    pattern = [hit for hit in groove(style, time_signature) if hit.min_energy <= energy]
    num, den = time_signature
    bar_beats = num * 4.0 / den
    bars = int(np.ceil(seconds * bpm / 60.0 / bar_beats)) + 1
    level = 52 + 62 * energy
    notes = [
        Note(hit.key, round(bar * bar_beats + hit.offset, 6), 0.2, max(1, min(127, int(level * hit.level))))
        for bar in range(bars)
        for hit in pattern
        if hit.offset < bar_beats - 1e-6
    ]
    drums = Track("drums", is_drum=True, notes=notes, role="drums", volume=0.9)
    return Score(
        tempo_bpm=float(bpm), tracks=[drums], time_signature=time_signature, length_beats=bars * bar_beats
    )


def beat_audio(
    bpm: float,
    style: str = "rock",
    *,
    time_signature: tuple[int, int] = (4, 4),
    energy: float = DEFAULT_ENERGY,
    soundfont: Path | None = None,
    params: SpectrogramParams | None = None,
) -> Audio:
    """One window of the groove rendered with the SoundFont, starting on the downbeat."""
    p = params or SpectrogramParams()
    score = beat_score(
        bpm, style, time_signature=time_signature, energy=energy, seconds=window_seconds(p) + 0.5
    )
    rendered = render_score(score, soundfont=soundfont, sample_rate=p.sample_rate, tail_s=0.0, reverb=0.1)
    return window_audio(rendered, p)


def beat_seed(
    bpm: float,
    style: str = "rock",
    *,
    time_signature: tuple[int, int] = (4, 4),
    energy: float = DEFAULT_ENERGY,
    soundfont: Path | None = None,
    codec: SpectrogramCodec | None = None,
) -> Image.Image:
    """The seed spectrogram of a beat at `bpm` (cached: do not modify the returned image)."""
    codec = codec or SpectrogramCodec()
    key = (round(float(bpm), 3), style, time_signature, energy, str(soundfont or ""), codec.params)
    with _cache_lock:
        cached = _beat_cache.get(key)
    if cached is not None:
        return cached
    audio = beat_audio(
        bpm, style, time_signature=time_signature, energy=energy, soundfont=soundfont, params=codec.params
    )
    image = codec.audio_to_image(audio)
    with _cache_lock:
        if len(_beat_cache) > 64:
            _beat_cache.clear()
        _beat_cache[key] = image
    return image


# ---- textures -------------------------------------------------------------------------------------


def _pink_noise(frames: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f power spectrum: an airy bed riffusion fills with timbre."""
    spectrum = np.fft.rfft(rng.standard_normal(frames))
    freqs = np.fft.rfftfreq(frames, 1.0 / rate)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, frames)


def _drone(frames: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A slowly breathing harmonic stack on A2: a tonal, beatless bed."""
    t = np.arange(frames) / rate
    wave = np.zeros(frames)
    for harmonic in range(1, 9):
        phase = rng.uniform(0, 2 * np.pi)
        wave += np.sin(2 * np.pi * 110.0 * harmonic * t + phase) / harmonic
    return wave * (0.75 + 0.25 * np.sin(2 * np.pi * 0.2 * t))


def _pulse(frames: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Soft noise bursts every half second (120 bpm eighths): rhythm with no drum timbre."""
    out = np.zeros(frames)
    burst = rng.standard_normal(int(0.04 * rate)) * np.exp(-np.linspace(0, 6, int(0.04 * rate)))
    for start in range(0, frames - len(burst), int(0.25 * rate)):
        out[start : start + len(burst)] += burst
    return out


TEXTURES: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "noise": _pink_noise,
    "drone": _drone,
    "pulse": _pulse,
}


def texture_seed(name: str, *, seed: int = 0, codec: SpectrogramCodec | None = None) -> Image.Image:
    """The seed spectrogram of a generated texture: one of TEXTURES."""
    maker = TEXTURES.get(name)
    if maker is None:
        raise ValueError(f"unknown texture {name!r}; choose from {', '.join(TEXTURES)}")
    codec = codec or SpectrogramCodec()
    p = codec.params
    frames = p.frames_for_width(WINDOW_WIDTH)
    wave = maker(frames, p.sample_rate, np.random.default_rng(seed))
    peak = float(np.abs(wave).max()) or 1.0
    audio = Audio.from_array((0.5 * wave / peak).astype(np.float32), p.sample_rate)
    return codec.audio_to_image(audio)


# ---- the user's audio -----------------------------------------------------------------------------


audio_format = format_from_name  # the decoder format for an attachment's name (services/audio/decoding.py)


def audio_seed(
    data: bytes,
    fmt: str,
    *,
    start_s: float = 0.0,
    codec: SpectrogramCodec | None = None,
    max_bytes: int = MAX_AUDIO_BYTES,
    max_seconds: float = MAX_AUDIO_SECONDS,
) -> Image.Image:
    """The seed spectrogram of the user's audio: decoded (length capped), resampled to 44.1 kHz, one
    5.11 s window from `start_s` (looped when shorter).

    Every way the file can be unusable raises InvalidInput (a UserError) with a sentence for its sender.
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            f"That audio file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB. "
            "Send a shorter clip."
        )
    codec = codec or SpectrogramCodec()
    decoded = decode_audio(data, fmt, max_seconds=min(max_seconds, max(0.0, start_s) + 60.0))
    return codec.audio_to_image(window_audio(decoded, codec.params, start_s=start_s))
