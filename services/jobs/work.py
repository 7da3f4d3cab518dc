"""What a worker does with one job: generate, finish the audio, write the files.

This runs in a worker thread or process, never on the event loop. Everything
heavy for a job happens here — generation, loudness, MP3 encoding, the preview —
so the bot's loop only ever moves small messages and file paths.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from services.audio.edit import fit_length
from services.audio.fit import FittedMp3, UploadTooSmallError, fit_upload
from services.audio.loudness import normalize_loudness
from services.audio.preview import render_preview
from services.audio.types import Audio
from services.backends.base import Generation, GenerationRequest, ProgressFn
from services.backends.registry import get_backend
from services.errors import UserError
from services.jobs.models import MusicRequest, MusicResult
from services.settings import Settings

# Bytes kept free in an upload for the embed, the JSON envelope and multipart framing.
_UPLOAD_ENVELOPE_BYTES = 64 * 1024


def run_job(
    job_id: str,
    request: MusicRequest,
    settings: Settings,
    progress: ProgressFn,
) -> MusicResult:
    """Generate the music for `request` and write MP3, preview PNG and MIDI under the results folder."""
    if request.jam is not None:  # jam addition: a prompt jam renders segment by segment
        from services.jams.render import render_jam

        return render_jam(job_id, request, settings, progress)
    started = time.perf_counter()
    generation_request = GenerationRequest(
        prompt=request.prompt,
        duration_s=request.duration_s,
        seed=request.seed,
        bpm=request.bpm,
        key=request.key,
        default_duration_s=float(settings.default_duration_s),
        max_duration_s=float(settings.max_duration_s),
        instruments=request.instruments,
        continue_from=request.continue_from,
    )
    if request.input_kind == "image":
        from services.images.job import generate_from_image

        generation = generate_from_image(request, generation_request, settings, progress)
    elif request.input_kind == "audio":
        generation = _generate_from_audio(request, generation_request, settings, progress)
    else:
        generation = get_backend(request.backend, settings).generate(generation_request, progress)

    progress("mastering", 0, 2)
    audio = fit_length(generation.audio.to_stereo(), generation.duration_s)
    audio = normalize_loudness(audio, target_lufs=settings.target_lufs)

    out_dir = settings.results_dir / job_id
    out_dir.mkdir(parents=True, exist_ok=True)

    midi_path: Path | None = None
    if generation.midi is not None:
        midi_path = out_dir / "score.mid"
        midi_path.write_bytes(generation.midi)

    progress("encoding MP3", 1, 2)
    preview: bytes | None = generation.preview_png or render_preview(audio, title=generation.title)
    attachment_paths = []
    for name, data in generation.attachments.items():
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60] or "file"
        path = out_dir / f"attach-{safe}"
        path.write_bytes(data)
        attachment_paths.append(str(path))
    midi_bytes = len(generation.midi) if generation.midi else 0
    midi_bytes += sum(len(data) for data in generation.attachments.values())
    fitted, preview = fit_mp3_and_picture(
        audio, request, settings, generation.title, preview, other_bytes=midi_bytes
    )
    mp3_path = out_dir / "audio.mp3"
    mp3_path.write_bytes(fitted.data)
    preview_path: Path | None = None
    if preview is not None:
        preview_path = out_dir / "preview.png"
        preview_path.write_bytes(preview)
    progress("encoding MP3", 2, 2)

    notes = list(generation.notes)
    if fitted.note:
        notes.append(fitted.note)
    return MusicResult(
        job_id=job_id,
        title=generation.title,
        mp3_path=str(mp3_path),
        mp3_filename=mp3_filename(request.prompt or f"picture {request.input_name or ''}"),
        preview_path=str(preview_path) if preview_path else None,
        midi_path=str(midi_path) if midi_path else None,
        duration_s=fitted.duration_s,
        bitrate_kbps=fitted.bitrate_kbps,
        seed=request.seed,
        backend=request.backend,
        tempo_bpm=generation.tempo_bpm,
        key=generation.key,
        time_signature=generation.time_signature,
        tags=tuple(generation.tags),
        summary=tuple(generation.summary),
        notes=tuple(notes),
        render_seconds=time.perf_counter() - started,
        attachments=tuple(attachment_paths),
        continue_from=generation.continue_from,
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


def _generate_from_audio(
    request: MusicRequest, generation_request: GenerationRequest, settings: Settings, progress: ProgressFn
) -> Generation:
    """Audio-to-audio: the user's file is riffusion's seed (only riffusion takes audio in)."""
    backend = get_backend(request.backend, settings)
    from_audio = getattr(backend, "generate_from_audio", None)
    if from_audio is None or not request.input_path:
        raise UserError(f"The {request.backend} backend can't start from audio; use backend:riffusion.")
    from services.backends.riffusion.seeds import audio_format

    fmt = audio_format(request.input_name or "")
    data = Path(request.input_path).read_bytes()
    generation: Generation = from_audio(generation_request, data, fmt, progress)
    return generation


def mp3_filename(prompt: str, *, max_len: int = 48) -> str:
    """A safe, readable file name from the prompt: 'rainy lo-fi piano' → 'rainy-lo-fi-piano.mp3'."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    slug = slug[:max_len].rstrip("-")
    return f"{slug or 'promptjam'}.mp3"


def warm_backends(settings: Settings, names: list[str], log: Callable[[str], None] | None = None) -> None:
    """Load models of the given backends in this process (worker start), so first jobs are fast."""
    for name in names:
        try:
            backend = get_backend(name, settings)
        except KeyError:
            continue
        warm = getattr(backend, "warm", None)
        if callable(warm):
            try:
                warm()
            except Exception as exc:  # warming is an optimisation; the job will report the real error
                if log:
                    log(f"warming {name} failed: {exc}")
