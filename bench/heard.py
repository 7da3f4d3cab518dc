"""Estimator accuracy (services/heard/): tempo, key and drums against a test set with known truth, and cost.

Run: .venv/bin/python bench/heard.py [--quick] [--pieces N] [--seconds S]
(prints figures, a per-item failure list and a table; asserts nothing, always exits 0; about 2 minutes on
2 busy cores, 25 s with --quick; --failures N lists more failing items)

The test set is built here, deterministically, so every figure can be compared to the truth:
- styles pieces (the styles backend, 20 s each, embeddings off as in the tests), 96 by default (16 with
  --quick): 24 prompts over many genres (lofi, pop, rock, techno, house, drum and bass, folk, jazz, bossa,
  reggae, funk, trap, chiptune, synthwave, march, cinematic, ambient, meditation, classical, piano ballad,
  waltz, jazz waltz in 3/4, celtic jig in 6/8, folk ballad in 6/8), each asked three ways — as it is,
  "no drums" and "with drums" — so drums and genre do not go together; tempi spread over 60–180 bpm (item i
  asks 60 + 37·i mod 121), all 24 keys in turn (item i asks key 7·i mod 24), seed i. The truth is what the
  backend reports (Generation.tempo_bpm, .key, .time_signature; it renders them exactly by construction),
  and drums are present when the rendered MIDI has a note on channel 10. Tempo is the quarter-note bpm the
  bot states, in 6/8 too: a 6/8 piece heard at its dotted-quarter pulse (2/3 of it) counts as a level error.
- click tracks (numpy; a noise burst with a short ping, 20 s): quarter notes at known, partly fractional
  tempi, some with accented downbeats every 3 or 4 beats, some with softer straight eighths in between
  (swing-free). A click is percussive, so their truth is drums present; they have no key (not scored).
  (The drums detector, services/heard/drums.py, counts noisy — spectrally flat — hit energy above 9 kHz; it
  answers None, "not measured", for audio made at a rate with nothing up there: such an item is counted
  neither right nor wrong, and the table says how many there were.)
- chord tracks (numpy; additive tones, a bass root an octave below, 20 s, no drums): I–IV–V–I in a known
  key, one chord a bar, major or minor (minor as i–iv–V–i, the V major with the raised leading tone as in
  harmonic minor), every key once by default. Odd items hold block chords for the whole bar: their only
  onsets are one a bar, so their tempo is not scored. Even items are eighth-note arpeggios at a known bpm
  (tempo scored: the arpeggio's eighths make the double a level error, not a miss).

Every item is mastered first, as the bot's finish step does (services.audio.loudness.
normalize_loudness_measured to -14 LUFS, on the stereo audio), and measured on the mastered audio with the
loudness that mastering reported. Each item is measured twice: `measure(audio, loudness_lufs=level)` (no
stated tempo, the estimator picks the beat level) and `measure(audio, stated_bpm=truth, loudness_lufs=level)`
(how the bot calls it when a tempo was asked). Tempo is right within ±1
bpm of the truth; a reading that is the truth at another level (services.heard.tempo.octave_error: half,
double, dotted) is a level error, counted apart; "no beat" is a None reading. Key is right when tonic and
mode are both right; the relative key (same notes), the parallel key (same tonic) and a fifth away (same
mode, tonic ±7 semitones) are counted apart. Cost, timed on the styles pieces (one warm-up generation,
mastering, encode and measurement are not counted): the free `measure(audio, loudness_lufs=level)` call —
the bot's path, so no loudness reading is paid in it — over (a) the styles generate() call (the goal
figure) and (b) the whole styles job, generate() + mastering (normalize_loudness_measured, which measures
the loudness) + an MP3 encode at 192 kbps (services.audio.mp3.encode_mp3); mastering and encoding are also
shown in ms per minute of audio. The time of each stage of measure() is shown apart (the same functions
measure() calls, timed one by one); the integrated-loudness reading is still timed there, but labelled as
paid by mastering and left out of the measure() total. The time measuring adds to a job: the MP3 encode
with measure() running beside it in a thread (as services/jobs/finish.py runs them for audio nothing will
correct: ffmpeg encodes in its own process) minus the encode alone.
Goals (issue): tempo within ±1 bpm at the right level ≥ 95%, key exact ≥ 90%, drums present/absent ≥ 98%,
measuring < 5% of generation time.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import Row, table  # noqa: E402
from services.audio.loudness import normalize_loudness_measured  # noqa: E402
from services.audio.mp3 import encode_mp3  # noqa: E402
from services.audio.types import Audio  # noqa: E402
from services.heard.measure import Heard, measure  # noqa: E402
from services.heard.tempo import octave_error  # noqa: E402
from services.score.theory import Key  # noqa: E402

SR = 44_100
SECONDS = 20.0
PIECES = 96
QUICK_PIECES = 16
TEMPO_TOLERANCE_BPM = 1.0
GOAL_TEMPO, GOAL_KEY, GOAL_DRUMS, GOAL_COST = 0.95, 0.90, 0.98, 0.05
TARGET_LUFS = -14.0  # the bot's default mastering target (settings.target_lufs)
MP3_KBPS = 192
LOUDNESS_STAGE = "loudness (paid by mastering, not by measure)"
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = tuple(f"{NAMES[k % 12]} {'major' if k < 12 else 'minor'}" for k in range(24))

# (label, prompt): each asked as it is, with "no drums" and with "with drums" (see variant()).
GENRES: tuple[tuple[str, str], ...] = (
    ("lofi", "lofi hip hop beat"),
    ("pop", "upbeat pop song"),
    ("rock", "rock band"),
    ("techno", "dark techno"),
    ("folk", "folk song with acoustic guitar"),
    ("jazz", "jazz trio in a smoky bar"),
    ("ambient", "ambient soundscape"),
    ("piano ballad", "sad piano ballad"),
    ("waltz", "a gentle waltz"),
    ("house", "deep house"),
    ("dnb", "drum and bass"),
    ("reggae", "happy reggae"),
    ("bossa", "bossa nova by the sea"),
    ("funk", "funky groove"),
    ("classical", "classical string quartet"),
    ("jig 6/8", "celtic jig in 6/8"),
    ("ballad 6/8", "folk ballad in 6/8"),
    ("march", "military march"),
    ("synthwave", "80s synthwave"),
    ("chiptune", "8-bit chiptune"),
    ("trap", "trap beat"),
    ("meditation", "meditation music"),
    ("cinematic", "epic cinematic score"),
    ("jazz waltz 3/4", "jazz waltz in 3/4"),
)
VARIANTS = ("", ", no drums", ", with drums")


@dataclass
class Item:
    name: str
    group: str  # "styles", "clicks", "arpeggios", "chords"
    audio: Audio  # mastered, as the bot measures it
    tempo: float | None  # truth; None: not scored
    key: str | None  # truth; None: not scored
    drums: bool
    metre: str = "4/4"
    genre: str = ""
    gen_s: float = 0.0  # styles: the generate() call
    level: float | None = None  # integrated loudness of `audio`, as mastering reported it
    master_s: float = 0.0  # styles: normalize_loudness_measured()
    encode_s: float = 0.0  # styles: encode_mp3() of the mastered audio
    overlap_s: float = 0.0  # styles: the MP3 encoded in a thread while measure() runs (as finish.py does)


def master(audio: Audio) -> tuple[Audio, float]:
    """The bot's finish step: the stereo audio levelled to TARGET_LUFS, and its loudness."""
    return normalize_loudness_measured(audio.to_stereo(), target_lufs=TARGET_LUFS)


@dataclass(frozen=True)
class Measured:
    """An item's truth and what was heard."""

    item: Item
    free: Heard  # measure(audio)
    stated: Heard  # measure(audio, stated_bpm=truth); the free reading where no tempo is scored
    measure_s: float  # the free measure() call
    stages: dict[str, float] = field(default_factory=dict)  # styles pieces: each stage of measure()

    def __getattr__(self, name: str) -> Any:  # the truth's fields read straight through
        return getattr(self.item, name)


def say(text: str = "") -> None:
    print(text, flush=True)


# --- the test set ----------------------------------------------------------------------------------


def piece_plan(i: int) -> tuple[str, str, float, str]:
    """Item i of the styles set: (genre label, prompt, bpm, key). Each genre meets all three variants."""
    label, prompt = GENRES[i % len(GENRES)]
    variant = VARIANTS[(i + i // len(GENRES)) % len(VARIANTS)]
    bpm = float(60 + (37 * i) % 121)
    return label, prompt + variant, bpm, KEYS[(7 * i) % 24]


def midi_has_drums(midi: bytes) -> bool:
    import mido

    song = mido.MidiFile(file=io.BytesIO(midi))
    return any(m.type == "note_on" and m.channel == 9 and m.velocity > 0 for t in song.tracks for m in t)


def deliver_while_measuring(audio: Audio, level: float) -> float:
    """Seconds for the MP3 encode (ffmpeg, another process) with measure() running beside it, as the
    finish step runs them (services/jobs/finish.py) for audio nothing will correct."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        encoding = pool.submit(encode_mp3, audio, MP3_KBPS)
        measure(audio, loudness_lufs=level)
        encoding.result()
    return time.perf_counter() - started


def styles_items(count: int, seconds: float, on_item: Callable[[int], None]) -> list[Item]:
    from services.backends.base import GenerationRequest, no_progress
    from services.backends.registry import get_backend
    from tests.conftest import make_settings

    backend = get_backend(
        "styles", make_settings(Path(tempfile.mkdtemp(prefix="pj-heard-")), embeddings_enabled=False)
    )
    warm = backend.generate(GenerationRequest(prompt="warm-up", duration_s=seconds, seed=0), no_progress)
    warm_audio, warm_level = master(warm.audio)  # imports, SoundFont, FFT plans, the encoder: not counted
    encode_mp3(warm_audio, MP3_KBPS)
    measure(warm_audio, loudness_lufs=warm_level)
    items = []
    for i in range(count):
        label, prompt, bpm, key = piece_plan(i)
        request = GenerationRequest(prompt=prompt, duration_s=seconds, seed=i, bpm=bpm, key=key)
        started = time.perf_counter()
        g = backend.generate(request, no_progress)
        gen_s = time.perf_counter() - started
        started = time.perf_counter()
        audio, level = normalize_loudness_measured(g.audio.to_stereo(), target_lufs=TARGET_LUFS)
        master_s = time.perf_counter() - started
        started = time.perf_counter()
        encode_mp3(audio, MP3_KBPS)
        encode_s = time.perf_counter() - started
        overlap_s = deliver_while_measuring(audio, level)
        made = Key.parse(g.key) if g.key else None
        if (
            made is None
            or (made.tonic, made.mode) != (Key.parse(key).tonic, Key.parse(key).mode)
            or g.tempo_bpm != bpm
        ):
            say(f"  note: {prompt!r} asked {bpm:g} bpm {key}, the backend made {g.tempo_bpm} bpm {g.key}")
        item = Item(
            name=f"styles #{i} {prompt!r} {g.tempo_bpm:g} bpm {g.key} {g.time_signature}",
            group="styles",
            audio=audio,
            tempo=g.tempo_bpm,
            key=g.key,
            drums=midi_has_drums(g.midi) if g.midi else False,
            metre=g.time_signature or "4/4",
            genre=label,
            gen_s=gen_s,
            level=level,
            master_s=master_s,
            encode_s=encode_s,
            overlap_s=overlap_s,
        )
        items.append(item)
        on_item(i)
    return items


def _stereo(mono: np.ndarray) -> Audio:
    peak = float(np.max(np.abs(mono))) or 1.0
    x = (0.5 * mono / peak).astype(np.float32)
    return Audio(np.stack([x, x]), SR)


def click_track(bpm: float, seconds: float, accent_every: int, eighths: bool, seed: int) -> Audio:
    """Metronome clicks on every beat (louder, higher on the downbeat when accent_every), softer eighths."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n + SR)
    t = np.arange(int(0.03 * SR)) / SR

    def click(level: float, ping_hz: float) -> np.ndarray:
        noise = rng.standard_normal(t.size) * np.exp(-t / 0.004)
        ping = 0.6 * np.sin(2 * np.pi * ping_hz * t) * np.exp(-t / 0.012)
        return level * (noise + ping)

    beat = 60.0 / bpm
    k = 0
    while k * beat < seconds:
        accent = accent_every > 0 and k % accent_every == 0
        at = round(k * beat * SR)
        sound = click(1.0, 2000.0) if accent else click(0.7 if accent_every else 0.85, 1500.0)
        out[at : at + t.size] += sound
        if eighths and (k + 0.5) * beat < seconds:
            at = round((k + 0.5) * beat * SR)
            out[at : at + t.size] += click(0.35, 1500.0)
        k += 1
    return _stereo(out[:n])


def _tone(midi: float, length_s: float, *, pluck: bool) -> np.ndarray:
    t = np.arange(int(length_s * SR)) / SR
    f = 440.0 * 2 ** ((midi - 69) / 12)
    wave = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 7) if f * h < SR / 2)
    attack = np.minimum(1.0, t / 0.01)
    release = np.clip((length_s - t) / 0.08, 0.0, 1.0)
    decay = np.exp(-t / 0.35) if pluck else 0.7 + 0.3 * np.exp(-t / 0.5)
    return wave * attack * release * decay


def chord_track(key: str, bpm: float, seconds: float, arpeggio: bool) -> Audio:
    """I–IV–V–I (minor: i–iv–V–i), one chord per 4/4 bar, sustained or as eighth-note arpeggios."""
    parsed = Key.parse(key)
    third = 3 if parsed.mode == "minor" else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]  # V is major in both modes
    root = 48 + parsed.tonic  # C3 … B3
    n = int(seconds * SR)
    out = np.zeros(n + 4 * SR)
    bar = 4 * 60.0 / bpm
    eighth = bar / 8
    b = 0
    while b * bar < seconds:
        chord = chords[b % 4]
        start = round(b * bar * SR)
        bass = _tone(root - 12 + chord[0], bar, pluck=False)
        out[start : start + bass.size] += 0.8 * bass
        if arpeggio:
            for j, step in enumerate((0, 1, 2, 1, 0, 1, 2, 1)):
                note = _tone(root + chord[step], eighth * 0.95, pluck=True)
                at = round((b * bar + j * eighth) * SR)
                out[at : at + note.size] += 0.6 * note
        else:
            for pitch in chord:
                note = _tone(root + pitch, bar, pluck=False)
                out[start : start + note.size] += 0.5 * note
        b += 1
    return _stereo(out[:n])


def synthetic_items(clicks: int, chords: int, seconds: float) -> list[Item]:
    items = []
    for i in range(clicks):
        bpm = round(60.0 + (120.0 * ((0.618034 * (i + 1)) % 1.0)), 1)  # spread over 60–180, some fractional
        accent = (0, 4, 3, 4)[i % 4]
        eighths = (i // 2) % 2 == 1
        label = (
            f"click {bpm:g} bpm" + (f", accent every {accent}" if accent else "") + (", eighths" * eighths)
        )
        audio, level = master(click_track(bpm, seconds, accent, eighths, seed=i))
        items.append(
            Item(
                name=label,
                group="clicks",
                audio=audio,
                tempo=bpm,
                key=None,
                drums=True,
                metre=f"{accent or 4}/4",
                genre="click",
                level=level,
            )
        )
    for i in range(chords):
        key = KEYS[(7 * i + 3) % 24]
        bpm = float(60 + (53 * i) % 121)
        arpeggio = i % 2 == 0
        kind = "arpeggios" if arpeggio else "chords"
        audio, level = master(chord_track(key, bpm, seconds, arpeggio))
        items.append(
            Item(
                name=f"{'arpeggio' if arpeggio else 'block chords'} I-IV-V-I {key}, {bpm:g} bpm",
                group=kind,
                audio=audio,
                tempo=bpm if arpeggio else None,
                key=key,
                drums=False,
                genre=kind,
                level=level,
            )
        )
    return items


# --- measuring -------------------------------------------------------------------------------------


def stage_times(audio: Audio) -> dict[str, float]:
    """The functions measure() calls, timed one by one (as services/heard/measure.py calls them). The bot
    passes the loudness mastering measured, so measure() skips integrated_loudness: it is timed here all the
    same, under LOUDNESS_STAGE, and left out of the measure() total (see cost_rows)."""
    from services.audio.analysis import chroma_profile
    from services.audio.loudness import integrated_loudness
    from services.heard.drums import percussive_share
    from services.heard.key import KEY_FMAX, KEY_FMIN, estimate_key
    from services.heard.onsets import RATE, onset_envelope, spectrum
    from services.heard.tempo import estimate_tempo

    times: dict[str, float] = {}
    values: dict[str, Any] = {}

    def timed(name: str, fn: Callable[[], Any]) -> None:
        started = time.perf_counter()
        values[name] = fn()
        times[name] = time.perf_counter() - started

    timed("spectrum", lambda: spectrum(audio))
    timed("onsets", lambda: onset_envelope(values["spectrum"]))
    timed("tempo", lambda: estimate_tempo(values["onsets"], values["spectrum"].frame_rate))
    timed(
        "chroma",
        lambda: chroma_profile(
            Audio.from_array(values["spectrum"].mono, RATE),
            fmin=KEY_FMIN,
            fmax=KEY_FMAX,
            n_fft=8192,
            hop=2048,
        ),
    )
    timed("key", lambda: estimate_key(values["chroma"]))
    timed("drums", lambda: percussive_share(values["spectrum"], audio.sample_rate))
    timed(LOUDNESS_STAGE, lambda: integrated_loudness(audio))
    return times


def measure_item(item: Item) -> Measured:
    started = time.perf_counter()
    free = measure(item.audio, loudness_lufs=item.level)  # the bot's path: mastering measured the loudness
    measure_s = time.perf_counter() - started
    stated = (
        measure(item.audio, stated_bpm=item.tempo, loudness_lufs=item.level)
        if item.tempo is not None
        else free
    )
    stages = stage_times(item.audio) if item.group == "styles" else {}
    return Measured(item, free, stated, measure_s, stages)


# --- judging ---------------------------------------------------------------------------------------


def tempo_verdict(heard: float | None, truth: float) -> str:
    if heard is None:
        return "no beat"
    if abs(heard - truth) <= TEMPO_TOLERANCE_BPM:
        return "right"
    if octave_error(heard, truth, TEMPO_TOLERANCE_BPM):
        return "level"
    return "miss"


def key_verdict(heard: str | None, truth: str) -> str:
    if heard is None:
        return "none"
    h, t = Key.parse(heard), Key.parse(truth)
    if (h.tonic, h.mode) == (t.tonic, t.mode):
        return "right"
    if h.mode != t.mode:
        if (h.mode == "minor" and h.tonic == (t.tonic + 9) % 12) or (
            h.mode == "major" and h.tonic == (t.tonic + 3) % 12
        ):
            return "relative"
        if h.tonic == t.tonic:
            return "parallel"
    elif (h.tonic - t.tonic) % 12 in (5, 7):
        return "fifth"
    return "other"


def ratio_label(heard: float, truth: float) -> str:
    r = heard / truth
    for value, name in (
        (0.5, "1/2"),
        (2 / 3, "2/3"),
        (0.75, "3/4"),
        (4 / 3, "4/3"),
        (1.5, "3/2"),
        (2.0, "2x"),
    ):
        if abs(r - value) < 0.02:
            return name
    return f"x{r:.3f}"


def share(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100.0 * hits / total:.1f}%" if total else "none"


def tempo_rows(items: list[Measured], mode: str) -> list[Row]:
    scored = [it for it in items if it.tempo is not None]
    reading = (lambda it: it.free) if mode == "free" else (lambda it: it.stated)
    verdicts = Counter(tempo_verdict(reading(it).tempo_bpm, it.tempo) for it in scored)
    ratios = Counter(
        ratio_label(reading(it).tempo_bpm, it.tempo)
        for it in scored
        if tempo_verdict(reading(it).tempo_bpm, it.tempo) == "level"
    )
    levels = ", ".join(f"{name} ×{n}" for name, n in ratios.most_common())
    title = "no stated bpm" if mode == "free" else "stated bpm = truth"
    rows = [
        Row(
            f"tempo ±{TEMPO_TOLERANCE_BPM:g} bpm at the right level, {title}",
            share(verdicts["right"], len(scored)),
            f">= {GOAL_TEMPO:.0%}",
            verdicts["right"] / len(scored) >= GOAL_TEMPO if scored else None,
        ),
        Row(
            "  level errors (octave_error) / misses / no beat heard",
            f"{verdicts['level']} / {verdicts['miss']} / {verdicts['no beat']}"
            + (f" (heard/truth: {levels})" if levels else ""),
            "",
            None,
        ),
    ]
    for name, subset in breakdown(scored):
        right = sum(tempo_verdict(reading(it).tempo_bpm, it.tempo) == "right" for it in subset)
        rows.append(Row(f"  {name}", share(right, len(subset)), "", None))
    return rows


def breakdown(items: list[Measured]) -> list[tuple[str, list[Measured]]]:
    """Styles by metre and by drums; the synthetic groups as they are."""
    parts: list[tuple[str, list[Measured]]] = []
    styles = [it for it in items if it.group == "styles"]
    for metre in sorted({it.metre for it in styles}):
        parts.append((f"styles {metre}", [it for it in styles if it.metre == metre]))
    parts.append(("styles with drums", [it for it in styles if it.drums]))
    parts.append(("styles without drums", [it for it in styles if not it.drums]))
    for group in ("clicks", "arpeggios", "chords"):
        subset = [it for it in items if it.group == group]
        if subset:
            parts.append((group, subset))
    return [(name, subset) for name, subset in parts if subset]


def key_rows(items: list[Measured]) -> list[Row]:
    scored = [it for it in items if it.key is not None]
    verdicts = Counter(key_verdict(it.free.key, it.key) for it in scored)
    rows = [
        Row(
            "key exact (tonic and mode)",
            share(verdicts["right"], len(scored)),
            f">= {GOAL_KEY:.0%}",
            verdicts["right"] / len(scored) >= GOAL_KEY if scored else None,
        ),
        Row(
            "  relative / parallel / fifth / other / none",
            " / ".join(str(verdicts[n]) for n in ("relative", "parallel", "fifth", "other", "none")),
            "",
            None,
        ),
    ]
    for name, subset in breakdown(scored):
        right = sum(key_verdict(it.free.key, it.key) == "right" for it in subset)
        rows.append(Row(f"  {name}", share(right, len(subset)), "", None))
    return rows


def drums_rows(items: list[Measured]) -> list[Row]:
    """Scored over the items whose drums were measured (free.drums None: neither right nor wrong)."""
    measured = [it for it in items if it.free.drums is not None]
    unmeasured = len(items) - len(measured)
    right = sum(it.free.drums == it.drums for it in measured)
    missed = sum(it.drums and not it.free.drums for it in measured)
    phantom = sum(not it.drums and bool(it.free.drums) for it in measured)
    with_d = sorted(s for it in items if it.drums and (s := it.free.percussive_share) is not None)
    without = sorted(s for it in items if not it.drums and (s := it.free.percussive_share) is not None)
    rows = [
        Row(
            "drums present/absent",
            share(right, len(measured)),
            f">= {GOAL_DRUMS:.0%}",
            right / len(measured) >= GOAL_DRUMS if measured else None,
        ),
        Row("  drums missed / drums heard where none", f"{missed} / {phantom}", "", None),
    ]
    if unmeasured:
        rows.append(Row("  drums not measured (not scored)", f"{unmeasured}/{len(items)}", "", None))
    if with_d and without:
        rows.append(
            Row(
                "  percussive share: with drums min, median; without max, median",
                f"{with_d[0]:.3g}, {statistics.median(with_d):.3g}; "
                f"{without[-1]:.3g}, {statistics.median(without):.3g}",
                "",
                None,
            )
        )
    for name, subset in breakdown(measured):
        hits = sum(it.free.drums == it.drums for it in subset)
        rows.append(Row(f"  {name}", share(hits, len(subset)), "", None))
    return rows


def cost_rows(items: list[Measured]) -> list[Row]:
    styles = [it for it in items if it.group == "styles"]
    if not styles:
        return []
    meas = sum(it.measure_s for it in styles)
    gen = sum(it.gen_s for it in styles)
    mastering = sum(it.master_s for it in styles)
    encoding = sum(it.encode_s for it in styles)
    overlap = sum(it.overlap_s for it in styles)
    job = gen + mastering + encoding
    minutes = sum(it.audio.duration for it in styles) / 60.0
    all_minutes = sum(it.audio.duration for it in items) / 60.0
    stages = {name: sum(it.stages[name] for it in styles) for name in styles[0].stages}
    paid = sum(s for name, s in stages.items() if name != LOUDNESS_STAGE)
    return [
        Row(
            "measuring / generation time (styles pieces)",
            f"{meas:.2f} s / {gen:.2f} s = {100.0 * meas / gen:.1f}%",
            f"< {GOAL_COST:.0%}",
            meas / gen < GOAL_COST,
        ),
        Row(
            "measuring / the whole styles job (generate + master + MP3)",
            f"{meas:.2f} s / {job:.2f} s = {100.0 * meas / job:.1f}%",
            "",
            None,
        ),
        Row(
            "time measuring adds to the job (run beside the MP3 encode)",
            f"{overlap - encoding:+.2f} s / {job:.2f} s = {100.0 * (overlap - encoding) / job:+.1f}%",
            "",
            None,
        ),
        Row("  mastering, ms per minute", f"{1000.0 * mastering / minutes:.0f}", "", None),
        Row("  MP3 encoding, ms per minute", f"{1000.0 * encoding / minutes:.0f}", "", None),
        Row("  measuring, ms per minute of audio (styles)", f"{1000.0 * meas / minutes:.0f}", "", None),
        Row(
            "  measuring, ms per minute of audio (all items)",
            f"{1000.0 * sum(it.measure_s for it in items) / all_minutes:.0f}",
            "",
            None,
        ),
        Row("  generation, ms per minute of audio (styles)", f"{1000.0 * gen / minutes:.0f}", "", None),
        Row(
            "  measure() stages, ms per minute of audio",
            ", ".join(
                f"{name} {1000.0 * s / minutes:.0f}" for name, s in stages.items() if name != LOUDNESS_STAGE
            )
            + f"; total {1000.0 * paid / minutes:.0f}",
            "",
            None,
        ),
        Row(
            f"  {LOUDNESS_STAGE}, ms per minute",
            f"{1000.0 * stages.get(LOUDNESS_STAGE, 0.0) / minutes:.0f}",
            "",
            None,
        ),
    ]


def failures(items: list[Measured]) -> list[str]:
    lines = []
    for it in items:
        free, stated = it.free, it.stated
        wrong = []
        if it.tempo is not None:
            for label, reading in (("free", free), ("stated", stated)):
                verdict = tempo_verdict(reading.tempo_bpm, it.tempo)
                if verdict != "right":
                    heard = reading.tempo_bpm
                    detail = "none" if heard is None else f"{heard:.2f} ({ratio_label(heard, it.tempo)})"
                    wrong.append(f"tempo {label} {verdict}: {detail}")
        if it.key is not None and key_verdict(free.key, it.key) != "right":
            wrong.append(f"key {key_verdict(free.key, it.key)}: {free.key} (conf {free.key_confidence:.3f})")
        if free.drums is not None and free.drums != it.drums:
            wrong.append(
                f"drums {'missed' if it.drums else 'phantom'}: share {free.percussive_share or 0.0:.3g}"
            )
        if wrong:
            lines.append(f"{it.name}: " + "; ".join(wrong))
    return lines


def by_genre(items: list[Measured]) -> list[str]:
    out = []
    genres = list(dict.fromkeys(it.genre for it in items))
    width = max(len(g) for g in genres)
    out.append(f"{'genre'.ljust(width)}  n   tempo free  tempo stated  key     drums")
    for genre in genres:
        subset = [it for it in items if it.genre == genre]
        timed = [it for it in subset if it.tempo is not None]
        keyed = [it for it in subset if it.key is not None]
        free = sum(tempo_verdict(it.free.tempo_bpm, it.tempo) == "right" for it in timed)
        stated = sum(tempo_verdict(it.stated.tempo_bpm, it.tempo) == "right" for it in timed)
        keys = sum(key_verdict(it.free.key, it.key) == "right" for it in keyed)
        heard = [it for it in subset if it.free.drums is not None]
        drums = sum(it.free.drums == it.drums for it in heard)

        def frac(a: int, b: int) -> str:
            return f"{a}/{b}" if b else "-"

        out.append(
            f"{genre.ljust(width)}  {len(subset):<3} {frac(free, len(timed)):<11} "
            f"{frac(stated, len(timed)):<13} {frac(keys, len(keyed)):<7} {frac(drums, len(heard))}"
        )
    return out


# --- correction DSP: atempo (the one used) against Rubber Band, both in the shipped ffmpeg -------------


def _filtered(audio: Audio, chain: str) -> tuple[Audio, float]:
    from services.audio.ffmpeg import run_ffmpeg

    stereo = audio.to_stereo()
    raw = np.ascontiguousarray(stereo.samples.T, dtype="<f4").tobytes()
    fmt = ["-f", "f32le", "-ar", str(stereo.sample_rate), "-ac", "2"]
    started = time.perf_counter()
    out = run_ffmpeg([*fmt, "-i", "pipe:0", "-af", chain, *fmt, "pipe:1"], stdin=raw)
    seconds = time.perf_counter() - started
    samples = np.frombuffer(out, dtype="<f4").reshape(-1, 2).T
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), stereo.sample_rate), seconds


def _sharpness(audio: Audio) -> float:
    """Mean of the 20 strongest onsets over the mean onset strength: smeared hits score lower."""
    from services.heard.onsets import onset_envelope, spectrum

    env = onset_envelope(spectrum(audio))
    return float(np.sort(env)[-20:].mean() / (env.mean() + 1e-9))


def _purity(audio: Audio, partials: list[float]) -> float:
    """Share of a held chord's energy within 4 Hz of its partials (artefacts land between them)."""
    rate = audio.sample_rate
    mono = audio.to_mono().astype(np.float64)[rate:-rate]
    power = np.abs(np.fft.rfft(mono * np.hanning(mono.size))) ** 2
    freqs = np.fft.rfftfreq(mono.size, 1.0 / rate)
    near = np.zeros(freqs.size, dtype=bool)
    for p in partials:
        near |= np.abs(freqs - p) <= 4.0
    return float(power[near].sum() / power.sum())


def dsp_rows() -> list[Row]:
    """Stretch a 100 bpm click track to 104 and a held chord by 4%, and shift the chord up a tone."""
    from services.heard.correct import Correction, filters

    rate = 44_100
    clicks = click_track(100.0, 20.0, 4, False, 1)
    t = np.arange(int(8 * rate)) / rate
    partials = [220.0 * 2 ** (step / 12) * h for step in (3, 7, 12) for h in (1, 2, 3)]
    chord = np.sum([np.sin(2 * np.pi * f * t) / (1 + i % 3) for i, f in enumerate(partials)], axis=0)
    held = _stereo(chord * 0.05)
    tone = 2 ** (2 / 12)
    chains = {
        "atempo (used)": (filters(Correction(1.04), rate), filters(Correction(None, 2), rate)),
        "rubberband": ("rubberband=tempo=1.04:transients=crisp", f"rubberband=pitch={tone:.6f}"),
    }
    base = _sharpness(clicks)
    rows = [Row("correction DSP (ffmpeg): stretch 4%, shift +2 semitones", "", "", None)]
    for name, (stretch, shift) in chains.items():
        stretched, stretch_s = _filtered(clicks, stretch)
        held_stretched, _ = _filtered(held, stretch)
        shifted, shift_s = _filtered(held, shift)
        kept = _purity(held_stretched, partials), _purity(shifted, [f * tone for f in partials])
        rows += [
            Row(
                f"  {name}: onset sharpness kept / cost",
                f"{_sharpness(stretched) / base:.0%} / "
                f"{stretch_s * 60 / clicks.duration * 1000:.0f} ms per min",
                "",
                None,
            ),
            Row(
                f"  {name}: held chord on its partials, stretched / shifted",
                f"{kept[0]:.0%} / {kept[1]:.0%} (shift {shift_s * 60 / held.duration * 1000:.0f} ms per min)",
                "",
                None,
            ),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PIECES} styles pieces, fewer synthetic")
    parser.add_argument(
        "--pieces", type=int, default=None, help=f"styles pieces ({PIECES}; {QUICK_PIECES} --quick)"
    )
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of every item (20 s)")
    parser.add_argument("--failures", type=int, default=20, help="most failure lines to print (20)")
    args = parser.parse_args()
    pieces = args.pieces if args.pieces is not None else (QUICK_PIECES if args.quick else PIECES)
    clicks, chords = (4, 4) if args.quick else (16, 24)

    started = time.perf_counter()
    load = os.getloadavg()[0]
    say(f"load average at start: {load:.2f} on {os.cpu_count()} cores (timings are shared with other work)")
    say(f"building the test set: {pieces} styles pieces, {clicks} click tracks, {chords} chord tracks ...")

    def progress(i: int) -> None:
        if (i + 1) % 16 == 0 or i + 1 == pieces:
            say(f"  {i + 1}/{pieces} styles pieces generated ({time.perf_counter() - started:.0f} s)")

    built = styles_items(pieces, args.seconds, progress) + synthetic_items(clicks, chords, args.seconds)
    say(f"measuring {len(built)} items ...")
    items = [measure_item(item) for item in built]

    styles = [it for it in items if it.group == "styles"]
    metres = Counter(it.metre for it in styles)
    say("")
    say("by genre (right / scored):")
    for line in by_genre(items):
        say("  " + line)
    fails = failures(items)
    say("")
    say(f"failing items ({len(fails)} of {len(items)}):")
    for line in fails[: args.failures]:
        say("  " + line)
    if len(fails) > args.failures:
        say(f"  ... and {len(fails) - args.failures} more (--failures N to see them)")

    rows = [
        Row(
            "test set",
            f"{len(styles)} styles ({sum(it.drums for it in styles)} with drums; "
            + ", ".join(f"{m} {n}" for m, n in sorted(metres.items()))
            + f"), {clicks} clicks, {chords} chord tracks",
            "",
            None,
        ),
        *tempo_rows(items, "free"),
        *tempo_rows(items, "stated"),
        *key_rows(items),
        *drums_rows(items),
        *cost_rows(items),
        *dsp_rows(),
    ]
    say("")
    say(table(rows))
    say(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
