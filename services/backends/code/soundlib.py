"""The small sound API generated code may use (numpy only; it runs inside the sandbox).

Why a library of our own: a model writes shorter, more reliable code against a few documented
helpers than against raw numpy, and every helper is vectorised so a piece renders in well under
the sandbox's CPU limit. All signals are float32 numpy arrays: mono (frames,) or stereo (2, frames).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Signal = npt.NDArray[np.float32]

_NOTE_OFFSETS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _f32(x: npt.ArrayLike) -> Signal:
    return np.asarray(x, dtype=np.float32)


def frames(seconds: float, sr: int) -> int:
    """Number of samples in `seconds` (never negative)."""
    return max(0, int(round(float(seconds) * sr)))


def timeline(seconds: float, sr: int) -> Signal:
    """Sample times in seconds: 0, 1/sr, 2/sr … (the x axis for oscillators)."""
    return _f32(np.arange(frames(seconds, sr)) / sr)


def midi_to_hz(note: float) -> float:
    """MIDI note number to frequency (69 = A4 = 440 Hz)."""
    return float(440.0 * 2.0 ** ((float(note) - 69.0) / 12.0))


def note_hz(name: str) -> float:
    """Note name to frequency: "A4", "C#3", "Eb5"."""
    text = name.strip()
    letter, rest = text[0].upper(), text[1:]
    semis = _NOTE_OFFSETS[letter]
    while rest and rest[0] in "#b":
        semis += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    octave = int(rest) if rest else 4
    return midi_to_hz(12 * (octave + 1) + semis)


def _phase(freq: float | npt.ArrayLike, seconds: float, sr: int) -> npt.NDArray[np.float64]:
    """Phase in cycles; a frequency array (a glide) is integrated sample by sample."""
    n = frames(seconds, sr)
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,)) if n else np.zeros(0)
    return np.cumsum(f) / sr - f[:1] / sr if n else np.zeros(0)


def sine(freq: float | npt.ArrayLike, seconds: float, sr: int) -> Signal:
    """Sine wave; `freq` may be a number or an array of per-sample frequencies (glides, vibrato)."""
    return _f32(np.sin(2 * np.pi * _phase(freq, seconds, sr)))


def saw(freq: float | npt.ArrayLike, seconds: float, sr: int) -> Signal:
    """Sawtooth wave in [-1, 1]."""
    return _f32(2.0 * (_phase(freq, seconds, sr) % 1.0) - 1.0)


def square(freq: float | npt.ArrayLike, seconds: float, sr: int, duty: float = 0.5) -> Signal:
    """Square/pulse wave in [-1, 1]; `duty` is the fraction of each cycle spent high."""
    return _f32(np.where((_phase(freq, seconds, sr) % 1.0) < duty, 1.0, -1.0))


def triangle(freq: float | npt.ArrayLike, seconds: float, sr: int) -> Signal:
    """Triangle wave in [-1, 1]."""
    return _f32(4.0 * np.abs((_phase(freq, seconds, sr) % 1.0) - 0.5) - 1.0)


def noise(seconds: float, sr: int, seed: int = 0, color: str = "white") -> Signal:
    """White, pink or brown noise in about [-1, 1], reproducible from `seed`."""
    n = frames(seconds, sr)
    white = np.random.default_rng(seed).standard_normal(n)
    if color == "white" or n == 0:
        out = white
    else:
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1.0 / sr)
        f[0] = f[1] if n > 1 else 1.0
        spectrum /= np.sqrt(f) if color == "pink" else f
        out = np.fft.irfft(spectrum, n)
    peak = float(np.max(np.abs(out))) if n else 0.0
    return _f32(out / peak if peak > 0 else out)


def adsr(
    seconds: float,
    sr: int,
    attack: float = 0.01,
    decay: float = 0.1,
    sustain: float = 0.7,
    release: float = 0.2,
) -> Signal:
    """Attack-decay-sustain-release envelope lasting `seconds` (the release is inside that length)."""
    n = frames(seconds, sr)
    a, d, r = frames(attack, sr), frames(decay, sr), frames(release, sr)
    a, d, r = min(a, n), min(d, max(0, n - a)), min(r, n)
    s = max(0, n - a - d - r)
    parts = [
        np.linspace(0.0, 1.0, a, endpoint=False),
        np.linspace(1.0, sustain, d, endpoint=False),
        np.full(s, sustain),
    ]
    body = np.concatenate(parts)[: n - r]
    last = body[-1] if body.size else sustain
    return _f32(np.concatenate([body, np.linspace(last, 0.0, r)])[:n])


def decay(seconds: float, sr: int, time: float = 0.3) -> Signal:
    """Exponential decay from 1; `time` is when it has fallen to about 1/e (plucks, drums)."""
    return _f32(np.exp(-timeline(seconds, sr) / max(float(time), 1e-4)))


def _filter(x: Signal, sr: int, gain: npt.NDArray[np.float64]) -> Signal:
    arr = _f32(x)
    n = arr.shape[-1]
    if n == 0:
        return arr
    return _f32(np.fft.irfft(np.fft.rfft(arr, axis=-1) * gain, n, axis=-1))


def _freqs(x: Signal, sr: int) -> npt.NDArray[np.float64]:
    return np.asarray(np.fft.rfftfreq(np.asarray(x).shape[-1], 1.0 / sr), dtype=np.float64)


def lowpass(x: Signal, cutoff: float, sr: int, order: int = 2) -> Signal:
    """Low-pass filter (Butterworth-shaped magnitude, zero phase): keeps what is below `cutoff` Hz."""
    f = _freqs(x, sr)
    return _filter(x, sr, 1.0 / np.sqrt(1.0 + (f / max(cutoff, 1.0)) ** (2 * order)))


def highpass(x: Signal, cutoff: float, sr: int, order: int = 2) -> Signal:
    """High-pass filter: keeps what is above `cutoff` Hz."""
    f = np.maximum(_freqs(x, sr), 1e-9)
    return _filter(x, sr, 1.0 / np.sqrt(1.0 + (max(cutoff, 1.0) / f) ** (2 * order)))


def bandpass(x: Signal, low: float, high: float, sr: int, order: int = 2) -> Signal:
    """Band-pass filter: keeps what lies between `low` and `high` Hz."""
    return lowpass(highpass(x, low, sr, order), high, sr, order)


def delay(
    x: Signal, sr: int, time: float = 0.25, feedback: float = 0.4, mix: float = 0.3, repeats: int = 6
) -> Signal:
    """Echo: `repeats` copies `time` s apart, each `feedback` times quieter; the tail lengthens the sound."""
    dry = _f32(x)
    step = frames(time, sr)
    repeats = max(0, min(int(repeats), 32))
    out = np.zeros(dry.shape[:-1] + (dry.shape[-1] + step * repeats,), dtype=np.float32)
    out[..., : dry.shape[-1]] += dry
    for k in range(1, repeats + 1):
        start = k * step
        out[..., start : start + dry.shape[-1]] += dry * (mix * feedback ** (k - 1))
    return out


def pan(x: Signal, position: float = 0.0) -> Signal:
    """Mono to stereo (2, frames); position -1 is left, 0 centre, 1 right (equal power)."""
    angle = (min(max(float(position), -1.0), 1.0) + 1.0) * np.pi / 4
    mono = _f32(x)
    return _f32(np.stack([mono * np.cos(angle), mono * np.sin(angle)]))


def _as_stereo(x: Signal) -> Signal:
    arr = _f32(x)
    return np.stack([arr, arr]) if arr.ndim == 1 else arr


def place(buffer: Signal, clip: Signal, at: int) -> Signal:
    """Add `clip` into `buffer` starting at sample `at` (sample-accurate; what overhangs is dropped)."""
    start = max(0, int(at))
    end = min(buffer.shape[-1], start + clip.shape[-1])
    if end > start:
        src = _as_stereo(clip) if buffer.ndim == 2 else _f32(clip)
        buffer[..., start:end] += src[..., : end - start]
    return buffer


def mix(*signals: Signal) -> Signal:
    """Sum signals of any lengths (mono ones are spread to stereo if any input is stereo)."""
    if not signals:
        return np.zeros(0, dtype=np.float32)
    stereo = any(np.asarray(s).ndim == 2 for s in signals)
    longest = max(np.asarray(s).shape[-1] for s in signals)
    out = np.zeros((2, longest) if stereo else (longest,), dtype=np.float32)
    for s in signals:
        place(out, _as_stereo(s) if stereo else _f32(s), 0)
    return out


def normalize(x: Signal, peak: float = 0.9) -> Signal:
    """Scale so the loudest sample is `peak` (silence stays silent)."""
    arr = _f32(x)
    top = float(np.max(np.abs(arr))) if arr.size else 0.0
    return _f32(arr * (peak / top)) if top > 0 else arr


def fade(x: Signal, sr: int, fade_in: float = 0.01, fade_out: float = 0.05) -> Signal:
    """Short fades at both ends, so nothing clicks."""
    arr = _f32(x).copy()
    n = arr.shape[-1]
    a, b = min(frames(fade_in, sr), n), min(frames(fade_out, sr), n)
    if a:
        arr[..., :a] *= np.linspace(0.0, 1.0, a, dtype=np.float32)
    if b:
        arr[..., n - b :] *= np.linspace(1.0, 0.0, b, dtype=np.float32)
    return arr


def kick(sr: int, seconds: float = 0.4) -> Signal:
    """A synthesised kick drum: a fast downward pitch sweep with a short decay."""
    t = timeline(seconds, sr)
    return _f32(sine(50.0 + 100.0 * np.exp(-t * 30.0), seconds, sr) * decay(seconds, sr, 0.12))


def snare(sr: int, seconds: float = 0.25, seed: int = 1) -> Signal:
    """A synthesised snare: band-passed noise plus a short tone."""
    body = 0.3 * sine(190.0, seconds, sr) * decay(seconds, sr, 0.05)
    hiss = bandpass(noise(seconds, sr, seed), 1500.0, 8000.0, sr) * decay(seconds, sr, 0.07)
    return _f32(body + 0.7 * hiss)


def hat(sr: int, seconds: float = 0.08, seed: int = 2) -> Signal:
    """A synthesised closed hi-hat: high-passed noise, very short."""
    return _f32(0.5 * highpass(noise(seconds, sr, seed), 7000.0, sr) * decay(seconds, sr, 0.02))


class Grid:
    """A beat grid: converts beats and bars to exact sample positions, and lays clips and patterns on it."""

    def __init__(self, bpm: float, sr: int, beats_per_bar: int = 4) -> None:
        self.bpm = float(bpm)  # tempo in beats per minute
        self.sr = int(sr)  # sample rate the grid counts in
        self.beats_per_bar = int(beats_per_bar)  # metre: beats in one bar

    def at(self, beat: float) -> int:
        """Sample index of `beat` (0 is the start; beats count across bars)."""
        return int(round(float(beat) * 60.0 / self.bpm * self.sr))

    def seconds(self, beats: float) -> float:
        """Length of `beats` in seconds."""
        return float(beats) * 60.0 / self.bpm

    def buffer(self, bars: float, stereo: bool = True) -> Signal:
        """Silence long enough for `bars` bars, to place clips into."""
        n = self.at(bars * self.beats_per_bar)
        return np.zeros((2, n) if stereo else (n,), dtype=np.float32)

    def add(self, buffer: Signal, clip: Signal, beat: float) -> Signal:
        """Place `clip` at `beat`."""
        return place(buffer, clip, self.at(beat))

    def pattern(
        self, buffer: Signal, clip: Signal, steps: str, step: float = 0.25, start: float = 0.0
    ) -> Signal:
        """Place `clip` on each "x" of `steps` ("x..." = on the beat), `step` beats apart, from `start`."""
        for i, mark in enumerate(steps):
            if mark in "xX":
                self.add(buffer, clip * (1.0 if mark == "X" else 0.8), start + i * step)
        return buffer
