"""An image job: a picture becomes music, inside a worker — load it safely, then describe, sonify or img2img.

The attachment was staged under the job's input folder; it is read back here (its name never trusted).
describe: the picture becomes a prompt for any backend that starts from words; sonify: the picture is
heard as a spectrogram (no backend); img2img: a backend whose record has Ability.IMAGE_IN draws from it,
through the DrawsFromImage Protocol. The input picture beside the result's spectrogram is the preview.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from services.backends.abilities import Ability, DrawsFromImage
from services.backends.base import Generation, GenerationRequest, ProgressFn
from services.backends.registry import backends_taking, get_backend, has_ability
from services.errors import UserError
from services.images.describe import describe_image, vision_config
from services.images.loading import LoadedImage, load_image
from services.images.preview import image_preview
from services.images.sonify import sonify
from services.jobs.kinds.piece import Piece, generation_request
from services.jobs.models import MusicRequest
from services.settings import Settings


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    """Blocking: the picture in `request.input_path` made into music by `request.image_mode`."""
    progress("looking at the picture", 0, 1)
    loaded = load_input_image(request, settings)
    mode = request.image_mode or "describe"
    asked = generation_request(request, settings)
    if mode == "sonify":
        generation = _sonify(request, loaded, settings)
    elif mode == "img2img":
        generation = _img2img(request, asked, loaded, settings, progress)
    else:
        generation = _describe(request, asked, loaded, settings, progress)
    generation.notes = list(loaded.notes) + list(generation.notes)
    generation.preview_png = image_preview(loaded.image, generation.audio, title=generation.title)
    return Piece.of(generation, name=request.prompt or f"picture {request.input_name or ''}")


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


def _describe(
    request: MusicRequest,
    asked: GenerationRequest,
    loaded: LoadedImage,
    settings: Settings,
    progress: ProgressFn,
) -> Generation:
    config = vision_config(settings) if settings.vision_enabled else None
    if config is not None and not config.configured:
        config = None
    description = describe_image(loaded.image, config=config, user_prompt=request.prompt or None)
    backend = get_backend(request.backend, settings)
    generation = backend.generate(replace(asked, prompt=description.prompt), progress)
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
    asked: GenerationRequest,
    loaded: LoadedImage,
    settings: Settings,
    progress: ProgressFn,
) -> Generation:
    if not has_ability(request.backend, Ability.IMAGE_IN):  # the policy refuses these at admission
        takers = " or ".join(backends_taking(Ability.IMAGE_IN)) or "a backend that draws from pictures"
        raise UserError(f"img2img draws from your picture with the {takers} backend only.")
    backend = get_backend(request.backend, settings)
    if not isinstance(backend, DrawsFromImage):  # the record promised it: a bug, not the user's doing
        raise TypeError(f"the {request.backend} backend's record says it draws from pictures; it cannot")
    return backend.generate_from_image(asked, loaded.image, progress)
