"""Riffusion spectrogram codec: speed and quality against straightforward versions of the reference decoder.

Run: .venv/bin/python bench/riffusion_codec.py [--clip file.mp3] [--runs 5] [--sgd-runs 1] [--cores 1]
Prints, for a 5.11 s clip (512 image columns) the project renders itself (styles backend, "upbeat funk with
drums", seed 1): audio→image and image→audio seconds (median), and two quality figures per decoder:
  SC<10k  spectral convergence of the decoded audio against the original, STFT bins below 10 kHz;
  melSC   mel spectral convergence of the decoded audio re-encoded, against the image it came from.
Reference decoders (issue #8), written here plainly in torch on the same mel input:
  published  200-step SGD inverse mel (old torchaudio InverseMelScale: lr 0.1, momentum 0.9) + 32 GL
  lstsq      least-squares inverse mel (torch.linalg.lstsq, gelsd, clamp ≥ 0) + 32 Griffin-Lim
Griffin-Lim runs as riffusion configures torchaudio's (momentum 0.99, random start); "plain" rows use
momentum 0. Targets, one core: ours ≥ 10× faster than published, ≥ 3× faster than lstsq (stretch < 1 s),
quality no worse than lstsq (SC<10k ≤ 0.091, melSC ≤ 0.058). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _single_thread(cores: int) -> None:
    """Pin to `cores` CPUs and keep BLAS/FFT pools that size (before numpy/torch import)."""
    os.sched_setaffinity(0, set(range(cores)))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[name] = str(cores)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, help="audio file to use instead of rendering one")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per fast figure (median)")
    parser.add_argument("--sgd-runs", type=int, default=1, help="runs of the published decoder (~35 s)")
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--iterations", type=int, nargs="*", default=[], help="more GL counts to show")
    args = parser.parse_args()
    _single_thread(args.cores)

    import numpy as np
    import torch

    from services.audio.mp3 import decode_audio
    from services.audio.types import Audio
    from services.backends.riffusion.codec import SpectrogramCodec, mel_filterbank
    from services.backends.riffusion.image_util import mel_from_image, read_params
    from services.backends.riffusion.params import SpectrogramParams

    torch.set_num_threads(args.cores)
    params = SpectrogramParams()
    clip_path = args.clip
    if clip_path is None:
        clip_path = Path(tempfile.mkdtemp(prefix="pj-riff-")) / "clip.mp3"
        subprocess.run([str(ROOT / ".venv/bin/promptjam"), "make", "upbeat funk with drums", "-d", "6",
                        "--seed", "1", "-o", str(clip_path)], check=True, capture_output=True)
    decoded = decode_audio(clip_path.read_bytes(), clip_path.suffix.lstrip(".") or "mp3")
    frames = params.frames_for_width(512)
    start = int(0.5 * decoded.sample_rate)  # skip the fade-in
    clip = Audio(np.ascontiguousarray(decoded.samples[:, start:start + frames]), decoded.sample_rate)
    assert clip.sample_rate == params.sample_rate and clip.frames == frames, "clip must be 44.1 kHz, 5.11 s"

    def median_time(fn: Callable[[], T], runs: int) -> tuple[float, T]:
        times = []
        for _ in range(max(1, runs)):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), result

    codec = SpectrogramCodec(params)
    codec.image_to_audio(codec.audio_to_image(clip))  # warm caches (filterbank, pseudo-inverse, FFT plans)
    enc_s, image = median_time(lambda: codec.audio_to_image(clip), args.runs)
    _, max_value = read_params(image, params)
    mel_img = mel_from_image(image, params, max_value or 30e6)  # (1, 512, 512): what every decoder gets

    # ---- quality figures ------------------------------------------------------------------------------
    fb = torch.from_numpy(mel_filterbank(params).astype(np.float32))  # (n_stft, mels)
    window = torch.hann_window(params.win_length)
    bins_10k = int(params.max_frequency / (params.sample_rate / params.n_fft)) + 1

    def stft_mag(wave: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
        return torch.stft(x, params.n_fft, params.hop_length, params.win_length, window, center=True,
                          pad_mode="reflect", return_complex=True).abs()  # (channels, n_stft, frames)

    reference_mag = stft_mag(clip.to_mono()[None] * 32768.0)[:, :bins_10k]

    def quality(wave: np.ndarray) -> tuple[float, float]:
        """(SC<10k, melSC) of an int16-unit waveform (1, frames)."""
        mag = stft_mag(wave)
        sc = float(torch.linalg.norm(mag[:, :bins_10k] - reference_mag) / torch.linalg.norm(reference_mag))
        mel = (mag.transpose(1, 2) @ fb).transpose(1, 2).numpy()
        mel_sc = float(np.linalg.norm(mel - mel_img) / np.linalg.norm(mel_img))
        return sc, mel_sc

    # ---- reference decoders ---------------------------------------------------------------------------
    mel_t = torch.from_numpy(mel_img)

    def griffin_lim(linear: torch.Tensor, momentum: float) -> torch.Tensor:
        """torchaudio.transforms.GriffinLim's loop, as riffusion sets it up (32 iterations, random start)."""
        gen = torch.Generator().manual_seed(0)
        angles = torch.exp(2j * torch.pi * torch.rand(linear.shape, generator=gen))
        previous = torch.zeros_like(angles)
        for _ in range(32):
            inverse = torch.istft(linear * angles, params.n_fft, params.hop_length, params.win_length, window)
            rebuilt = torch.stft(inverse, params.n_fft, params.hop_length, params.win_length, window,
                                 center=True, pad_mode="reflect", return_complex=True)
            angles = rebuilt - previous * (momentum / (1 + momentum)) if momentum else rebuilt
            angles = angles / (angles.abs() + 1e-16)
            previous = rebuilt
        return torch.istft(linear * angles, params.n_fft, params.hop_length, params.win_length, window)

    def sgd_inverse() -> torch.Tensor:
        """torchaudio's original InverseMelScale: 200 SGD steps from a random start, clamped each step."""
        gen = torch.Generator().manual_seed(0)
        mel = mel_t.transpose(1, 2)  # (batch, frames, mels)
        spec = torch.rand(mel.shape[0], mel.shape[1], fb.shape[0], generator=gen).requires_grad_(True)
        optim = torch.optim.SGD([spec], lr=0.1, momentum=0.9)
        loss = float("inf")
        for _ in range(200):
            optim.zero_grad()
            new_loss = (mel - spec @ fb).pow(2).sum(dim=-1).mean()
            new_loss.backward()
            optim.step()
            spec.data = spec.data.clamp(min=0)
            value = new_loss.item()
            if value < 1e-5 or abs(loss - value) < 1e-8:
                break
            loss = value
        return spec.detach().clamp(min=0).transpose(1, 2)

    def lstsq_inverse() -> torch.Tensor:
        # torchaudio's default driver, gelsy, returns a wrong answer for this filterbank (residual 93 % of
        # the input, float32 or float64); gelsd solves it (residual 1e-6), so the variant works as intended.
        solution = torch.linalg.lstsq(fb.T[None], mel_t, driver="gelsd").solution
        return torch.relu(solution)

    rows: list[tuple[str, float, tuple[float, float]]] = []
    with torch.no_grad():
        lstsq_s, wave = median_time(lambda: griffin_lim(lstsq_inverse(), 0.99), max(1, args.runs // 2))
        rows.append(("lstsq + 32 GL (published GL)", lstsq_s, quality(np.asarray(wave))))
        plain_s, wave = median_time(lambda: griffin_lim(lstsq_inverse(), 0.0), 1)
        rows.append(("lstsq + 32 GL (plain)", plain_s, quality(np.asarray(wave))))
    sgd_s = float("nan")
    if args.sgd_runs > 0:
        sgd_s, wave = median_time(lambda: griffin_lim(sgd_inverse(), 0.99).detach(), args.sgd_runs)
        rows.append(("published: SGD×200 + 32 GL", sgd_s, quality(np.asarray(wave))))

    for iterations in sorted({codec.iterations, *args.iterations}):
        ours = SpectrogramCodec(params, iterations=iterations)
        ours.waveform_from_mel(mel_img)
        dec_s, wave = median_time(lambda c=ours: c.waveform_from_mel(mel_img), args.runs)  # type: ignore[misc]
        default = " (default)" if iterations == codec.iterations else ""
        label = f"ours: pinv + fast GL×{iterations}{default}"
        rows.append((label, dec_s, quality(np.asarray(wave))))
    full_s, _ = median_time(lambda: codec.image_to_audio(image), args.runs)

    print(f"clip: {clip_path} (5.11 s, 512 columns), {args.cores} core(s), torch {torch.__version__}")
    print(f"audio→image (ours): {enc_s * 1000:.0f} ms;  image→audio incl. pixels/EXIF/levels: {full_s:.3f} s")
    print(f"{'decoder':<36} {'seconds':>8} {'SC<10k':>8} {'melSC':>8} {'vs published':>13} {'vs lstsq':>9}")
    for label, seconds, (sc, mel_sc) in rows:
        print(f"{label:<36} {seconds:8.3f} {sc:8.4f} {mel_sc:8.4f} {sgd_s / seconds:12.1f}× "
              f"{lstsq_s / seconds:8.1f}×")
    if torch.cuda.is_available():
        gpu = SpectrogramCodec(params, device="cuda")
        gpu.waveform_from_mel(mel_img)
        gpu_dec, gpu_wave = median_time(lambda: gpu.waveform_from_mel(mel_img), args.runs)
        gpu_batch, _ = median_time(lambda: gpu.waveform_from_mel(np.repeat(mel_img, 8, axis=0)), args.runs)
        print(f"GPU ({torch.cuda.get_device_name()}): image→audio {gpu_dec:.3f} s, "
              f"batch of 8 {gpu_batch:.3f} s; "
              f"quality {quality(gpu_wave)}")
    else:
        print("GPU: none here")


if __name__ == "__main__":
    main()
