"""A picture becomes music, inside a worker: load it safely, then describe, sonify or img2img.

The cog saved the attachment under the job's input folder; this module reads it
back (never trusting its name), and returns a Generation like any backend, with
the input picture beside the result's spectrogram as the preview.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from services.backends.base import BackendUnavailable, Generation, GenerationRequest, ProgressFn
from services.backends.registry import backend_status, get_backend
from services.errors import UserError
from services.images.describe import describe_image, vision_config
from services.images.loading import LoadedImage, load_image
from services.images.preview import image_preview
from services.images.sonify import sonify
from services.jobs.models import MusicRequest
from services.settings import Settings


def load_input_image(request: MusicRequest, settings: Settings) -> LoadedImage:
    if not request.input_path:
        raise UserError("There is no picture attached to this request.")
    data = Path(request.input_path).read_bytes()
    return load_image(
        data,
        max_bytes=settings.image_max_bytes,
        max_pixels=settings.image_max_pixels,
        name=request.input_name,
    )


def generate_from_image(
    request: MusicRequest, generation_request: GenerationRequest, settings: Settings, progress: ProgressFn
) -> Generation:
    """Blocking: the picture in `request.input_path` made into music by `request.image_mode`."""
    progress("looking at the picture", 0, 1)
    loaded = load_input_image(request, settings)
    picture = loaded.image
    mode = request.image_mode or "describe"
    if mode == "sonify":
        generation = _sonify(request, loaded, settings)
    elif mode == "img2img":
        generation = _img2img(request, generation_request, loaded, settings, progress)
    else:
        generation = _describe(request, generation_request, loaded, settings, progress)
    generation.notes = list(loaded.notes) + list(generation.notes)
    generation.preview_png = image_preview(picture, generation.audio, title=generation.title)
    return generation


def _describe(
    request: MusicRequest,
    generation_request: GenerationRequest,
    loaded: LoadedImage,
    settings: Settings,
    progress: ProgressFn,
) -> Generation:
    config = vision_config(settings) if settings.vision_enabled else None
    if config is not None and not config.configured:
        config = None
    description = describe_image(loaded.image, config=config, user_prompt=request.prompt or None)
    backend = get_backend(request.backend, settings)
    generation = backend.generate(replace(generation_request, prompt=description.prompt), progress)
    generation.summary = [
        *description.summary,
        f"prompt made from it: {description.prompt}",
        *generation.summary,
    ]
    generation.notes = [*description.notes, *generation.notes]
    if not request.prompt:
        generation.title = f"Picture: {description.caption[:60]}" if description.caption else generation.title
    return generation


def _sonify(request: MusicRequest, loaded: LoadedImage, settings: Settings) -> Generation:
    limit = settings.image_sonify_max_seconds
    if request.duration_s:
        limit = min(limit, request.duration_s)
    audio = sonify(loaded.image, max_seconds=limit)
    width, height = loaded.original_size
    return Generation(
        audio=audio,
        title=f"Picture heard as sound ({width}×{height})",
        duration_s=audio.duration,
        summary=[
            "sonify: the picture itself read as a spectrogram",
            "height is pitch (bottom low, top high), brightness is loudness, left to right is time",
            f"length {audio.duration:.1f} s from the picture's width",
        ],
    )


def _img2img(
    request: MusicRequest,
    generation_request: GenerationRequest,
    loaded: LoadedImage,
    settings: Settings,
    progress: ProgressFn,
) -> Generation:
    status = backend_status("riffusion", settings)
    if not status.available:
        raise BackendUnavailable(f"img2img needs the riffusion backend, which can't run: {status.reason}")
    backend = get_backend("riffusion", settings)
    from_image = getattr(backend, "generate_from_image", None)
    if from_image is None:
        raise BackendUnavailable("img2img needs the riffusion backend, which can't run here")
    generation: Generation = from_image(generation_request, loaded.image, progress)
    return generation
