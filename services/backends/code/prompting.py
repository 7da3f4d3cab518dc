"""What the model is told: the sound API, two short examples, the reply format, and feedback turns."""

from __future__ import annotations

from typing import Any

from services.backends.code.checks import ALLOWED_IMPORTS, Problem

REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "a short title for the piece"},
        "code": {"type": "string", "description": "the complete Python module"},
    },
    "required": ["title", "code"],
    "additionalProperties": False,
}

API = """\
soundlib (all functions take/return float32 numpy arrays; mono is (frames,), stereo is (2, frames)):
  frames(seconds, sr) -> int                 timeline(seconds, sr) -> times in seconds
  midi_to_hz(note) -> Hz                     note_hz("C#4") -> Hz
  sine|saw|triangle(freq, seconds, sr)       square(freq, seconds, sr, duty=0.5)
      freq may be a number or a per-sample array (glides, vibrato)
  noise(seconds, sr, seed=0, color="white"|"pink"|"brown")
  adsr(seconds, sr, attack=0.01, decay=0.1, sustain=0.7, release=0.2)   decay(seconds, sr, time=0.3)
  lowpass(x, cutoff, sr, order=2)   highpass(x, cutoff, sr, order=2)   bandpass(x, low, high, sr, order=2)
  delay(x, sr, time=0.25, feedback=0.4, mix=0.3, repeats=6)      (the echo tail makes x longer)
  pan(x, position) -> stereo (-1 left … 1 right)   mix(*signals)   place(buffer, clip, at_sample)
  normalize(x, peak=0.9)   fade(x, sr, fade_in=0.01, fade_out=0.05)
  kick(sr)  snare(sr)  hat(sr)                  synthesised drum hits
  Grid(bpm, sr, beats_per_bar=4): .at(beat) -> sample, .seconds(beats), .buffer(bars) -> stereo silence,
      .add(buffer, clip, beat), .pattern(buffer, clip, "x...x...", step=0.25, start=0.0)"""

EXAMPLE_DRONE = """\
import numpy as np
from soundlib import sine, saw, lowpass, adsr, pan, mix, normalize, fade

def render(sr):
    seconds = 8.0
    low = saw(55.0, seconds, sr) * adsr(seconds, sr, attack=2.0, release=2.0)
    pad = lowpass(low, 600.0, sr)
    shimmer = sine(440.0 + 3.0 * np.sin(np.linspace(0, 40, int(seconds * sr))), seconds, sr) * 0.2
    return fade(normalize(mix(pan(pad, -0.3), pan(shimmer, 0.4))), sr)"""

EXAMPLE_BEAT = """\
from soundlib import Grid, kick, snare, hat, triangle, note_hz, adsr, place, normalize

def render(sr):
    grid = Grid(bpm=100, sr=sr)
    out = grid.buffer(bars=4)
    for bar in range(4):
        start = bar * 4
        grid.pattern(out, kick(sr), "x.......x.x.....", start=start)
        grid.pattern(out, snare(sr), "....x.......x...", start=start)
        grid.pattern(out, hat(sr), "x.x.x.x.x.x.x.x.", start=start)
        for i, name in enumerate(["A2", "C3", "E3", "G2"]):
            length = grid.seconds(1)
            note = triangle(note_hz(name), length, sr) * adsr(length, sr, release=0.1) * 0.5
            place(out, note, grid.at(start + i))
    return normalize(out)"""


def system_prompt(sample_rate: int, max_seconds: float) -> str:
    allowed = ", ".join(sorted(ALLOWED_IMPORTS))
    return (
        "You write Python modules that synthesise music. Reply with JSON: "
        '{"title": "...", "code": "<the whole module>"}.\n'
        f"The module defines render(sr) returning the audio as a numpy array: mono (frames,) or stereo "
        f"(2, frames), values within -1..1, at most {max_seconds:g} seconds at sample rate sr "
        f"(sr will be {sample_rate}). It runs in a sandbox with no files, network, processes or clock: "
        f"only computation. You may import only: {allowed}. No open/eval/exec/getattr, no names or "
        "attributes starting with an underscore. Keep it fast (a few seconds of CPU): use numpy "
        "vector operations, never Python loops over samples. Printing is discarded.\n\n"
        f"{API}\n\nExample (a drone):\n```python\n{EXAMPLE_DRONE}\n```\n\n"
        f"Example (a beat with a bass line):\n```python\n{EXAMPLE_BEAT}\n```"
    )


def initial_messages(
    prompt: str, *, seconds: float, sample_rate: int, max_seconds: float, bpm: float | None, key: str | None
) -> list[dict[str, str]]:
    wants = [f"Length: about {seconds:g} seconds."]
    if bpm:
        wants.append(f"Tempo: {bpm:g} BPM.")
    if key:
        wants.append(f"Key: {key}.")
    user = f"Write music for this request:\n{prompt}\n\n" + " ".join(wants)
    return [
        {"role": "system", "content": system_prompt(sample_rate, max_seconds)},
        {"role": "user", "content": user},
    ]


def refusal_feedback(problems: list[Problem]) -> str:
    lines = "\n".join(f"- {p}" for p in problems[:10])
    return f"The module was refused before running:\n{lines}\nSend the whole corrected module as JSON."


def failure_feedback(what: str) -> str:
    return f"Running the module failed:\n{what[:4000]}\nSend the whole corrected module as JSON."


def excerpt(code: str, lines: int = 8, width: int = 100) -> str:
    """The first lines of real code (imports and blank lines skipped), for the summary."""
    body = [
        ln.rstrip()[:width]
        for ln in code.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("import ", "from ", "#"))
    ]
    shown = body[:lines]
    more = len(body) - len(shown)
    return "\n".join(shown) + (f"\n# … {more} more lines" if more > 0 else "")
