"""Preview pictures for the reply embed: a log-frequency spectrogram with a level strip, or a plain waveform.

Pillow and numpy only (matplotlib costs a second to import and a lot of memory for one picture). Everything is
vectorised so a 30 s clip renders in a few tens of milliseconds.
"""

from __future__ import annotations

import functools
import io
import math

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from services.audio.types import Audio

FloatArray = npt.NDArray[np.float64]
RGB = npt.NDArray[np.uint8]

BACKGROUND = (12, 12, 18)
AXIS_BG = (22, 22, 30)
TEXT = (220, 220, 230)
TICK = (150, 150, 165)
F_MIN_HZ = 40.0
F_MAX_HZ = 16_000.0
DYNAMIC_RANGE_DB = 80.0
N_FFT = 2048
_TITLE_H = 22
_AXIS_H = 18
_MAX_FRAMES_PER_COLUMN = 4


# --- colour map -----------------------------------------------------------------------------------


def _lab_to_srgb(lightness: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    """CIE L*a*b* (D65) to gamma-encoded sRGB in [0, 1] (unclipped), shape (n, 3)."""
    fy = (lightness + 16.0) / 116.0
    fx, fz = fy + a / 500.0, fy - b / 200.0

    def inverse(f: FloatArray) -> FloatArray:
        return np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29))

    xyz = np.stack([0.95047 * inverse(fx), inverse(fy), 1.08883 * inverse(fz)], axis=1)
    to_linear_rgb = np.array(
        [
            [3.2404542, -1.5371385, -0.4985314],
            [-0.9692660, 1.8760108, 0.0415560],
            [0.0556434, -0.2040259, 1.0572252],
        ]
    )
    linear = xyz @ to_linear_rgb.T
    clipped = np.clip(linear, 0.0, None)
    return np.where(clipped <= 0.0031308, 12.92 * clipped, 1.055 * clipped ** (1 / 2.4) - 0.055)


@functools.cache
def colour_map() -> RGB:
    """256 x 3 uint8 lookup table: lightness rises evenly (L* 4 -> 97) while hue turns violet -> red -> gold.

    Even lightness steps make equal dB steps look equal; chroma is reduced per entry until the colour fits
    the sRGB gamut, so no entry is clipped into a lightness jump.
    """
    t = np.linspace(0.0, 1.0, 256)
    lightness = 4.0 + 93.0 * t
    hue = np.deg2rad(290.0 + 170.0 * t)  # 290 violet, 360 red-magenta, 400 orange, 460 yellow
    chroma = 70.0 * np.sin(np.pi * np.clip(t * 1.1, 0.0, 1.0)) + 8.0
    rgb = np.zeros((256, 3))
    done = np.zeros(256, dtype=bool)
    for scale in np.linspace(1.0, 0.0, 41):
        c = chroma * scale
        candidate = _lab_to_srgb(lightness, c * np.cos(hue), c * np.sin(hue))
        fits = ~done & (candidate <= 1.0).all(axis=1) & (candidate >= 0.0).all(axis=1)
        rgb[fits] = candidate[fits]
        done |= fits
    rgb[~done] = np.clip(_lab_to_srgb(lightness, 0 * t, 0 * t), 0.0, 1.0)[~done]
    return np.asarray(np.round(rgb * 255.0), dtype=np.uint8)


# --- spectrogram ----------------------------------------------------------------------------------


def _column_power(mono: FloatArray, sample_rate: int, width: int) -> FloatArray:
    """Power spectrum (width x bins) from short Hann frames centred on each pixel column."""
    frames = mono.size
    hop = max(frames / width, 1.0)
    per_column = int(np.clip(hop // N_FFT, 1, _MAX_FRAMES_PER_COLUMN))
    offsets = (np.arange(per_column) + 0.5) / per_column * hop - hop / 2  # spread frames over the column
    centres = (np.arange(width) + 0.5)[:, None] * hop + offsets[None, :]
    padded = np.pad(mono.astype(np.float32), (N_FFT // 2, N_FFT))  # frame k starting at k is centred on k
    starts = np.clip(np.round(centres).astype(np.int64), 0, frames + N_FFT // 2)
    idx = starts.reshape(-1)[:, None] + np.arange(N_FFT)[None, :]
    window = np.hanning(N_FFT).astype(np.float32)
    spectrum = np.fft.rfft(padded[idx] * window, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).reshape(width, per_column, -1).mean(axis=1)
    return np.asarray(power, dtype=np.float64)


def _log_frequency_matrix(rows: int, sample_rate: int) -> FloatArray:
    """(rows x bins) weights mapping FFT bins onto log-spaced rows, lowest frequency in the last row.

    Rows wider than a bin average the bins inside them; narrower rows interpolate between neighbours.
    """
    bins = N_FFT // 2 + 1
    bin_hz = sample_rate / N_FFT
    top = min(F_MAX_HZ, sample_rate / 2.0)
    edges = np.geomspace(F_MIN_HZ, top, rows + 1)
    matrix = np.zeros((rows, bins))
    for r in range(rows):
        lo, hi = edges[r] / bin_hz, edges[r + 1] / bin_hz
        inside = np.arange(math.ceil(lo), math.floor(hi) + 1)
        inside = inside[inside < bins]
        if inside.size >= 2:
            matrix[r, inside] = 1.0 / inside.size
        else:
            centre = min(math.sqrt(lo * hi), bins - 1.001)
            k = int(centre)
            matrix[r, k], matrix[r, k + 1] = 1.0 - (centre - k), centre - k
    return matrix[::-1]


def _to_db_unit(power: FloatArray) -> FloatArray:
    """Power to [0, 1]: 0 at DYNAMIC_RANGE_DB below the loudest cell (or everything 0 for silence)."""
    peak = float(power.max()) if power.size else 0.0
    if peak <= 0.0:
        return np.zeros_like(power)
    db = 10.0 * np.log10(np.maximum(power, peak * 1e-12) / peak)
    return np.clip(1.0 + db / DYNAMIC_RANGE_DB, 0.0, 1.0)


def _spectrogram_rgb(mono: FloatArray, sample_rate: int, width: int, height: int) -> RGB:
    if mono.size == 0:
        return np.zeros((height, width, 3), dtype=np.uint8) + colour_map()[0]
    rows = _log_frequency_matrix(height, sample_rate) @ _column_power(mono, sample_rate, width).T
    index = np.round(_to_db_unit(rows) * 255.0).astype(np.intp)
    return colour_map()[index]


# --- level strip and waveform ---------------------------------------------------------------------


def _column_envelope(mono: FloatArray, width: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per pixel column: minimum, maximum and RMS of the samples it covers."""
    if mono.size == 0:
        zeros = np.zeros(width)
        return zeros, zeros, zeros
    edges = np.linspace(0, mono.size, width + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)  # at least one sample per column
    idx = np.minimum(edges[:-1], mono.size - 1)
    ends = np.minimum(edges[1:], mono.size)
    lo = np.minimum.reduceat(mono, idx)
    hi = np.maximum.reduceat(mono, idx)
    energy = np.add.reduceat(np.square(mono, dtype=np.float32), idx, dtype=np.float64)
    rms = np.sqrt(energy / np.maximum(ends - idx, 1))
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64), rms


def _envelope_rgb(mono: FloatArray, width: int, height: int, *, level_colours: bool, peak: float) -> RGB:
    """Min/max bars centred on a zero line, `peak` at full height; coloured by RMS level in dB when asked."""
    lo, hi, rms = _column_envelope(mono, width)
    y = (np.arange(height) + 0.5)[:, None]
    mid = height / 2.0
    scale = min(max(peak, 0.05), 1.0)  # quiet audio still looks quiet, not magnified to full height
    top = mid - np.clip(hi, -1.0, 1.0) / scale * (mid - 1)
    bottom = mid - np.clip(lo, -1.0, 1.0) / scale * (mid - 1)
    mask = (y >= np.floor(top)[None, :]) & (y <= np.ceil(bottom)[None, :] + 1e-9)
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    if level_colours:
        level_db = 20.0 * np.log10(np.maximum(rms, 1e-6))
        unit = np.clip((level_db + 60.0) / 60.0, 0.0, 1.0)
        colours = colour_map()[np.round(64 + unit * 191).astype(np.intp)]
    else:
        colours = np.tile(np.array([120, 180, 240], dtype=np.uint8), (width, 1))
    image[mask] = np.broadcast_to(colours[None, :, :], (height, width, 3))[mask]
    return image


# --- text and axis --------------------------------------------------------------------------------


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow built without FreeType: fixed bitmap font
        return ImageFont.load_default()


def _tick_step(duration_s: float, width: int) -> float:
    """Labelled tick interval: the smallest 'nice' number of seconds with labels at least 56 px apart."""
    px_per_s = width / max(duration_s, 1e-9)
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600):
        if step * px_per_s >= 56:
            return float(step)
    return 3600.0 * math.ceil(56 / px_per_s / 3600.0)


def _label(seconds: float, duration_s: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}" if duration_s >= 60 else f"{whole}s"


def _draw_axis(draw: ImageDraw.ImageDraw, top: int, width: int, duration_s: float) -> None:
    """Second ticks (where they are at least 4 px apart) and labelled ticks at a readable interval."""
    draw.rectangle((0, top, width - 1, top + _AXIS_H - 1), fill=AXIS_BG)
    if duration_s <= 0:
        return
    px_per_s = width / duration_s
    if px_per_s >= 4:
        for s in range(int(duration_s) + 1):
            x = min(round(s * px_per_s), width - 1)
            draw.line((x, top, x, top + 3), fill=TICK)
    step = _tick_step(duration_s, width)
    font = _font(11)
    for k in range(int(duration_s // step) + 1):
        seconds = k * step
        x = min(round(seconds * px_per_s), width - 1)
        draw.line((x, top, x, top + 6), fill=TEXT)
        text = _label(seconds, duration_s)
        text_w = draw.textlength(text, font=font)
        tx = min(max(x - text_w / 2, 1), width - text_w - 1)
        draw.text((tx, top + 5), text, fill=TEXT, font=font)


def _draw_title(draw: ImageDraw.ImageDraw, title: str, width: int) -> None:
    draw.rectangle((0, 0, width - 1, _TITLE_H - 1), fill=AXIS_BG)
    font = _font(14)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in title).split())
    if draw.textlength(text, font=font) > width - 12:
        while text and draw.textlength(text + "…", font=font) > width - 12:
            text = text[:-1]
        text = text.rstrip() + "…"
    draw.text((6, 3), text, fill=TEXT, font=font)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _check_size(width: int, height: int, min_height: int) -> None:
    if not (64 <= width <= 4096 and min_height <= height <= 2048):
        raise ValueError(f"picture size must be 64..4096 x {min_height}..2048 pixels, got {width}x{height}")


def _mono(audio: Audio) -> FloatArray:
    """Channel average with NaN/inf zeroed: a preview must never fail on bad samples."""
    mono = audio.samples.mean(axis=0, dtype=np.float32)
    if np.isfinite(mono).all():
        return mono
    return np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)


def render_preview(audio: Audio, *, title: str | None = None, width: int = 960, height: int = 360) -> bytes:
    """PNG: optional title, log-frequency spectrogram (40 Hz-16 kHz, 80 dB range), level strip, time axis."""
    title_h = _TITLE_H if title else 0
    _check_size(width, height, title_h + _AXIS_H + 64)
    strip_h = max(24, height // 6)
    spec_h = height - title_h - strip_h - _AXIS_H
    mono = _mono(audio)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    canvas[title_h : title_h + spec_h] = _spectrogram_rgb(mono, audio.sample_rate, width, spec_h)
    strip_top = title_h + spec_h
    peak = float(np.abs(mono).max(initial=0.0))
    strip = _envelope_rgb(mono, width, strip_h, level_colours=True, peak=peak)
    canvas[strip_top : strip_top + strip_h] = strip
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    if title:
        _draw_title(draw, title, width)
    _draw_axis(draw, height - _AXIS_H, width, audio.duration)
    return _png(image)


def waveform_png(audio: Audio, *, title: str | None = None, width: int = 960, height: int = 200) -> bytes:
    """PNG: a min/max waveform lane per channel (two at most) and a time axis; cheaper than a spectrogram."""
    title_h = _TITLE_H if title else 0
    _check_size(width, height, title_h + _AXIS_H + 32)
    lanes = min(audio.channels, 2)
    lane_total = height - title_h - _AXIS_H
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    samples = np.nan_to_num(audio.samples.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    peak = float(np.abs(samples[:lanes]).max(initial=0.0))  # one scale: a quieter channel looks quieter
    for lane in range(lanes):
        top = title_h + lane * lane_total // lanes
        bottom = title_h + (lane + 1) * lane_total // lanes
        canvas[top:bottom] = _envelope_rgb(samples[lane], width, bottom - top, level_colours=False, peak=peak)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    if title:
        _draw_title(draw, title, width)
    _draw_axis(draw, height - _AXIS_H, width, audio.duration)
    return _png(image)
