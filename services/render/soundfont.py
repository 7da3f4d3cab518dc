"""Score → stereo audio with real instrument samples from a General MIDI SoundFont.

TinySoundFont does the synthesis. The SoundFont is parsed once per process and
cloned for each render (a clone shares the sample data, so it costs
microseconds), which makes every render start from the same clean state: the
same score always gives the same samples. Events are applied at their exact
sample: the synthesiser renders the block up to the next event, then the event.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from services.audio.types import Audio
from services.render.effects import reverb as apply_reverb
from services.score.midi import plan_channels, scaled_velocity
from services.score.model import Note, Score

# Where a General MIDI SoundFont usually lives on Debian/Ubuntu (fluid-soundfont-gm, timgm6mb-soundfont, …).
DEBIAN_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)
INSTALL_HINT = "pip install --no-deps tinysoundfont"
MAX_RENDER_SECONDS = 1200.0  # hard stop against runaway scores; the validator's limit is lower
PEAK_CEILING = 0.891  # -1 dBFS: louder mixes are scaled down as a whole, never clipped
SYNTH_GAIN_DB = -3.0  # TinySoundFont's output gain; dense GM mixes peak above full scale at 0 dB
MAX_VOICES = 256  # simultaneous sample voices; one note may use several
PROGRESS_STEPS = 10  # progress is reported every tenth of the render

ProgressCallback = Callable[[str, int, int], None]


class SoundFontNotFound(FileNotFoundError):
    """No usable .sf2 file; the message lists every place that was tried."""


class SynthesizerUnavailable(RuntimeError):
    """The tinysoundfont module cannot be imported; the message says how to install it."""


def pretty_midi_soundfont() -> Path | None:
    """The TimGM6mb.sf2 inside the installed pretty_midi package, found without importing pretty_midi."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"


def soundfont_candidates(explicit: str | Path | None = None) -> list[Path]:
    """Where to look, in order: the explicit path (alone, when given), pretty_midi's, Debian's."""
    if explicit is not None and str(explicit).strip():
        return [Path(explicit).expanduser()]
    found = pretty_midi_soundfont()
    return ([found] if found else []) + list(DEBIAN_SOUNDFONTS)


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """The SoundFont to render with. An explicit path must exist: a typo never silently falls back."""
    tried = soundfont_candidates(explicit)
    for path in tried:
        if path.is_file():
            return path
    places = ", ".join(str(p) for p in tried) or "(nowhere)"
    if explicit is not None and str(explicit).strip():
        raise SoundFontNotFound(f"SoundFont not found at {places} (check SOUNDFONT_PATH)")
    raise SoundFontNotFound(
        f"no General MIDI SoundFont found; tried {places}. Install pretty_midi (it ships TimGM6mb.sf2), "
        "or `apt-get install fluid-soundfont-gm`, or set SOUNDFONT_PATH to an .sf2 file"
    )


def _synth_module() -> ModuleType:
    try:
        from tinysoundfont import _tinysoundfont
    except ImportError as exc:
        raise SynthesizerUnavailable(
            f"the SoundFont synthesiser is not installed ({exc}); install it with `{INSTALL_HINT}` "
            "(--no-deps skips PyAudio, which offline rendering does not need)"
        ) from exc
    return _tinysoundfont


_fonts: dict[Path, Any] = {}  # resolved path → parsed SoundFont, the template every render clones
_fonts_lock = threading.Lock()  # guards _fonts and TinySoundFont's non-atomic clone/free reference counts


def load_soundfont(path: Path) -> Any:
    """Parse `path` once per process; later calls return the cached template."""
    key = path.resolve()
    module = _synth_module()
    with _fonts_lock:
        font = _fonts.get(key)
        if font is None:
            try:
                font = module.SoundFont(str(key))
            except Exception as exc:  # the binding raises RuntimeError/ValueError for files it cannot parse
                raise SoundFontNotFound(f"cannot load SoundFont {key}: {exc}") from exc
            _fonts[key] = font
        return font


def _preset(font: Any, program: int, is_drum: bool) -> int:
    """A program the SoundFont actually has: the asked one, else its GM family's first, else 0."""
    bank = 128 if is_drum else 0
    for candidate in (program, program // 8 * 8, 0):
        if font.get_preset_index(bank, candidate) >= 0:
            return candidate
    return 0


def _playable(note: Note) -> bool:
    """Notes the synthesiser can play; the validator reports the others, the renderer skips them."""
    timing_ok = math.isfinite(note.start) and math.isfinite(note.duration) and note.start >= 0
    return 0 <= note.pitch <= 127 and timing_ok and note.duration > 0 and note.velocity > 0


def _events(score: Score, sample_rate: int) -> tuple[list[tuple[int, int, int, int, float]], int]:
    """Sorted (sample, 0 = off / 1 = on, channel, key, velocity 0–1) events; the last note-off's sample."""
    plans = plan_channels(score)
    samples_per_beat = score.seconds_per_beat() * sample_rate
    events: list[tuple[int, int, int, int, float]] = []
    last = 0
    for plan in plans:
        for index in plan.tracks:
            track = score.tracks[index]
            scale = plan.velocity_scale(track)
            for note in track.notes:
                if not _playable(note):
                    continue
                on = round(note.start * samples_per_beat)
                off = max(on + 1, round(note.end * samples_per_beat))
                velocity = scaled_velocity(note.velocity, scale) / 127.0
                events.append((on, 1, plan.channel, note.pitch, velocity))
                if not plan.is_drum:  # drum hits ring out as GM synths play them: note-offs are ignored
                    events.append((off, 0, plan.channel, note.pitch, 0.0))
                last = max(last, off)
    events.sort()
    return events, last


def render_score(
    score: Score,
    *,
    soundfont: Path | None = None,
    sample_rate: int = 44100,
    tail_s: float = 1.5,
    reverb: float = 0.18,
    progress: ProgressCallback | None = None,
) -> Audio:
    """Render `score` to stereo float32 audio: its length plus `tail_s` seconds for releases and reverb.

    `progress("rendering", step, 10)` is called as each tenth is done; it may
    raise (to cancel) and the render stops there.
    """
    if not (math.isfinite(score.tempo_bpm) and score.tempo_bpm > 0):
        raise ValueError(f"cannot render at tempo {score.tempo_bpm!r}")
    if sample_rate <= 0 or not math.isfinite(tail_s) or tail_s < 0:
        raise ValueError("sample rate must be positive and the tail 0 seconds or longer")
    path = find_soundfont(soundfont)
    template = load_soundfont(path)
    module = _synth_module()
    events, last_note = _events(score, sample_rate)
    body = max(last_note, round(score.end_beat() * score.seconds_per_beat() * sample_rate))
    total = body + round(tail_s * sample_rate)
    if total > MAX_RENDER_SECONDS * sample_rate:
        seconds = total / sample_rate
        raise ValueError(f"score too long to render: {seconds:.0f} s (at most {MAX_RENDER_SECONDS:.0f})")

    with _fonts_lock:
        synth = module.SoundFont(template)
    try:
        synth.set_output(module.OutputMode.StereoInterleaved, sample_rate, SYNTH_GAIN_DB)
        synth.set_max_voices(MAX_VOICES)
        for plan in plan_channels(score):
            preset = _preset(template, plan.program, plan.is_drum)
            synth.channel_set_preset_number(plan.channel, preset, plan.is_drum)
            synth.channel_set_volume(plan.channel, plan.volume)
            synth.channel_set_pan(plan.channel, (min(1.0, max(-1.0, plan.pan)) + 1.0) / 2.0)
        dry = _synthesise(synth, events, total, progress)
    finally:
        with _fonts_lock:
            del synth

    wet = apply_reverb(np.ascontiguousarray(dry.T), sample_rate, mix=reverb) if reverb > 0 else dry.T
    peak = float(np.max(np.abs(wet))) if wet.size else 0.0
    if peak > PEAK_CEILING:
        wet = wet * (PEAK_CEILING / peak)
    if progress is not None:
        progress("rendering", PROGRESS_STEPS, PROGRESS_STEPS)
    return Audio(np.ascontiguousarray(wet, dtype=np.float32), sample_rate)


def _synthesise(
    synth: Any,
    events: list[tuple[int, int, int, int, float]],
    total: int,
    progress: ProgressCallback | None,
) -> np.ndarray:
    """Run the synthesiser over `total` frames, applying each event at its sample. Returns (frames, 2)."""
    out = np.zeros((total, 2), dtype=np.float32)
    # Tenths 1–9; the caller reports the tenth after the reverb.
    marks = [total * k // PROGRESS_STEPS for k in range(1, PROGRESS_STEPS)]
    pos = 0
    index = 0
    mark = 0
    while pos < total:
        stop = events[index][0] if index < len(events) else total
        if mark < len(marks):
            stop = min(stop, marks[mark])
        stop = min(max(stop, pos), total)
        if stop > pos:
            synth.render(out[pos:stop].reshape(-1).view(np.uint8))
            pos = stop
        while index < len(events) and events[index][0] <= pos:
            _, is_on, channel, key, velocity = events[index]
            if is_on:
                synth.channel_note_on(channel, key, velocity)
            else:
                synth.channel_note_off(channel, key)
            index += 1
        while mark < len(marks) and marks[mark] <= pos:
            mark += 1
            if progress is not None:
                progress("rendering", mark, PROGRESS_STEPS)
        if index >= len(events) and mark >= len(marks) and pos < total:
            synth.render(out[pos:total].reshape(-1).view(np.uint8))
            pos = total
    return out
