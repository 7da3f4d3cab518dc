"""The one finishing step every job kind shares: a Piece becomes the files a reply carries.

Fit the length, level the loudness, write the MIDI and extra files, draw the preview when the piece
brought none, then fit MP3 and picture under the upload limit (the music matters more than the picture)
and write them under the job's results folder. It runs in the worker, never on the event loop.
"""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path

from services.audio.edit import fit_length
from services.audio.fit import FittedMp3, UploadTooSmallError, fit_upload
from services.audio.loudness import normalize_loudness
from services.audio.preview import render_preview
from services.audio.types import Audio
from services.backends.base import ProgressFn
from services.errors import UserError
from services.jobs.kinds.piece import Piece
from services.jobs.models import MusicRequest, MusicResult
from services.settings import Settings

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
    if not piece.mastered:
        audio = fit_length(audio, piece.length_s)
        audio = normalize_loudness(audio, target_lufs=settings.target_lufs)

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
    picture = piece.picture or render_preview(audio, title=piece.title)
    others = (len(piece.midi) if piece.midi else 0) + sum(len(d) for d in piece.attachments.values())
    fitted, kept = fit_mp3_and_picture(audio, request, settings, piece.title, picture, other_bytes=others)
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
        seed=request.seed,
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
    )


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
    bitrates = tuple(b for b in (320, 256, 192, 160, 128, 96, 64, 48, 32) if b <= settings.mp3_bitrate_kbps)

    def attempt(extra: int) -> FittedMp3 | None:
        try:
            return fit_upload(
                audio,
                request.upload_limit_bytes,
                bitrates=bitrates or (settings.mp3_bitrate_kbps,),
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


def mp3_filename(prompt: str, *, max_len: int = 48) -> str:
    """A safe, readable file name from the prompt: 'rainy lo-fi piano' → 'rainy-lo-fi-piano.mp3'."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    slug = slug[:max_len].rstrip("-")
    return f"{slug or 'promptjam'}.mp3"
