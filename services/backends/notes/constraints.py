"""What the user asked for, as rules a score can be checked against.

The rules come from the shared parser of explicit statements (the same one the
styles interpreter uses), so "only uses A, B, C#, F# and G" means the same in
every backend, and from the command's options, which win over the prompt.
`check` returns precise, located violations: they go back to the model as
feedback and, if still broken, drive the deterministic repair.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from services.backends.base import GenerationRequest
from services.errors import InvalidInput
from services.prompting.constraints import NamedInstrument, parse_explicit
from services.score import gm
from services.score.model import Score, Track
from services.score.theory import Key, pitch_class_names
from services.score.validate import ScoreLimits, Violation, check_pitch_set, locate, validate_score

BAND_MIN_INSTRUMENTS = 3  # "a band", "an ensemble": at least this many instruments
_BAND_RE = re.compile(r"\b(?:band|ensemble|group|combo|trio|quartet|quintet|orchestra)\b", re.IGNORECASE)
_GROUP_SIZES = {"trio": 3, "quartet": 4, "quintet": 5}
MIN_IN_KEY_SHARE = 0.8  # with a key stated (and no pitch set), this share of melodic notes keeps to its scale
TEMPO_TOLERANCE_BPM = 1.0
LENGTH_TOLERANCE = 0.15  # stated length in seconds: within this fraction (or one bar, whichever is more)


@dataclass(frozen=True)
class NoteConstraints:
    """The rules one request sets; None / empty: the user said nothing about it."""

    pitch_set: frozenset[int] | None  # allowed pitch classes for melodic notes
    key: Key | None  # stated key (option wins over prompt)
    mode: str | None  # a mode without a tonic ("dorian"), when no key was given
    tempo_bpm: float | None  # stated tempo (option wins over prompt)
    time_signature: tuple[int, int] | None  # stated metre
    instruments: tuple[NamedInstrument, ...]  # instruments that must play
    only_instruments: bool  # "only piano and cello": nothing else may play
    excluded_programs: frozenset[int]  # "no bass": these programs may not play
    min_instruments: int  # 3 for "a band", else 1
    drums: bool | None  # False: no drum track; True: a drum track is required
    bars: int | None  # stated length in bars
    duration_s: float | None  # stated length in seconds (option wins over prompt)
    target_s: float  # length to ask the model for when nothing is stated
    max_duration_s: float  # the bot's longest piece; longer scores are cut
    limits: ScoreLimits  # sanity limits: notes, length, range, polyphony
    sources: tuple[str, ...]  # "pitch set (from 'only uses A, B, C#, F# and G')", for the summary

    @property
    def pitch_set_text(self) -> str:
        return pitch_class_names(self.pitch_set) if self.pitch_set else ""

    def target_beats(self, tempo_bpm: float, beats_per_bar: float) -> float | None:
        """The stated length in beats at a tempo, or None when no length was stated."""
        if self.bars is not None:
            return self.bars * beats_per_bar
        if self.duration_s is not None:
            return self.duration_s * tempo_bpm / 60.0
        return None


def build_constraints(request: GenerationRequest, instruments_option: str | None = None) -> NoteConstraints:
    """Rules from the prompt's explicit statements and the command's options (options win)."""
    said = parse_explicit(request.prompt)
    sources: list[str] = []
    key = said.key
    mode = said.mode
    if request.key:
        key = Key.parse(request.key)  # the cog validated it; a bad key is a ValueError for the user
        mode = None
        sources.append(f"key {key.name()} (from the key option)")
    elif key is not None:
        sources.append(f"key {key.name()} (from {_quote(said.key_words)})")
    elif mode is not None:
        sources.append(f"mode {mode} (from {_quote(said.mode_words)})")
    tempo = said.tempo_bpm
    if request.bpm is not None:
        tempo = float(request.bpm)
        sources.append(f"tempo {tempo:g} BPM (from the bpm option)")
    elif tempo is not None:
        sources.append(f"tempo {tempo:g} BPM (from {_quote(said.tempo_words)})")
    if said.pitch_set is not None:
        sources.append(
            f"only the notes {pitch_class_names(said.pitch_set)} (from {_quote(said.pitch_set_words)})"
        )
    if said.time_signature is not None:
        num, den = said.time_signature
        sources.append(f"metre {num}/{den} (from {_quote(said.time_signature_words)})")
    instruments = list(said.instruments)
    only = said.only_instruments
    if instruments_option:
        option = parse_instrument_option(instruments_option)
        instruments = option
        only = True
        sources.append(f"instruments {', '.join(i.name for i in option)} (from the instruments option)")
    elif instruments:
        how = "only " if only else ""
        names = ", ".join(i.name for i in instruments)
        sources.append(
            f"{how}instruments {names} (from {_quote(tuple(w for i in instruments for w in i.words))})"
        )
    if said.excluded:
        sources.append(
            f"no {', '.join(e.name for e in said.excluded)} (from {_quote(_words(said.excluded))})"
        )
    if said.drums is False:
        sources.append(f"no drums (from {_quote(said.drums_words)})")
    elif said.drums:
        sources.append(f"drums (from {_quote(said.drums_words)})")
    min_instruments, band_words = _band_size(request.prompt)
    if band_words:
        sources.append(f"at least {min_instruments} instruments (from '{band_words}')")
    duration = request.duration_s if request.duration_s is not None else said.duration_s
    bars = said.bars if request.duration_s is None else None
    if request.duration_s is not None:
        sources.append(f"length {request.duration_s:g} s (from the duration option)")
    elif said.duration_s is not None:
        sources.append(f"length {said.duration_s:g} s (from {_quote(said.duration_words)})")
    elif bars is not None:
        sources.append(f"length {bars} bars (from {_quote(said.bars_words)})")
    if duration is not None and duration > request.max_duration_s:
        duration = request.max_duration_s
    return NoteConstraints(
        pitch_set=said.pitch_set,
        key=key,
        mode=mode,
        tempo_bpm=tempo,
        time_signature=said.time_signature,
        instruments=tuple(instruments),
        only_instruments=only,
        excluded_programs=frozenset(e.program for e in said.excluded),
        min_instruments=min_instruments,
        drums=said.drums,
        bars=bars,
        duration_s=duration,
        target_s=min(request.default_duration_s, request.max_duration_s),
        max_duration_s=request.max_duration_s,
        limits=ScoreLimits(),
        sources=tuple(sources),
    )


def parse_instrument_option(text: str) -> list[NamedInstrument]:
    """'fiddle, guitar and bass' → GM instruments; InvalidInput (a UserError, and a ValueError) names any
    that are not GM instruments: the text comes from the user's instruments option."""
    parts = [p.strip() for p in re.split(r",|;|/|\band\b|&|\+", text) if p.strip()]
    found: list[NamedInstrument] = []
    unknown: list[str] = []
    for part in parts:
        program = gm.program_for_name(part)
        if program is None:
            unknown.append(part)
        elif all(f.program != program for f in found):
            found.append(NamedInstrument(program=program, name=part.lower(), words=(part,)))
    if unknown:
        raise InvalidInput(
            "The instruments option lists some that are not General MIDI instruments: "
            "{unknown} (try piano, violin, flute, bass …).",
            unknown=", ".join(unknown),
        )
    if not found:
        raise InvalidInput("The instruments option names no instrument (try piano, violin, flute, bass …).")
    return found


def _band_size(prompt: str) -> tuple[int, str]:
    m = _BAND_RE.search(prompt)
    if not m:
        return 1, ""
    word = m.group(0).lower()
    return _GROUP_SIZES.get(word, BAND_MIN_INSTRUMENTS), m.group(0)


def _quote(words: tuple[str, ...]) -> str:
    return ", ".join(f"'{w}'" for w in words) if words else "the prompt"


def _words(items: tuple[NamedInstrument, ...]) -> tuple[str, ...]:
    return tuple(w for i in items for w in i.words)


# --- checks ------------------------------------------------------------------------------------------


def instrument_count(score: Score) -> int:
    """Distinct instruments that play at least one note (a drum kit counts as one)."""
    return len({(t.is_drum, 0 if t.is_drum else t.program) for t in score.tracks if t.notes})


def plays(score: Score, program: int) -> bool:
    return any(not t.is_drum and t.program == program and t.notes for t in score.tracks)


def check(score: Score, rules: NoteConstraints) -> list[Violation]:
    """Every way the score breaks the sanity limits or the user's rules; empty: it keeps them all."""
    found = validate_score(score, rules.limits)
    if math.isfinite(score.tempo_bpm) and score.tempo_bpm > 0:
        seconds = score.duration_seconds()
        if math.isfinite(seconds) and rules.limits.max_seconds >= seconds > rules.max_duration_s + 0.5:
            found.append(
                Violation(
                    "length",
                    f"the score lasts {seconds:.0f} s; this bot's limit is {rules.max_duration_s:.0f} s",
                )
            )
    if rules.pitch_set is not None:
        found.extend(check_pitch_set(score, rules.pitch_set))
    found.extend(_check_key(score, rules))
    if rules.tempo_bpm is not None and abs(score.tempo_bpm - rules.tempo_bpm) > TEMPO_TOLERANCE_BPM:
        found.append(
            Violation("tempo", f"the tempo must be {rules.tempo_bpm:g} BPM, not {score.tempo_bpm:g}")
        )
    if rules.time_signature is not None and score.time_signature != rules.time_signature:
        want, got = rules.time_signature, score.time_signature
        found.append(
            Violation("metre", f"the time signature must be {want[0]}/{want[1]}, not {got[0]}/{got[1]}")
        )
    found.extend(_check_instruments(score, rules))
    found.extend(_check_length(score, rules))
    return found


def _check_key(score: Score, rules: NoteConstraints) -> list[Violation]:
    out: list[Violation] = []
    if rules.key is not None:
        if score.key != rules.key:
            got = score.key.name() if score.key else "none"
            out.append(Violation("key", f"the key must be {rules.key.name()}, not {got}"))
        if rules.pitch_set is None:
            out.extend(_check_in_key(score, rules.key))
    elif rules.mode is not None and (score.key is None or score.key.mode != rules.mode):
        got = score.key.name() if score.key else "no key"
        out.append(Violation("key", f"the piece must be in a {rules.mode} key, not {got}"))
    return out


def _check_in_key(score: Score, key: Key) -> list[Violation]:
    scale = key.pitch_classes()
    notes = [(t, n) for t in score.melodic_tracks() for n in t.notes]
    if not notes:
        return []
    outside = [(t, n) for t, n in notes if n.pitch % 12 not in scale]
    share = 1.0 - len(outside) / len(notes)
    if share >= MIN_IN_KEY_SHARE:
        return []
    track, first = min(outside, key=lambda tn: tn[1].start)
    bar, _ = locate(score, first.start)
    return [
        Violation(
            "in_key",
            f"only {share:.0%} of the notes are in {key.name()} (at least {MIN_IN_KEY_SHARE:.0%} must be); "
            f"the first outside is in bar {bar}, {track.name}",
            track.name,
            bar,
        )
    ]


def _check_instruments(score: Score, rules: NoteConstraints) -> list[Violation]:
    out: list[Violation] = []
    for inst in rules.instruments:
        if not plays(score, inst.program):
            out.append(
                Violation(
                    "instrument_missing",
                    f"the {inst.name} is missing: add a track with instrument "
                    f"{gm.program_name(inst.program)!r} (program {inst.program})",
                )
            )
    allowed = {i.program for i in rules.instruments}
    for track in score.tracks:
        if track.is_drum:
            continue
        if track.program in rules.excluded_programs:
            out.append(
                Violation(
                    "instrument_excluded",
                    f"{track.name}: {gm.program_name(track.program)} was ruled out by the request",
                    track.name,
                )
            )
        elif rules.only_instruments and track.program not in allowed:
            names = ", ".join(i.name for i in rules.instruments)
            out.append(
                Violation(
                    "instrument_extra",
                    f"{track.name}: only {names} may play, not {gm.program_name(track.program)}",
                    track.name,
                )
            )
    drums = [t for t in score.tracks if t.is_drum and t.notes]
    if rules.drums is False or (rules.only_instruments and rules.drums is None):
        for track in drums:
            why = "no drums were asked for" if rules.drums is False else "only the named instruments may play"
            out.append(Violation("drums", f"{track.name}: remove the drum track ({why})", track.name))
    elif rules.drums and not drums:
        out.append(Violation("drums", "add a drum track (instrument 'drums'): the request asks for drums"))
    count = instrument_count(score)
    if count < rules.min_instruments:
        out.append(
            Violation(
                "instrument_count",
                f"the request asks for a band: use at least {rules.min_instruments} different instruments "
                f"(the score has {count})",
            )
        )
    return out


def _check_length(score: Score, rules: NoteConstraints) -> list[Violation]:
    if not (math.isfinite(score.tempo_bpm) and score.tempo_bpm > 0):
        return []
    target = rules.target_beats(score.tempo_bpm, score.beats_per_bar)
    if target is None:
        return []
    end = _last_note_end(score)
    tolerance = max(score.beats_per_bar, target * (LENGTH_TOLERANCE if rules.bars is None else 0.0))
    if abs(end - target) <= tolerance + 1e-6:
        return []
    want = f"{rules.bars} bars" if rules.bars is not None else f"about {rules.duration_s:g} s"
    got_bars = end / score.beats_per_bar
    got_s = end * 60.0 / score.tempo_bpm
    return [
        Violation(
            "target_length",
            f"the piece must last {want} ({target:g} beats at {score.tempo_bpm:g} BPM); "
            f"it lasts {got_bars:.1f} bars ({got_s:.0f} s)",
        )
    ]


def _last_note_end(score: Score) -> float:
    ends = [n.end for t in score.tracks for n in t.notes if math.isfinite(n.end)]
    return max(ends, default=0.0)


def describe_rules(rules: NoteConstraints) -> list[str]:
    """The rules as sentences for the model (the system prompt states each one plainly)."""
    lines: list[str] = []
    if rules.pitch_set is not None:
        lines.append(
            f"Every note on every melodic (non-drum) track must use one of these pitch classes, any octave: "
            f"{rules.pitch_set_text}. No other pitch class may appear, not even as a passing note."
        )
    if rules.key is not None:
        lines.append(f'Set "key" to "{rules.key.name()}" and keep the notes in that key.')
    elif rules.mode is not None:
        lines.append(f'Use a {rules.mode} key and say which in "key".')
    if rules.tempo_bpm is not None:
        lines.append(f'Set "tempo_bpm" to {rules.tempo_bpm:g}.')
    if rules.time_signature is not None:
        num, den = rules.time_signature
        lines.append(f'Set "time_signature" to "{num}/{den}".')
    if rules.instruments:
        names = ", ".join(f"{i.name} ({gm.program_name(i.program)})" for i in rules.instruments)
        lines.append(f"These instruments must each have a track: {names}.")
        if rules.only_instruments:
            lines.append("Use no other instruments.")
    if rules.excluded_programs:
        names = ", ".join(gm.program_name(p) for p in sorted(rules.excluded_programs))
        lines.append(f"Do not use: {names}.")
    if rules.drums is False:
        lines.append("Write no drum track.")
    elif rules.drums:
        lines.append('Include a drum track (instrument "drums").')
    if rules.min_instruments > 1:
        lines.append(f"Use at least {rules.min_instruments} different instruments (several tracks).")
    if rules.bars is not None:
        lines.append(f"The piece must be exactly {rules.bars} bars long.")
    elif rules.duration_s is not None:
        lines.append(f"The piece must last about {rules.duration_s:g} seconds at its tempo.")
    else:
        lines.append(f"Make the piece about {rules.target_s:g} seconds long at its tempo.")
    return lines


def constraint_names(rules: NoteConstraints) -> list[str]:
    """Short names of what was checked, for the summary ("pitch set A, B, C#, F#, G", "tempo 96 BPM")."""
    names = ["format", "note limits"]
    if rules.pitch_set is not None:
        names.append(f"pitch set {rules.pitch_set_text}")
    if rules.key is not None:
        names.append(f"key {rules.key.name()}")
    elif rules.mode is not None:
        names.append(f"mode {rules.mode}")
    if rules.tempo_bpm is not None:
        names.append(f"tempo {rules.tempo_bpm:g} BPM")
    if rules.time_signature is not None:
        names.append(f"metre {rules.time_signature[0]}/{rules.time_signature[1]}")
    if rules.instruments:
        names.append(
            ("only " if rules.only_instruments else "") + ", ".join(i.name for i in rules.instruments)
        )
    if rules.excluded_programs:
        names.append("excluded instruments")
    if rules.drums is False:
        names.append("no drums")
    elif rules.drums:
        names.append("drums")
    if rules.min_instruments > 1:
        names.append(f"at least {rules.min_instruments} instruments")
    if rules.bars is not None:
        names.append(f"{rules.bars} bars")
    elif rules.duration_s is not None:
        names.append(f"length {rules.duration_s:g} s")
    return names


def melodic_tracks_with_notes(score: Score) -> list[Track]:
    return [t for t in score.tracks if not t.is_drum and t.notes]
