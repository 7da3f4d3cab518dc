"""The one finishing step every job kind shares: a Piece becomes the files a reply carries.

Fit the length, level the loudness, write the MIDI and extra files, draw the preview when the piece
brought none, then fit MP3 and picture under the upload limit (the music matters more than the picture)
and write them under the job's results folder. It runs in the worker, never on the event loop.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from services.audio.edit import fit_length
from services.audio.fit import FittedMp3, UploadTooSmallError, fit_upload
from services.audio.loudness import normalize_loudness, normalize_loudness_measured
from services.audio.preview import render_preview
from services.audio.types import Audio
from services.backends.base import ProgressFn
from services.backends.record import Lane
from services.backends.registry import lane_of
from services.errors import UserError
from services.heard.report import asked_heard_lines, key_heard, tempo_matches
from services.heard.types import Heard
from services.jobs.kinds.piece import Piece
from services.jobs.models import MusicRequest, MusicResult
from services.settings import Settings

log = logging.getLogger(__name__)

# Bytes kept free in an upload for the embed, the JSON envelope and multipart framing.
_UPLOAD_ENVELOPE_BYTES = 64 * 1024


def finish(
    job_id: str,
    piece: Piece,
    request: MusicRequest,
    settings: Settings,
    progress: ProgressFn,
    *,
    started: float,
) -> MusicResult:
    """Write MP3, preview PNG, MIDI and attachments for `piece`; the result says where and what.
    `started` is the job's time.perf_counter() at its start (the result reports the time it took)."""
    progress("mastering", 0, 2)
    audio = piece.audio.to_stereo()
    level: float | None = None  # integrated loudness of `audio`, where mastering measured it
    if not piece.mastered:
        audio = fit_length(audio, piece.length_s)
        audio, level = normalize_loudness_measured(audio, target_lufs=settings.target_lufs)

    out_dir = settings.results_dir / job_id
    out_dir.mkdir(parents=True, exist_ok=True)
    midi_path: Path | None = None
    if piece.midi is not None:
        midi_path = out_dir / "score.mid"
        midi_path.write_bytes(piece.midi)
    attachment_paths = []
    for name, data in piece.attachments.items():
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60] or "file"
        path = out_dir / f"attach-{safe}"
        path.write_bytes(data)
        attachment_paths.append(str(path))

    progress("encoding MP3", 1, 2)
    if piece.stems:  # each stem is fitted on its own; a mix of parts is not measured
        return _finish_stems(job_id, piece, request, settings, out_dir, started=started)
    corrects = settings.correct_to_stated and piece.midi is None and not piece.mastered
    corrects = corrects and lane_of(request.backend) is Lane.MODEL
    others = (len(piece.midi) if piece.midi else 0) + sum(len(d) for d in piece.attachments.values())

    def deliverables(final: Audio) -> tuple[FittedMp3, bytes | None]:
        picture = piece.picture or render_preview(final, title=piece.title)
        return fit_mp3_and_picture(final, request, settings, piece.title, picture, other_bytes=others)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"encode-{job_id[:8]}") as pool:
        # Audio nothing will correct is final now: ffmpeg encodes it (another process) while it is
        # measured, so measuring adds next to nothing to the job's time (bench/heard.py).
        encoding = pool.submit(deliverables, audio) if not corrects else None
        audio, heard, heard_lines, heard_notes = _hear(
            piece, audio, job_id, correct=corrects, level=level, target_lufs=settings.target_lufs
        )
        fitted, kept = encoding.result() if encoding is not None else deliverables(audio)
    if heard_notes:
        piece.notes = [*piece.notes, *heard_notes]
    mp3_path = out_dir / "audio.mp3"
    mp3_path.write_bytes(fitted.data)
    preview_path: Path | None = None
    if kept is not None:
        preview_path = out_dir / "preview.png"
        preview_path.write_bytes(kept)
    progress("encoding MP3", 2, 2)

    return MusicResult(
        job_id=job_id,
        title=piece.title,
        mp3_path=str(mp3_path),
        mp3_filename=mp3_filename(piece.name),
        preview_path=str(preview_path) if preview_path else None,
        midi_path=str(midi_path) if midi_path else None,
        duration_s=fitted.duration_s,
        bitrate_kbps=fitted.bitrate_kbps,
        seed=piece.seed if piece.seed is not None else request.seed,
        backend=request.backend,
        tempo_bpm=piece.tempo_bpm,
        key=piece.key,
        time_signature=piece.time_signature,
        tags=tuple(piece.tags),
        summary=tuple(piece.summary),
        notes=tuple(piece.notes) + ((fitted.note,) if fitted.note else ()),
        render_seconds=time.perf_counter() - started,
        attachments=tuple(attachment_paths),
        continue_from=piece.continue_from,
        credits=piece.credits,
        lyrics=piece.lyrics,
        heard=heard,
        heard_lines=tuple(heard_lines),
    )


def _hear(
    piece: Piece,
    audio: Audio,
    job_id: str,
    *,
    correct: bool = False,
    level: float | None = None,
    target_lufs: float = -14.0,
) -> tuple[Audio, Heard | None, list[str], list[str]]:
    """Measure the finished audio and say asked → heard; with `correct`, first make a missed tempo or key
    true within bounds (services/heard/correct.py), level it again, and say what could not be. A piece
    rendered from a score (it carries MIDI: styles, notes) honours its tempo and key by construction, so a
    disagreement there is a bug: logged. `level` is the audio's loudness where mastering measured it.
    Returns the (maybe corrected) audio, the reading, its lines and notes."""
    if piece.stems or audio.frames == 0:
        return audio, None, [], []
    from services.heard.correct import apply, plan  # scipy and ffmpeg: loaded by workers when first used
    from services.heard.measure import measure

    try:
        heard = measure(audio, stated_bpm=piece.tempo_bpm, loudness_lufs=level)
    except Exception:  # measuring is a report, never a reason to lose the piece
        log.warning("job %s: measuring the result failed", job_id, exc_info=True)
        return audio, None, [], []
    notes: list[str] = []
    before = heard
    if correct:
        fix = plan(heard, tempo=piece.tempo_bpm, key=piece.key)
        notes = list(fix.refused)
        if fix.changes:
            try:
                corrected, level = normalize_loudness_measured(apply(audio, fix), target_lufs=target_lufs)
                heard = measure(corrected, stated_bpm=piece.tempo_bpm, loudness_lufs=level)
                audio = corrected
            except Exception:
                log.warning(
                    "job %s: correcting tempo/key failed; the piece is sent as made", job_id, exc_info=True
                )
                heard = before
    lines = asked_heard_lines(heard, tempo=piece.tempo_bpm, key=piece.key)
    if heard is not before:
        lines = _say_corrected(lines, before, heard)
    if piece.midi is not None:
        wrong_tempo = piece.tempo_bpm is not None and not tempo_matches(heard.tempo_bpm, piece.tempo_bpm)
        wrong_key = piece.key is not None and not key_heard(heard, piece.key)
        if wrong_tempo or wrong_key:
            log.warning(
                "job %s: the score says %s bpm in %s; the render was heard at %s bpm in %s",
                job_id,
                piece.tempo_bpm,
                piece.key,
                heard.tempo_bpm,
                heard.key,
            )
    return audio, heard, lines, notes


def _say_corrected(lines: list[str], before: Heard, after: Heard) -> list[str]:
    """Say what was changed on the lines it changed: "… heard 104 ✓ (stretched from 100 bpm)"."""
    out = []
    for line in lines:
        if line.startswith("tempo ") and before.tempo_bpm is not None and before.tempo_bpm != after.tempo_bpm:
            line += f" (stretched from {before.tempo_bpm:.0f} bpm)"
        elif line.startswith("key ") and before.key and before.key != after.key:
            line += f" (shifted from {before.key})"
        out.append(line)
    return out


def _finish_stems(
    job_id: str, piece: Piece, request: MusicRequest, settings: Settings, out_dir: Path, *, started: float
) -> MusicResult:
    """Each stem an MP3: all at one bitrate that fits them into one message together when it can, else
    each fitted alone, to be sent one by one (the reply carries the first, buttons the rest)."""
    stems = {
        name: normalize_loudness(fit_length(a.to_stereo(), piece.length_s), target_lufs=settings.target_lufs)
        for name, a in piece.stems.items()
    }
    share = (request.upload_limit_bytes - _UPLOAD_ENVELOPE_BYTES) // max(1, len(stems))
    together = _fit_each(stems, share, request, settings, piece.title)
    alone = together is None
    fitted = together or _fit_each(
        stems,
        request.upload_limit_bytes - _UPLOAD_ENVELOPE_BYTES,
        request,
        settings,
        piece.title,
        allow_shortening=True,
    )
    assert fitted is not None
    paths: list[tuple[str, str]] = []
    for name, mp3 in fitted.items():
        path = out_dir / f"stem-{name}.mp3"
        path.write_bytes(mp3.data)
        paths.append((name, str(path)))
    first = next(iter(fitted.values()))
    notes = list(piece.notes)
    if alone:
        notes.append("The stems don't fit in one message here, so each comes on its own: use the buttons.")
    notes += sorted({m.note for m in fitted.values() if m.note})
    return MusicResult(
        job_id=job_id,
        title=piece.title,
        mp3_path=paths[0][1],
        mp3_filename=mp3_filename(piece.name).removesuffix(".mp3") + f"-{paths[0][0]}.mp3",
        preview_path=None,
        midi_path=None,
        duration_s=first.duration_s,
        bitrate_kbps=first.bitrate_kbps,
        seed=piece.seed if piece.seed is not None else request.seed,
        backend=request.backend,
        tempo_bpm=piece.tempo_bpm,
        key=piece.key,
        time_signature=piece.time_signature,
        tags=tuple(piece.tags),
        summary=tuple(piece.summary),
        notes=tuple(notes),
        render_seconds=time.perf_counter() - started,
        stems=tuple(paths),
        stems_together=not alone,
    )


def _fit_each(
    stems: dict[str, Audio],
    budget: int,
    request: MusicRequest,
    settings: Settings,
    title: str,
    *,
    allow_shortening: bool = False,
) -> dict[str, FittedMp3] | None:
    """Every stem in `budget` bytes unshortened (None when one would be cut), or cut to fit if allowed."""
    bitrates = _bitrates(settings)
    out: dict[str, FittedMp3] = {}
    for name, audio in stems.items():
        tags = {"title": f"{title} ({name})", "artist": "promptjam", "comment": request.prompt}
        try:
            fitted = fit_upload(
                audio,
                budget,
                bitrates=bitrates,
                headroom_bytes=0,
                tags=tags,
                where="this server's" if request.guild_id else "Discord's",
            )
        except UploadTooSmallError:
            if not allow_shortening:
                return None
            raise UserError("The upload limit here is too small for even a second of audio.") from None
        if fitted.shortened and not allow_shortening:
            return None
        out[name] = fitted
    return out


def fit_mp3_and_picture(
    audio: Audio,
    request: MusicRequest,
    settings: Settings,
    title: str,
    picture: bytes | None,
    *,
    other_bytes: int = 0,
) -> tuple[FittedMp3, bytes | None]:
    """The MP3 that fits the upload limit, and the picture when both fit: the music matters more,
    so when keeping the picture would shorten the music, the picture is dropped instead."""
    tags = {"title": title, "artist": "promptjam", "comment": request.prompt}
    bitrates = _bitrates(settings)

    def attempt(extra: int) -> FittedMp3 | None:
        try:
            return fit_upload(
                audio,
                request.upload_limit_bytes,
                bitrates=bitrates,
                other_bytes=extra + other_bytes + _UPLOAD_ENVELOPE_BYTES,
                headroom_bytes=0,
                tags=tags,
                where="this server's" if request.guild_id else "Discord's",
            )
        except UploadTooSmallError:
            return None

    fitted = attempt(len(picture)) if picture else None
    if fitted is None or fitted.shortened:
        bare = attempt(0)
        if bare is not None and (fitted is None or bare.duration_s > fitted.duration_s + 0.5):
            fitted, picture = bare, None
    if fitted is None:
        raise UserError("The upload limit here is too small for even a second of audio.")
    return fitted, picture


def _bitrates(settings: Settings) -> tuple[int, ...]:
    """The bitrates an MP3 may be fitted at: the usual ladder up to MP3_BITRATE_KBPS (that one alone when
    it is off the ladder's lower end)."""
    ladder = tuple(b for b in (320, 256, 192, 160, 128, 96, 64, 48, 32) if b <= settings.mp3_bitrate_kbps)
    return ladder or (settings.mp3_bitrate_kbps,)


def mp3_filename(prompt: str, *, max_len: int = 48) -> str:
    """A safe, readable file name from the prompt: 'rainy lo-fi piano' → 'rainy-lo-fi-piano.mp3'."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    slug = slug[:max_len].rstrip("-")
    return f"{slug or 'promptjam'}.mp3"
