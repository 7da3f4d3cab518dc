"""Light stereo effects for rendered scores: a small-room reverb and constant-power panning.

The SoundFont synthesiser gives dry samples; a touch of reverb glues the parts
together. It is an FFT convolution with a synthetic impulse response (decaying
noise, different for left and right so the tail is wide), which costs a few
tens of milliseconds for half a minute of audio and needs no data files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import signal

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RoomShape:
    """The synthetic room the reverb imitates."""

    decay_s: float = 1.1  # RT60: time for the tail to fall by 60 dB
    length_s: float = 1.2  # impulse response length; past it the tail is inaudible anyway
    predelay_s: float = 0.012  # gap before the first reflections, keeps attacks clear
    damping_hz: float = 5000.0  # low-pass on the tail: real rooms absorb highs first
    seed: int = 20240611  # fixed noise seed, so the same score always renders the same samples


DEFAULT_ROOM = RoomShape()


@lru_cache(maxsize=8)
def impulse_response(sample_rate: int, room: RoomShape = DEFAULT_ROOM) -> FloatArray:
    """A (2, n) decaying-noise impulse response with unit energy per channel.

    Unit energy keeps the wet signal about as loud as the dry one, so `mix`
    means the same thing whatever the room. Cached: every render reuses it.
    """
    n = max(1, int(room.length_s * sample_rate))
    delay = int(room.predelay_s * sample_rate)
    rng = np.random.default_rng(room.seed)
    noise = rng.standard_normal((2, n))
    t = np.arange(n) / sample_rate
    envelope = np.exp(-t * (math.log(1000.0) / room.decay_s))  # -60 dB at decay_s
    ir = noise * envelope
    if room.damping_hz < sample_rate / 2:
        b, a = signal.butter(2, room.damping_hz / (sample_rate / 2), btype="low")
        ir = signal.lfilter(b, a, ir, axis=1)
    ir[:, :delay] = 0.0
    ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True)) + 1e-12
    return ir.astype(np.float32)


def reverb(
    samples: FloatArray, sample_rate: int, mix: float = 0.18, room: RoomShape = DEFAULT_ROOM
) -> FloatArray:
    """Stereo (2, frames) in, same shape out: dry·(1−mix) + wet·mix, truncated to the input length.

    Leave room for the tail in the input (the renderer adds a silent tail).
    Mono input is treated as centred stereo.
    """
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"reverb mix must be between 0 and 1, got {mix}")
    stereo = _as_stereo(samples)
    if mix == 0.0 or stereo.shape[1] == 0:
        return stereo.copy()
    ir = impulse_response(sample_rate, room)
    frames = stereo.shape[1]
    # Left feeds the left IR and right the right IR; the IRs' independent noise decorrelates the tails.
    wet = signal.oaconvolve(stereo, ir, mode="full", axes=1)[:, :frames]
    out = (1.0 - mix) * stereo + mix * wet
    return out.astype(np.float32)


def pan_gains(position: float) -> tuple[float, float]:
    """Constant-power (sin/cos) gains for a mono source at -1 (left) … 1 (right); centre is −3 dB each."""
    p = min(1.0, max(-1.0, position))
    theta = (p + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


def pan(samples: FloatArray, position: float) -> FloatArray:
    """Place a sound in the stereo field; returns (2, frames) float32.

    Mono (frames,) or (1, frames) is spread with the constant-power law.
    Stereo is balanced with the same law scaled so the centre leaves it
    unchanged; left plus right power then stays constant for a centred source.
    """
    left, right = pan_gains(position)
    if samples.ndim == 1 or samples.shape[0] == 1:
        mono = samples.reshape(-1)
        return np.stack([mono * left, mono * right]).astype(np.float32)
    if samples.shape[0] != 2:
        raise ValueError(f"pan takes mono or stereo audio, got shape {samples.shape}")
    scale = math.sqrt(2.0)
    return np.stack([samples[0] * (left * scale), samples[1] * (right * scale)]).astype(np.float32)


def _as_stereo(samples: FloatArray) -> FloatArray:
    if samples.ndim == 1:
        return np.stack([samples, samples]).astype(np.float32)
    if samples.shape[0] == 1:
        return np.repeat(samples, 2, axis=0).astype(np.float32)
    if samples.shape[0] != 2:
        raise ValueError(f"expected mono or stereo audio, got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)
