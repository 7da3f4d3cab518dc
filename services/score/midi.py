"""Scores to and from standard MIDI files, and the MIDI channel plan the renderer shares.

The MIDI file is what users download next to the audio, so it carries what a
sequencer needs to play it back the same way: tempo, metre, key signature,
track names, programs, volume and pan, drums on channel 10. The channel plan
lives here, not in the renderer, so the file and the audio agree on which
tracks share a channel when there are more parts than MIDI has channels.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict, deque
from dataclasses import dataclass

import mido

from services.errors import InvalidInput
from services.score.model import Note, Score, Track
from services.score.theory import MODES, Key

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # General MIDI channel 10, counted from zero
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)
MAX_MIDI_BYTES = 2_000_000  # uploads larger than this are refused before parsing

# mido's key names by pitch class of the tonic; spelled with at most six accidentals.
_MAJOR_KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_KEY_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
_KEY_TEXT_PREFIX = "promptjam key: "  # text meta that keeps modes a key signature cannot express


@dataclass(frozen=True)
class ChannelPlan:
    """One MIDI channel and the score tracks that play on it."""

    channel: int  # 0–15; DRUM_CHANNEL for percussion
    program: int  # General MIDI program (0 on the drum channel: the standard kit)
    is_drum: bool  # plays the percussion bank
    volume: float  # channel volume 0–1: the loudest track on it (quieter ones scale their velocities)
    pan: float  # -1 … 1: the mean of its tracks' pans
    tracks: tuple[int, ...]  # indices into score.tracks

    def velocity_scale(self, track: Track) -> float:
        """How much a track's velocities shrink so a shared channel keeps its relative loudness."""
        if self.volume <= 0.0:
            return 1.0
        return min(1.0, max(0.0, track.volume) / self.volume)


def plan_channels(score: Score) -> list[ChannelPlan]:
    """Give every track a channel; with more than 15 melodic tracks, similar ones share.

    Sharing prefers tracks with the same program, then tracks of the same GM
    family (programs in eights: pianos, organs, guitars …), then the two
    smallest groups, so the fewest notes change timbre.
    """
    melodic = [i for i, t in enumerate(score.tracks) if not t.is_drum]
    drums = [i for i, t in enumerate(score.tracks) if t.is_drum]
    groups: list[list[int]] = [[i] for i in melodic]
    if len(groups) > len(MELODIC_CHANNELS):
        by_program: dict[int, list[int]] = defaultdict(list)
        for i in melodic:
            by_program[score.tracks[i].program].append(i)
        groups = list(by_program.values())
    while len(groups) > len(MELODIC_CHANNELS):
        groups = _merge_two(score, groups)
    plans = [_plan(score, group, channel) for group, channel in zip(groups, MELODIC_CHANNELS, strict=False)]
    if drums:
        plans.append(_plan(score, drums, DRUM_CHANNEL))
    return plans


def _notes_in(score: Score, group: list[int]) -> int:
    return sum(len(score.tracks[i].notes) for i in group)


def _merge_two(score: Score, groups: list[list[int]]) -> list[list[int]]:
    """Merge the two smallest groups of one family, or failing that the two smallest overall."""
    order = sorted(range(len(groups)), key=lambda g: (_notes_in(score, groups[g]), g))
    pair: tuple[int, int] | None = None
    for a_pos, a in enumerate(order):
        family = score.tracks[groups[a][0]].program // 8
        for b in order[a_pos + 1 :]:
            if score.tracks[groups[b][0]].program // 8 == family:
                pair = (a, b)
                break
        if pair:
            break
    a, b = pair or (order[0], order[1])
    merged = sorted(groups[a] + groups[b])
    return [g for k, g in enumerate(groups) if k not in (a, b)] + [merged]


def _plan(score: Score, group: list[int], channel: int) -> ChannelPlan:
    tracks = [score.tracks[i] for i in group]
    lead = max(tracks, key=lambda t: len(t.notes))
    is_drum = channel == DRUM_CHANNEL
    return ChannelPlan(
        channel=channel,
        program=0 if is_drum else lead.program,
        is_drum=is_drum,
        volume=max(min(1.0, max(0.0, t.volume)) for t in tracks),
        pan=sum(t.pan for t in tracks) / len(tracks),
        tracks=tuple(sorted(group)),
    )


def track_channels(score: Score) -> dict[int, ChannelPlan]:
    """Track index → the channel plan that plays it."""
    return {i: plan for plan in plan_channels(score) for i in plan.tracks}


def scaled_velocity(velocity: int, scale: float) -> int:
    """A note's velocity after a shared channel's volume scaling, kept within 1–127."""
    return max(1, min(127, round(velocity * scale)))


def pan_to_cc(pan: float) -> int:
    """-1 … 1 → MIDI CC10 0 … 127 with 0 at 64 (centre)."""
    p = min(1.0, max(-1.0, pan))
    return 64 + round(p * (63 if p >= 0 else 64))


def cc_to_pan(value: int) -> float:
    return (value - 64) / (63 if value >= 64 else 64)


def key_signature_name(key: Key) -> tuple[str, bool]:
    """The mido key name whose signature fits `key`, and whether it names the key exactly.

    Church modes get their parent scale's signature (D dorian → 'Am', no
    accidentals); harmonic minor and the pentatonics get their tonic's.
    """
    if key.mode == "major":
        return _MAJOR_KEY_NAMES[key.tonic], True
    if key.mode == "minor":
        return _MINOR_KEY_NAMES[key.tonic], True
    pcs = key.pitch_classes()
    if len(MODES[key.mode]) == 7:
        for tonic in range(12):
            if Key(tonic, "major").pitch_classes() == pcs:
                if key.is_minor:
                    return _MINOR_KEY_NAMES[(tonic + 9) % 12], False
                return _MAJOR_KEY_NAMES[tonic], False
    names = _MINOR_KEY_NAMES if key.is_minor else _MAJOR_KEY_NAMES
    return names[key.tonic], False


def score_to_midi(score: Score) -> bytes:
    """A type 1 standard MIDI file: a conductor track, then one track per score track."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(_conductor_track(score))
    channels = track_channels(score)
    for index, track in enumerate(score.tracks):
        mid.tracks.append(_note_track(track, channels[index]))
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def _ticks(beats: float) -> int:
    return max(0, round(beats * TICKS_PER_BEAT))


def _conductor_track(score: Score) -> mido.MidiTrack:
    track = mido.MidiTrack()
    if score.title:
        track.append(mido.MetaMessage("track_name", name=score.title, time=0))
    num, den = score.time_signature
    track.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=round(60_000_000 / score.tempo_bpm), time=0))
    if score.key is not None:
        name, exact = key_signature_name(score.key)
        track.append(mido.MetaMessage("key_signature", key=name, time=0))
        if not exact:
            track.append(mido.MetaMessage("text", text=_KEY_TEXT_PREFIX + score.key.name(), time=0))
    end = _ticks(score.length_beats) if score.length_beats else 0
    track.append(mido.MetaMessage("end_of_track", time=end))
    return track


def _note_track(track: Track, plan: ChannelPlan) -> mido.MidiTrack:
    ch = plan.channel
    out = mido.MidiTrack()
    out.append(mido.MetaMessage("track_name", name=track.name, time=0))
    if not plan.is_drum:
        out.append(mido.Message("program_change", channel=ch, program=plan.program, time=0))
    out.append(mido.Message("control_change", channel=ch, control=7, value=round(plan.volume * 127), time=0))
    out.append(mido.Message("control_change", channel=ch, control=10, value=pan_to_cc(plan.pan), time=0))
    scale = plan.velocity_scale(track)
    # (tick, 0 = off before 1 = on at the same tick, pitch, velocity)
    events: list[tuple[int, int, int, int]] = []
    for note in track.notes:
        on = _ticks(note.start)
        off = max(on + 1, _ticks(note.end))
        events.append((on, 1, note.pitch, scaled_velocity(note.velocity, scale)))
        events.append((off, 0, note.pitch, 0))
    events.sort()
    now = 0
    for tick, kind, pitch, velocity in events:
        msg_type = "note_on" if kind else "note_off"
        out.append(mido.Message(msg_type, channel=ch, note=pitch, velocity=velocity or 64, time=tick - now))
        now = tick
    out.append(mido.MetaMessage("end_of_track", time=0))
    return out


@dataclass
class _Part:
    """Notes gathered for one (MIDI track, channel) while reading a file."""

    name: str
    channel: int
    notes: list[Note]
    program: int | None = None
    volume: float | None = None
    pan: float | None = None


_UNREADABLE_MIDI = "That isn't a MIDI file I can read: it may be damaged, or another kind of file."


def midi_to_score(data: bytes, *, max_bytes: int = MAX_MIDI_BYTES) -> Score:
    """Read a standard MIDI file into a Score (one track per MIDI track and channel).

    Raises InvalidInput (a UserError and a ValueError) with a sentence for the
    sender for anything that is not a MIDI file, so a user's upload fails cleanly
    (mido's own text is not shown). Tempo, metre and key come from the first such
    events; later changes are not modelled by Score.
    """
    if len(data) > max_bytes:
        raise InvalidInput(f"That MIDI file is too large: {len(data):,} bytes (at most {max_bytes:,}).")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError … for bad bytes
        raise InvalidInput(_UNREADABLE_MIDI) from exc
    if mid.ticks_per_beat <= 0:
        raise InvalidInput(_UNREADABLE_MIDI)
    reader = _Reader(mid.ticks_per_beat)
    for index, midi_track in enumerate(mid.tracks):
        reader.read_track(index, midi_track)
    return reader.score()


class _Reader:
    """Accumulates one MIDI file's events into Score parts."""

    def __init__(self, ticks_per_beat: int) -> None:
        self.tpb = ticks_per_beat
        self.tempo_bpm: float | None = None
        self.time_signature: tuple[int, int] | None = None
        self.key: Key | None = None
        self.exact_key: Key | None = None
        self.title = ""
        self.parts: list[_Part] = []
        # Last program seen per channel in any track, for parts that set none themselves.
        self.channel_program: dict[int, int] = {}
        self.end_tick = 0

    def read_track(self, index: int, midi_track: mido.MidiTrack) -> None:
        tick = 0
        name = ""
        parts: dict[int, _Part] = {}
        open_notes: dict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
        # Program and controls seen before a channel's first note in this track.
        pending: dict[int, dict[str, float]] = defaultdict(dict)

        def part(channel: int) -> _Part:
            if channel not in parts:
                p = _Part(name=name, channel=channel, notes=[])
                settings = pending.pop(channel, {})
                if "program" in settings:
                    p.program = int(settings["program"])
                p.volume = settings.get("volume")
                p.pan = settings.get("pan")
                parts[channel] = p
            return parts[channel]

        for msg in midi_track:
            tick += msg.time
            if msg.is_meta:
                self._meta(msg, index, midi_track)
                if msg.type == "track_name" and not name:
                    name = str(msg.name).strip()
                continue
            if msg.type == "program_change":
                self.channel_program[msg.channel] = msg.program
                target = parts[msg.channel] if msg.channel in parts else None
                if target is None:
                    pending[msg.channel]["program"] = msg.program
                elif target.program is None:
                    target.program = msg.program
            elif msg.type == "control_change" and msg.control in (7, 10):
                field_name = "volume" if msg.control == 7 else "pan"
                value = msg.value / 127 if msg.control == 7 else cc_to_pan(msg.value)
                if msg.channel in parts and getattr(parts[msg.channel], field_name) is None:
                    setattr(parts[msg.channel], field_name, value)
                elif msg.channel not in parts:
                    pending[msg.channel][field_name] = value
            elif msg.type == "note_on" and msg.velocity > 0:
                part(msg.channel)
                open_notes[(msg.channel, msg.note)].append((tick, msg.velocity))
            elif msg.type in ("note_on", "note_off"):
                queue = open_notes.get((msg.channel, msg.note))
                if queue:
                    start, velocity = queue.popleft()
                    self._add(part(msg.channel), msg.note, start, tick, velocity)
        for (channel, pitch), queue in open_notes.items():
            for start, velocity in queue:  # never released: end them with the track
                self._add(part(channel), pitch, start, tick, velocity)
        self.end_tick = max(self.end_tick, tick)
        named = len(parts) == 1
        for channel, p in sorted(parts.items()):
            label = p.name or ("drums" if channel == DRUM_CHANNEL else f"track {len(self.parts) + 1}")
            p.name = label if named else f"{label} (channel {channel + 1})"
            self.parts.append(p)

    def _meta(self, msg: mido.MetaMessage, index: int, midi_track: mido.MidiTrack) -> None:
        if msg.type == "set_tempo" and self.tempo_bpm is None and msg.tempo > 0:
            self.tempo_bpm = round(60_000_000 / msg.tempo, 3)
        elif msg.type == "time_signature" and self.time_signature is None:
            self.time_signature = (msg.numerator, msg.denominator)
        elif msg.type == "key_signature" and self.key is None:
            try:
                self.key = Key.parse(msg.key)
            except ValueError:
                self.key = None
        elif msg.type == "text" and str(msg.text).startswith(_KEY_TEXT_PREFIX) and self.exact_key is None:
            try:
                self.exact_key = Key.parse(str(msg.text)[len(_KEY_TEXT_PREFIX) :])
            except ValueError:
                self.exact_key = None
        elif msg.type == "track_name" and index == 0 and not self.title and not _has_notes(midi_track):
            self.title = str(msg.name).strip()

    def _add(self, part: _Part, pitch: int, start: int, end: int, velocity: int) -> None:
        duration = max(end - start, 1) / self.tpb
        part.notes.append(Note(pitch=pitch, start=start / self.tpb, duration=duration, velocity=velocity))

    def score(self) -> Score:
        tracks = []
        for p in self.parts:
            is_drum = p.channel == DRUM_CHANNEL
            program = p.program if p.program is not None else self.channel_program.get(p.channel, 0)
            p.notes.sort(key=lambda n: (n.start, n.pitch))
            tracks.append(
                Track(
                    name=p.name,
                    program=0 if is_drum else program,
                    is_drum=is_drum,
                    notes=p.notes,
                    pan=p.pan if p.pan is not None else 0.0,
                    volume=p.volume if p.volume is not None else 100 / 127,  # GM default CC7
                )
            )
        last_note = max((t.end_beat() for t in tracks), default=0.0)
        end_beats = self.end_tick / self.tpb
        return Score(
            tempo_bpm=self.tempo_bpm or 120.0,
            tracks=tracks,
            time_signature=self.time_signature or (4, 4),
            key=self.exact_key or self.key,
            title=self.title,
            length_beats=end_beats if end_beats > last_note + 1e-9 and math.isfinite(end_beats) else None,
        )


def _has_notes(midi_track: mido.MidiTrack) -> bool:
    return any(msg.type == "note_on" for msg in midi_track)
