"""The melody MusicGen-Melody is conditioned on: a chroma of the user's clip, computed here.

transformers' MusicgenMelodyFeatureExtractor needs torchaudio (which does not import beside our torch),
so this does what it does with torch's STFT and transformers' chroma filter bank: a power spectrogram
(Hann window, centred, 16384-point FFT, hop 4096 at 32 kHz), folded into 12 pitch classes, and in each
frame only the strongest pitch class kept (one-hot), as the model was trained.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.audio.edit import resample
from services.audio.types import Audio


def melody_chroma(
    audio: Audio, *, sample_rate: int, n_fft: int, hop: int, frames: int
) -> npt.NDArray[np.float32]:
    """(frames ≤ `frames`, 12) one-hot chroma of `audio`'s mono mix at `sample_rate`."""
    import torch
    from transformers.audio_utils import chroma_filter_bank

    mono = resample(Audio.from_array(audio.to_mono(), audio.sample_rate), sample_rate).to_mono()
    wave = torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))
    if wave.numel() < n_fft:
        pad = n_fft - wave.numel()
        wave = torch.nn.functional.pad(wave, (pad // 2, pad - pad // 2))
    window = torch.hann_window(n_fft)
    spec = torch.stft(wave, n_fft, hop, n_fft, window, center=True, pad_mode="reflect", return_complex=True)
    power = spec.abs() ** 2 / window.pow(2).sum()
    filters = torch.from_numpy(
        chroma_filter_bank(sampling_rate=sample_rate, num_frequency_bins=n_fft, tuning=0, num_chroma=12)
    ).float()
    raw = filters @ power  # (12, time)
    chroma = torch.nn.functional.normalize(raw, p=float("inf"), dim=0, eps=1e-6).T  # (time, 12)
    onehot = torch.zeros_like(chroma)
    onehot.scatter_(1, chroma.argmax(1, keepdim=True), 1.0)
    return onehot[:frames].numpy().astype(np.float32)
