"""Local picture analysis: colours, light and texture → mood, tempo, key and a prompt for the styles backend.

Why local: it needs no model and no network, so "hear this image" works everywhere, and every step is a
number a user can be shown ("dark, blue, smooth → slow ambient in B minor, 70 bpm"). The mapping follows
the common findings of colour–music studies: brightness and warm hues read as positive (valence), busy
texture, saturation and contrast as energetic (arousal). The tonic follows Scriabin's colour keyboard
(red C, orange G, yellow D, green A, sky blue E, blue B, violet F#, pink A flat).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.images.loading import analysis_copy
from services.score.theory import Key

FloatArray = npt.NDArray[np.float64]

ANALYSIS_SIDE = 256  # longest side the statistics are computed at: stable, and ~5 ms a picture
EDGE_THRESHOLD = 0.1  # Sobel magnitude (0..1 scale) above which a pixel counts as an edge
CHROMA_MIN_S = 0.18  # saturation below which a pixel is grey, not a hue
CHROMA_MIN_V = 0.2  # value below which a pixel is black, not a hue

# (name, upper bound of the hue range in degrees, warm?, tonic pitch class)
_HUES: tuple[tuple[str, float, bool, int], ...] = (
    ("red", 15, True, 0),
    ("orange", 40, True, 7),
    ("yellow", 70, True, 2),
    ("green", 160, False, 9),
    ("teal", 195, False, 4),
    ("blue", 255, False, 11),
    ("purple", 290, False, 6),
    ("pink", 345, True, 8),
)
_HUE_NAMES = tuple(name for name, *_ in _HUES) + ("red",)  # 345–360 wraps to red
_HUE_EDGES = np.array([edge for _, edge, *_ in _HUES] + [360.0])


@dataclass(frozen=True)
class Swatch:
    """One dominant colour of the picture."""

    rgb: tuple[int, int, int]  # the colour, 0–255 per channel
    share: float  # fraction of the picture it covers, 0–1
    name: str  # plain colour word: "blue", "dark red", "grey" …


@dataclass(frozen=True)
class ImageFeatures:
    """What the picture looks like, as numbers in 0–1 (warmth −1–1)."""

    brightness: float  # mean luma
    saturation: float  # mean HSV saturation
    contrast: float  # luma standard deviation × 2, clipped to 1
    edge_density: float  # share of pixels on an edge (Sobel): 0 smooth … ~0.5 very busy
    warmth: float  # −1 all cool hues … 1 all warm hues; 0 for grey pictures
    palette: tuple[Swatch, ...]  # dominant colours, largest first
    hues: tuple[str, ...]  # dominant hue names, strongest first (empty for grey pictures)


@dataclass(frozen=True)
class ImageMood:
    """The music the picture suggests."""

    valence: float  # −1 dark/sad … 1 bright/happy
    arousal: float  # 0 calm … 1 energetic
    energy: float  # 0 … 1: how loud and dense the arrangement should be
    tempo_bpm: int  # quarter-note beats per minute
    key: Key  # tonic from the dominant hue, mode from valence
    genre: str  # a styles-vocabulary genre
    tags: tuple[str, ...]  # mood and texture words, for the summary and the prompt


@dataclass(frozen=True)
class ImageAnalysis:
    """Everything the local analysis found and decided, and how to say it."""

    features: ImageFeatures  # the measurements
    mood: ImageMood  # the musical choices
    prompt: str  # text for the styles backend (or any text backend), key and tempo stated
    mood_prompt: str  # the same without key and tempo, to follow a user's own words that may state them
    saw: tuple[str, ...]  # "what I saw" lines for the summary
    became: tuple[str, ...]  # "how it became music" lines for the summary


# --- measuring --------------------------------------------------------------------------------------


def _colour_name(rgb: tuple[int, int, int]) -> str:
    hsv = Image.new("RGB", (1, 1), rgb).convert("HSV").getpixel((0, 0))
    assert isinstance(hsv, tuple)
    h, s, v = hsv[0] * 360.0 / 255.0, hsv[1] / 255.0, hsv[2] / 255.0
    if v < CHROMA_MIN_V:
        return "black"
    if s < CHROMA_MIN_S:
        return "white" if v > 0.85 else ("light grey" if v > 0.6 else "grey")
    name = _HUE_NAMES[int(np.searchsorted(_HUE_EDGES, h, side="right"))]
    if name == "orange" and v < 0.6:
        return "brown"
    return f"dark {name}" if v < 0.45 else name


def _palette(small: Image.Image, colours: int = 5) -> tuple[Swatch, ...]:
    """Dominant colours by median-cut quantisation (deterministic, no dithering)."""
    quantised = small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette = quantised.getpalette() or []
    counts = sorted(quantised.getcolors() or [], key=lambda item: (-item[0], item[1]))
    total = small.width * small.height
    merged: dict[str, Swatch] = {}  # shades that share a name are one colour to a reader
    for count, index in counts:
        assert isinstance(index, int)
        rgb = (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2])
        name = _colour_name(rgb)
        known = merged.get(name)
        share = count / total + (known.share if known else 0.0)
        merged[name] = Swatch(known.rgb if known else rgb, share, name)
    return tuple(sorted(merged.values(), key=lambda swatch: (-swatch.share, swatch.name)))


def _edge_density(grey: FloatArray) -> float:
    """Share of pixels whose Sobel gradient (a black-to-white step scores 1) passes the threshold."""
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    p = np.pad(grey, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    magnitude = np.hypot(gx, gy) / 4.0
    return float(np.mean(magnitude > EDGE_THRESHOLD))


def measure(image: Image.Image) -> ImageFeatures:
    """Colour, light and texture statistics of an RGB picture (computed on a small copy)."""
    small = analysis_copy(image, ANALYSIS_SIDE)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float64) / 255.0
    grey = np.asarray(small.convert("L"), dtype=np.float64) / 255.0
    hue_deg, sat, val = hsv[..., 0] * 360.0, hsv[..., 1], hsv[..., 2]
    chromatic = (sat >= CHROMA_MIN_S) & (val >= CHROMA_MIN_V)
    weight = np.where(chromatic, sat * val, 0.0)
    bins = np.searchsorted(_HUE_EDGES, hue_deg, side="right")
    per_name: dict[str, float] = {}
    for index, name in enumerate(_HUE_NAMES):
        per_name[name] = per_name.get(name, 0.0) + float(weight[bins == index].sum())
    total_weight = sum(per_name.values())
    warm = sum(w for name, w in per_name.items() if _is_warm(name))
    chroma_share = float(weight.sum()) / max(weight.size, 1)
    warmth = 0.0
    if total_weight > 0:
        warmth = (2.0 * warm / total_weight - 1.0) * min(1.0, chroma_share / 0.25)
    hues = tuple(
        name for name, w in sorted(per_name.items(), key=lambda item: (-item[1], item[0]))
        if total_weight > 0 and w / total_weight >= 0.15 and chroma_share >= 0.03
    )[:3]
    return ImageFeatures(
        brightness=float(grey.mean()),
        saturation=float(sat.mean()),
        contrast=float(min(1.0, grey.std() * 2.0)),
        edge_density=_edge_density(grey),
        warmth=float(np.clip(warmth, -1.0, 1.0)),
        palette=_palette(small),
        hues=hues,
    )


def _is_warm(name: str) -> bool:
    return any(hue == name and warm for hue, _, warm, _ in _HUES)


# --- choosing the music -----------------------------------------------------------------------------


def _clip(value: float, low: float, high: float) -> float:
    return float(min(high, max(low, value)))


def choose_music(features: ImageFeatures) -> ImageMood:
    """Map the measurements to valence, arousal, energy, tempo, key and genre (a fixed, documented rule)."""
    f = features
    busy = min(1.0, f.edge_density / 0.35)
    valence = _clip(0.6 * (2 * f.brightness - 1) + 0.3 * f.warmth + 0.3 * (f.saturation - 0.35), -1, 1)
    arousal = _clip(0.45 * busy + 0.25 * f.saturation + 0.2 * f.contrast + 0.1 * max(f.warmth, 0.0), 0, 1)
    energy = _clip(0.7 * arousal + 0.3 * f.contrast, 0, 1)
    tempo = int(round((62 + 88 * arousal) / 2.0) * 2)
    if valence < -0.15:
        mode = "minor"
    elif valence > 0.15:
        mode = "major"
    else:
        mode = "dorian"
    if f.hues:
        tonic = next(pc for name, _, _, pc in _HUES if name == f.hues[0])
    else:
        tonic = 9 if valence < 0 else 0  # grey pictures: A minor-ish or C major-ish
    if arousal < 0.35:
        genre = "ambient" if valence < 0.1 else "piano ballad"
    elif arousal < 0.6:
        genre = "trip hop" if valence < 0 else "pop"
    else:
        genre = "rock" if valence < 0 else "edm"
    tags = (
        ("dark" if valence < -0.15 else "bright" if valence > 0.15 else "bittersweet"),
        ("calm" if arousal < 0.35 else "energetic" if arousal >= 0.6 else "steady"),
        ("smooth" if f.edge_density < 0.08 else "busy" if f.edge_density > 0.2 else "textured"),
    )
    return ImageMood(valence, arousal, energy, tempo, Key(tonic, mode), genre, tags)


def _pace(tempo: int) -> str:
    return "slow" if tempo < 85 else "fast" if tempo >= 125 else "mid-tempo"


def music_prompt(mood: ImageMood, *, explicit: bool = True) -> str:
    """A prompt the styles interpreter reads exactly: genre, key and tempo stated outright, then mood words.

    `explicit` False leaves key and tempo out (a user's own words come first and may state them). Colour
    words are left out on purpose: "blue" would pull the interpreter towards the blues genre.
    """
    head = f"{_pace(mood.tempo_bpm)} {mood.genre}"
    if explicit:
        head += f" in {mood.key.name()}, {mood.tempo_bpm} bpm"
    return head + ", " + ", ".join(mood.tags)


def _percent(x: float) -> str:
    return f"{round(100 * x)}%"


def describe_features(f: ImageFeatures) -> tuple[str, ...]:
    """The "what I saw" lines."""
    colours = ", ".join(f"{s.name} {_percent(s.share)}" for s in f.palette[:4])
    light = "dark" if f.brightness < 0.35 else "bright" if f.brightness > 0.65 else "medium"
    texture = "smooth" if f.edge_density < 0.08 else "busy" if f.edge_density > 0.2 else "some detail"
    hues = ", ".join(f.hues) if f.hues else "no strong hue (greys)"
    return (
        f"Colours: {colours}",
        f"Hues: {hues}; {'warm' if f.warmth > 0.15 else 'cool' if f.warmth < -0.15 else 'neutral'} "
        f"(warmth {f.warmth:+.2f})",
        f"Light: {light} (brightness {_percent(f.brightness)}), saturation {_percent(f.saturation)}, "
        f"contrast {_percent(f.contrast)}",
        f"Texture: {texture} (edges on {_percent(f.edge_density)} of the picture)",
    )


def explain_mood(f: ImageFeatures, mood: ImageMood) -> tuple[str, ...]:
    """The "how it became music" lines: each choice with the measurements that caused it."""
    return (
        f"brightness, warmth and saturation → valence {mood.valence:+.2f} → {mood.key.name()}"
        + (f" (tonic from {f.hues[0]})" if f.hues else ""),
        f"texture, saturation and contrast → arousal {mood.arousal:.2f} → {mood.tempo_bpm} bpm, "
        f"energy {mood.energy:.2f}, {mood.genre}",
    )


def analyse_image(image: Image.Image) -> ImageAnalysis:
    """Measure a picture and turn it into a prompt and a summary. Deterministic; blocking (~10 ms)."""
    features = measure(image)
    mood = choose_music(features)
    return ImageAnalysis(
        features=features,
        mood=mood,
        prompt=music_prompt(mood),
        mood_prompt=music_prompt(mood, explicit=False),
        saw=describe_features(features),
        became=explain_mood(features, mood),
    )
